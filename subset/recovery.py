"""Products that a crash or a lost broker message would otherwise leave behind.

Both ways a product is started are fire-and-forget after a commit: a new product's
task is published in ``on_commit``, and the standing-order hook runs in the
``on_commit`` of a swath's VERIFIED transition (catalog.signals.swath_verified). A
process that dies between the commit and those callbacks, or a broker that loses its
queue (RELIABILITY C5, C6), would leave a product QUEUED for ever, or a standing order
without the product it is owed. Reconcile calls :func:`recover_products` to find both
in the database and start them again (subset.dispatch: the broker, the web process's
worker thread, or inline in a command); a product can be sent twice safely, since only
the worker whose ``claim`` moves it out of QUEUED cuts it. The embedded default's
worker thread runs this itself when idle, so it needs no periodic reconcile.

A FAILED product with automatic attempts left (settings.SUBSET_MAX_ATTEMPTS since a
person last asked) is sent again once its failure is older than the grace; one without
is reported GIVE-UP once and stays FAILED until a person retries it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from catalog.models import Product, Region, Swath, SwathState
from subset.products import running_lease
from subset.services import (
    active_orders,
    create_order_products,
    enqueue,
    max_attempts,
    retry_product,
)

# Swaths verified this recently are checked for missed standing orders. Reconcile runs
# every RECONCILE_EVERY_S (15 min by default), so two days covers a long outage without
# rescanning the whole catalog each time.
ORDER_LOOKBACK = timedelta(days=2)
log = logging.getLogger(__name__)


def recover_products(lines: list[str], *, apply: bool, grace: timedelta) -> None:
    """Append a line per finding to ``lines``; with ``apply``, start what was lost.

    ``grace``: a QUEUED product younger than this is left to the queue it is in.
    """
    _missed_orders(lines, apply)
    _lost_products(lines, apply, grace)
    # After the lost ones: a product sent again here is QUEUED with its old created_at,
    # and must not be sent twice in one sweep.
    _failed_products(lines, apply, grace)


def _missed_orders(lines: list[str], apply: bool) -> None:
    if not Region.objects.filter(order_active=True).exists():
        return
    owed = active_orders(OuterRef("footprint"), OuterRef("collection_id")).exclude(
        Exists(Product.objects.filter(swath=OuterRef(OuterRef("pk")), region=OuterRef("pk"))))
    missed = Swath.objects.filter(
        Exists(owed), state=SwathState.VERIFIED, footprint__isnull=False,
        verified_at__gte=timezone.now() - ORDER_LOOKBACK,
    )
    since = timezone.now()
    for swath_id, uuid in missed.values_list("pk", "uuid"):
        if not apply:
            lines.append(f"ORDER swath {uuid}: a standing order has no product for it")
            continue
        made = create_order_products(swath_id)
        lines.append(f"ORDER swath {uuid}: {len(made)} standing-order product(s) created")
    # An order whose region the kernel refuses is stopped with its reason by the first
    # swath that finds it (subset.services.order_problem), and active_orders leaves it
    # out from then on: said here once, not at every sweep.
    for slug, problem in Region.objects.filter(order_problem_at__gte=since).values_list(
            "slug", "order_problem"):
        lines.append(f"ORDER {slug}: stopped, its region cannot be cut: {problem}")


def _lost_products(lines: list[str], apply: bool, grace: timedelta) -> None:
    now = timezone.now()
    # QUEUED past the grace, or RUNNING past the lease of a worker that died.
    lost = Product.objects.filter(
        Q(state=Product.State.QUEUED, created_at__lt=now - grace)
        | Q(state=Product.State.RUNNING, started_at__lt=now - running_lease()))
    limit = max_attempts()
    for pk, state, attempts, base in lost.values_list("pk", "state", "attempts",
                                                      "attempts_base"):
        if attempts >= base + limit:
            # No worker may claim it any more (transient errors every time, or a worker
            # that died every time): fail it with the reason instead of leaving it waiting.
            lines.append(f"GIVE-UP product {pk} ({state}) after {attempts} attempts")
            if apply:
                Product.objects.filter(pk=pk, state=state).update(
                    state=Product.State.FAILED, finished_at=now, given_up=True,
                    error=f"gave up after {attempts} attempts (transient store errors, or "
                          "a worker that died each time; see the worker logs)")
            continue
        lines.append(f"REQUEUE product {pk} ({state})")
        if apply:
            enqueue(pk)


def _failed_products(lines: list[str], apply: bool, grace: timedelta) -> None:
    """FAILED products with automatic attempts left are cut again (a store that was down,
    an object since restored); one without is given up, once, loudly.

    A failure younger than ``grace`` waits, so a short outage does not use up every
    attempt in a few sweeps of the web process's worker.
    """
    now = timezone.now()
    failed = Product.objects.filter(state=Product.State.FAILED, given_up=False)
    limit = max_attempts()
    for pk, attempts, base, finished_at, error in failed.values_list(
            "pk", "attempts", "attempts_base", "finished_at", "error"):
        if attempts >= base + limit:
            lines.append(f"GIVE-UP product {pk} (FAILED) after {attempts} attempts: {error}")
            if apply and Product.objects.filter(
                    pk=pk, state=Product.State.FAILED, given_up=False).update(given_up=True):
                log.error("product %s: gave up after %s attempts (a person may retry it): %s",
                          pk, attempts, error)
            continue
        if finished_at is not None and finished_at >= now - grace:
            continue
        lines.append(f"REQUEUE product {pk} (FAILED, attempt {attempts} of "
                     f"{base + limit}): {error}")
        if apply:
            # on_commit: at once outside a transaction (reconcile, the worker's sweep).
            retry_product(pk, person=False)

"""A swath's copies: which to read first, and recording one that turned out bad.

Readers (API downloads, subset cuts, batch plans) take the VERIFIED copies in this order
and fall back to the next when one is missing or fails its hash; the copy that failed is
marked MISSING or CORRUPT with the reason, so the next heal (ops.heal) rebuilds it.
"""

from __future__ import annotations

import logging

from django.db.models import QuerySet
from django.utils import timezone

from catalog.models import StoredObject, Swath

log = logging.getLogger(__name__)
BAD_STATES = (StoredObject.State.MISSING, StoredObject.State.CORRUPT)


def read_order(copy: StoredObject, preferred: str = "primary") -> tuple[bool, str, int]:
    """Sort key: the preferred store first, then the others by name, then the oldest row."""
    return (copy.store != preferred, copy.store, copy.pk or 0)


def verified_copies(swath_id: int, preferred: str = "primary") -> list[StoredObject]:
    """Return the swath's VERIFIED copies in reading order (``preferred`` store first)."""
    rows: QuerySet[StoredObject] = StoredObject.objects.filter(
        swath_id=swath_id, state=StoredObject.State.VERIFIED)
    return sorted(rows, key=lambda c: read_order(c, preferred))


def verified_copy_in(swath: Swath, store_name: str) -> StoredObject | None:
    """The swath's VERIFIED copy in one store (the oldest, should there be several)."""
    return (StoredObject.objects.filter(swath=swath, store=store_name,
                                        state=StoredObject.State.VERIFIED)
            .order_by("pk").first())


def mark_bad(copy_id: int, state: str, why: str, *, only_from: tuple[str, ...] = (
        StoredObject.State.VERIFIED, StoredObject.State.STORED)) -> bool:
    """Mark a copy MISSING or CORRUPT with why and when; True if the row changed.

    Conditional on its current state (``only_from``): a row already marked keeps its first
    reason. A mark made on a stale reading only costs one more rebuild, and a rebuild
    re-verifies, so no copy is ever counted good without a hash match.
    """
    if state not in BAD_STATES:
        raise ValueError(f"a bad copy is MISSING or CORRUPT, not {state!r}")
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%SZ")
    changed = StoredObject.objects.filter(pk=copy_id, state__in=only_from).update(
        state=state, problem=f"{stamp} {why}"[:2000])
    if changed:
        log.warning("copy %s is now %s: %s", copy_id, state, why)
    return bool(changed)

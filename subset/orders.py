"""Standing regional orders: create, list, cancel, resume and backfill, for the API and
`manage.py order`.

An order is a Region with ``order_active``: every swath VERIFIED over it later gets a
product (subset.services.create_order_products, on the swath_verified signal). A backfill
gives the swaths archived before the order theirs, by the same rule (which orders a swath
owes products: subset.services.active_orders) and the same product identity (the spec of
subset.services.order_spec, hashed by params_hash), so a product the signal made is never
made twice, and a backfill run again makes nothing new. It writes rows only, in batches;
cutting is the workers'.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from catalog.models import Collection, Product, Region, Swath
from eo.errors import InputError
from subset.dispatch import uses_broker
from subset.errors import SubsetError
from subset.region import Region as KernelRegion
from subset.services import (
    active_orders,
    enqueue,
    geos,
    order_problem,
    order_spec,
    params_hash,
)

# Every product of an order records its region (as WKT, in params), and every new swath
# is tested against every active order: the region stays small enough for both. 1,000
# vertices draw a country's coast in detail. 20 million km2 (4 % of the Earth) takes a
# box around the contiguous USA (14 million) or Europe (10 million); an order over more
# would copy most of each swath it is given rather than cut a region out of it.
ORDER_MAX_VERTICES = 1_000
ORDER_MAX_AREA_KM2 = 20_000_000
BACKFILL_BATCH = 2_000
AUTHALIC_RADIUS_KM = 6371.0072  # of the WGS84 ellipsoid: the sphere of the same area


class OrderError(SubsetError):
    """An order that cannot be made, changed or backfilled as asked; names the field."""


@dataclass
class BackfillResult:
    """What a backfill did: products made, swaths that already had theirs, seconds."""

    created: int
    existing: int
    sent: int  # products handed to the broker's workers now (0 without a broker)
    seconds: float


def area_km2(region: KernelRegion) -> float:
    """The region's area in km2, its edges straight in lon/lat as the kernel cuts them.

    Measured on the authalic sphere in Lambert's cylindrical equal-area coordinates
    (lon, sin lat), the edges densified to 0.5 degree so that a slanted one follows its
    lon/lat line (a geodesic area would take the edge of a box along the pole for a point).
    """
    dense = shapely.segmentize(region.geometry, 0.5)
    flat = shapely.transform(dense, lambda c: np.column_stack(
        [np.radians(c[:, 0]), np.sin(np.radians(c[:, 1]))]))
    return float(flat.area) * AUTHALIC_RADIUS_KM ** 2


def vertex_count(region: KernelRegion) -> int:
    """The vertices of the region's rings (after the cut at the antimeridian)."""
    return sum(len(p.exterior.coords) + sum(len(r.coords) for r in p.interiors)
               for p in region.geometry.geoms)


def check_order_region(region: KernelRegion, name: str = "geometry") -> None:
    """Raise OrderError, naming ``name``, for a region over the vertex or area limit."""
    vertices = vertex_count(region)
    if vertices > ORDER_MAX_VERTICES:
        raise OrderError(f"{name}: {vertices} vertices, an order's region may have at most "
                         f"{ORDER_MAX_VERTICES}: simplify it")
    area = area_km2(region)
    if area > ORDER_MAX_AREA_KM2:
        raise OrderError(f"{name}: {area:,.0f} km2, an order's region may cover at most "
                         f"{ORDER_MAX_AREA_KM2:,} km2: split it into smaller orders")


def orders_visible_to(user: Any) -> QuerySet[Region]:
    """Regions a user may see: the shared ones (no owner), their own orders; all for staff."""
    rows = Region.objects.select_related("order_owner").prefetch_related("order_collections")
    if user is not None and getattr(user, "is_staff", False):
        return rows
    if user is None or not getattr(user, "is_authenticated", False):
        return rows.filter(order_owner__isnull=True)
    return rows.filter(Q(order_owner__isnull=True) | Q(order_owner_id=user.pk))


def region_visible(slug: str, user: Any) -> bool:
    """Return True if ``user`` may name the region ``slug`` (``region=`` of a search or a
    subset): a shared region, their own order; any for staff. Another user's order is as
    unknown as a slug no region has."""
    return orders_visible_to(user).filter(slug=slug).exists()


def create_order(*, slug: str, name: str, region: KernelRegion, owner_id: int | None,
                 description: str = "", collections: Sequence[str] = (),
                 variables: Sequence[str] = (), field: str = "geometry") -> Region:
    """Create an active standing order; raises OrderError (naming the field) for a region
    over the limits, a slug already taken or an unknown collection."""
    check_order_region(region, field)
    rows = list(Collection.objects.filter(slug__in=set(collections)))
    unknown = sorted(set(collections) - {c.slug for c in rows})
    if unknown:
        raise OrderError(f"collections: no collection {', '.join(map(repr, unknown))}")
    with transaction.atomic():
        if Region.objects.filter(slug=slug).exists():
            raise OrderError(f"slug: a region named {slug!r} exists already: choose another")
        order = Region.objects.create(
            slug=slug, name=name or slug, description=description, geometry=geos(region),
            order_active=True, order_variables=sorted(set(variables)), order_owner_id=owner_id)
        order.order_collections.set(rows)
    return order


def cancel_order(region_id: int, *, delete: bool = False) -> int:
    """Stop an order and drop its products not yet started; return how many were dropped.

    Products already cut or being cut stay their owner's. ``delete`` removes the region
    too (its products keep their parameters, with no region).
    """
    with transaction.atomic():
        Region.objects.filter(pk=region_id).update(order_active=False)
        # attempts=0: never claimed by a worker; a claim racing this delete wins or loses
        # on the row, so no cut runs for a product that is gone.
        dropped, _ = Product.objects.filter(region_id=region_id, state=Product.State.QUEUED,
                                            attempts=0).delete()
        if delete:
            Region.objects.filter(pk=region_id).delete()
    return dropped


def resume_order(region_id: int) -> datetime | None:
    """Start again an order stopped because its region could not be cut; return when it
    stopped (None: it was not stopped, and nothing changed).

    The region is checked as the next swath would check it (the spec of its products);
    if it still cannot be cut, OrderError gives the reason and the order stays stopped.
    Raises Region.DoesNotExist, or OrderError for a cancelled order. The swaths verified
    while it was stopped are not given products here: a backfill gives them theirs.
    """
    order = Region.objects.get(pk=region_id)
    if not order.order_active:
        raise OrderError(f"order {order.slug} is cancelled (or {order.slug} is a region "
                         "with no order): place a new order")
    if not order.order_problem:
        return None
    try:
        order_spec(order)
    except (InputError, SubsetError) as e:
        raise OrderError(f"order {order.slug} still cannot be cut: {e}") from e
    stopped = order.order_problem_at
    # The next swath verified over it (subset.services.active_orders) gets its product.
    Region.objects.filter(pk=order.pk).update(order_problem="", order_problem_at=None)
    return stopped or order.created_at


def order_swaths(order: Region, start: datetime | None, end: datetime | None
                 ) -> QuerySet[Swath]:
    """VERIFIED swaths in [start, end] (None: open) the order owes a product."""
    rule = active_orders(OuterRef("footprint"), OuterRef("collection_id")).filter(pk=order.pk)
    return (Swath.objects.verified().between(start, end)
            # The footprint test again outside: it lets the GiST index pick the candidates.
            .filter(footprint__intersects=order.geometry)
            .filter(Exists(rule)))


def backfill_order(region_id: int, start: datetime | None = None, end: datetime | None = None,
                   *, batch: int = BACKFILL_BATCH) -> BackfillResult:
    """Make the order's products for swaths archived in [start, end] (None: open).

    Raises Region.DoesNotExist, or OrderError for a cancelled order or one whose region
    cannot be cut (recorded as the order's problem). The products are QUEUED; with a
    broker they are sent to its workers, otherwise the web process's worker (or
    ``reconcile --apply``) picks them up as it does any product left QUEUED.
    """
    t0 = time.monotonic()
    order = Region.objects.get(pk=region_id)
    if not order.order_active:
        raise OrderError(f"order {order.slug} is cancelled: nothing to backfill")
    if order.order_problem:
        raise OrderError(f"order {order.slug} cannot be cut: {order.order_problem}")
    try:
        spec = order_spec(order)
    except (InputError, SubsetError) as e:
        order_problem(order.pk, order.slug, str(e))
        raise OrderError(f"order {order.slug} cannot be cut: {e}") from e
    geometry = geos(spec.region)
    variables = sorted(set(spec.variables))
    send = uses_broker()
    created = existing = sent = 0
    # One query, streamed (a server-side cursor on PostgreSQL); each batch is written in
    # its own transaction as it comes. Asking which of a batch's swaths have a product
    # already, once per batch, keeps PostgreSQL from planning a probe per swath.
    rows = order_swaths(order, start, end).order_by("pk").values_list("pk", "uuid", "sha256")
    for chunk in _chunks(rows.iterator(chunk_size=batch), batch):
        had = set(Product.objects.filter(region_id=order.pk, swath_id__in=[c[0] for c in chunk])
                  .values_list("swath_id", flat=True))
        existing += len(had)
        todo = [c for c in chunk if c[0] not in had]
        if not todo:
            continue
        made, ids = _make_products(order, spec, geometry, variables, todo)
        created += made
        existing += len(todo) - made  # a product of the same identity without the region
        if send:
            for pk in ids:
                enqueue(pk)
            sent += len(ids)
    return BackfillResult(created, existing, sent, time.monotonic() - t0)


def _make_products(order: Region, spec: Any, geometry: Any, variables: list[str],
                   chunk: list[tuple[int, Any, str]]) -> tuple[int, list[int]]:
    """One batch, one transaction: (products made, ids of the new QUEUED ones)."""
    wanted = {}
    for pk, uuid, sha256 in chunk:
        params = spec.params(_SwathKey(uuid, sha256))
        wanted[params_hash(params, order.order_owner_id)] = (pk, params)
    with transaction.atomic():
        have = set(Product.objects.filter(params_hash__in=list(wanted))
                   .values_list("params_hash", flat=True))
        new = [Product(swath_id=pk, region_id=order.pk, geometry=geometry,
                       variables=variables, params=params, params_hash=digest,
                       owner_id=order.order_owner_id, state=Product.State.QUEUED)
               for digest, (pk, params) in wanted.items() if digest not in have]
        # ignore_conflicts: a swath verified during the backfill may get its product
        # from the signal at the same moment; the unique params_hash keeps one.
        Product.objects.bulk_create(new, ignore_conflicts=True)
        ids = list(Product.objects.filter(params_hash__in=[p.params_hash for p in new],
                                          state=Product.State.QUEUED, attempts=0)
                   .values_list("pk", flat=True))
    return len(new), ids


@dataclass(frozen=True)
class _SwathKey:
    """What SubsetSpec.params reads of a swath, without loading the row."""

    uuid: Any
    sha256: str


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

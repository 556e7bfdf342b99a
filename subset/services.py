"""Subset jobs: one Product per (swath, region, variables, time window, owner), cut by a task.

submit_subset() validates and creates QUEUED products (the same parameters twice by the
same owner give the same product, by ``params_hash``; a FAILED one is cut again) and
hands them to subset.dispatch after commit (a broker's workers, or the web process's own
worker: never the request); the worker cuts each with subset.products.run_product().
No transaction is open while bytes move (STYLE 7).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

import archive.config
from archive.errors import ArchiveError, ChecksumMismatch, ObjectNotFound, TransientArchiveError
from archive.ranged import hdf5_by_ranges
from archive.stores import Store
from catalog.copies import mark_bad, verified_copies
from catalog.models import Product, Region, StoredObject, Swath, SwathState
from eo.errors import InputError
from subset import kernel
from subset.errors import (
    NoDataInRegion,
    SourceGone,
    SubsetError,
    SubsetTooLarge,
    SubsetTotalTooLarge,
)
from subset.indexgeo import load_geo_bounds, store_by_name
from subset.region import Region as KernelRegion
from subset.region import parse_geometry

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 2 * 10**9
DEFAULT_MAX_TOTAL_BYTES = 10 * 10**9
DEFAULT_MAX_SWATHS = 100
DEFAULT_MAX_ATTEMPTS = 3  # settings.SUBSET_MAX_ATTEMPTS
MAX_FAILURES_KEPT = 20  # a product's failure history (Product.failures)
PARAMS_VERSION = 1
# Sends a product id to a worker: subset.apps sets it to subset.tasks.cut_subset.delay,
# so that the task module imports this one and not the reverse (no import cycle).
sender: Callable[[int], object] | None = None


def max_bytes() -> int:
    """Return the largest subset allowed (settings.SUBSET_MAX_BYTES, default 2 GB)."""
    return int(getattr(settings, "SUBSET_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_attempts() -> int:
    """Return a product's automatic attempts (settings.SUBSET_MAX_ATTEMPTS, default 3)."""
    return int(getattr(settings, "SUBSET_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def max_total_bytes() -> int:
    """Return the largest sum of estimates one request may ask for (SUBSET_MAX_TOTAL_BYTES)."""
    return int(getattr(settings, "SUBSET_MAX_TOTAL_BYTES", DEFAULT_MAX_TOTAL_BYTES))


@dataclass
class SubsetSpec:
    """What to cut: a region (with its slug, if named), variables, time window, options."""

    region: KernelRegion
    region_slug: str | None = None
    variables: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    fill_outside: bool = False

    def params(self, swath: Swath) -> dict[str, Any]:
        """Return the canonical parameters of this spec applied to a swath."""
        return {
            "v": PARAMS_VERSION,
            "swath": str(swath.uuid),
            "swath_sha256": swath.sha256,
            "region": self.region.label,
            "region_slug": self.region_slug,
            "variables": sorted(set(self.variables)),
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "fill_outside": self.fill_outside,
        }


def params_hash(params: dict[str, Any], owner_id: int | None = None) -> str:
    """Return the SHA-256 of canonical JSON parameters and owner (the product's identity).

    Products are private, so two users asking the same get two products; an owner-less
    product (a standing order without an owner, an HPC registration) hashes its
    parameters alone.
    """
    keyed = params if owner_id is None else {**params, "owner": owner_id}
    text = json.dumps(keyed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def region_spec(slug: str) -> tuple[KernelRegion, str]:
    """Return the kernel region of a named Region; Region.DoesNotExist if unknown."""
    row = Region.objects.get(slug=slug)
    return parse_geometry(row.geometry.wkt), row.slug


def geos(region: KernelRegion) -> MultiPolygon:
    """Return the region as a GEOS MultiPolygon (SRID 4326)."""
    geom = GEOSGeometry(region.geometry.wkb_hex, srid=4326)
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon(geom, srid=4326)


def estimate_bytes(swath: Swath, spec: SubsetSpec) -> int:
    """Return a rough size of the subset from the catalog alone (footprint overlap, variables)."""
    size = swath.size or 0
    if swath.footprint is not None and swath.footprint.area > 0:
        overlap = swath.footprint.intersection(geos(spec.region)).area / swath.footprint.area
        size = int(size * min(1.0, overlap))
    described = (swath.attrs or {}).get("variables") or {}
    if spec.variables and described:
        def nbytes(meta: dict[str, Any]) -> int:
            shape = meta.get("shape") or []
            n = 1
            for s in shape:
                n *= int(s or 0)
            return n

        total = sum(nbytes(m) for m in described.values()) or 1
        picked = sum(nbytes(m) for p, m in described.items()
                     if p in spec.variables or p.rsplit("/", 1)[-1] in spec.variables)
        size = int(size * min(1.0, picked / total))
    return size


def check_swath(swath: Swath, variables: Sequence[str]) -> None:
    """Raise SubsetError if the swath is not VERIFIED, or if the catalog lists its
    variables and one is missing: what a request is refused for (submit_subset, and
    subset.costs.estimate_request by the same rule)."""
    if swath.state != SwathState.VERIFIED:
        raise SubsetError(f"swath {swath.uuid} is {swath.state}, not VERIFIED: "
                          "only verified swaths can be subset")
    described = (swath.attrs or {}).get("variables") or {}
    if not described or not variables:
        return
    names = set(described) | {p.rsplit("/", 1)[-1] for p in described}
    missing = [v for v in variables if v not in names and "/" + v.lstrip("/") not in names]
    if missing:
        raise SubsetError(f"swath {swath.uuid} has no variable {', '.join(missing)}")


def submit_subset(spec: SubsetSpec, *, swath_uuid: str | None = None,
                  search: dict[str, Any] | None = None, owner_id: int | None = None,
                  region_id: int | None = None) -> list[tuple[Product, bool]]:
    """Create (or find) one QUEUED product per swath and enqueue new ones after commit.

    Raises SubsetError for a swath that is not VERIFIED, an unknown variable, a search
    matching nothing or too much, a subset over the size limit, or a request whose
    estimates add up to more than the total limit; every swath is checked before any
    product is made, so a refused request leaves nothing behind.
    """
    swaths = request_swaths(spec, swath_uuid, search)
    for swath in swaths:
        check_swath(swath, spec.variables)
    refusal = size_refusal(swaths, spec)
    if refusal is not None:
        raise refusal
    # One commit for all (a short transaction: rows only); the cuts start after it.
    with transaction.atomic():
        # The same request again after a failure is a person asking for a new attempt.
        return [create_product(swath, spec, owner_id=owner_id, region_id=region_id,
                               retry_failed=True) for swath in swaths]


def size_refusal(swaths: Sequence[Swath], spec: SubsetSpec) -> SubsetTooLarge | None:
    """Return why the size limits refuse a request for these swaths, or None.

    The catalog's estimates (estimate_bytes), one product against SUBSET_MAX_MB and their
    sum against SUBSET_MAX_TOTAL_MB: what submit_subset refuses, and what an estimate
    reports it would refuse.
    """
    total = 0
    for swath in swaths:
        estimate = estimate_bytes(swath, spec)
        if estimate > max_bytes():
            return SubsetTooLarge(estimate, max_bytes())
        total += estimate
    if total > max_total_bytes():
        return SubsetTotalTooLarge(total, max_total_bytes(), len(swaths))
    return None


def request_swaths(spec: SubsetSpec, swath_uuid: str | None,
                   search: dict[str, Any] | None) -> list[Swath]:
    """Return the swaths a request names: the one swath, or those its search matches.

    Raises Swath.DoesNotExist, or NoDataInRegion for a search matching nothing.
    """
    if swath_uuid is not None:
        return [Swath.objects.select_related("collection").get(uuid=swath_uuid)]
    swaths = list(search_swaths(spec, search or {}))
    if not swaths:
        raise NoDataInRegion("no VERIFIED swath matches the search")
    return swaths


def search_swaths(spec: SubsetSpec, search: dict[str, Any]) -> list[Swath]:
    """Return VERIFIED swaths over the search area (default: the subset region) and times."""
    qs = Swath.objects.verified().select_related("collection")
    area = search.get("region")
    qs = qs.intersecting(geos(area) if isinstance(area, KernelRegion) else geos(spec.region))
    start, end = search.get("start"), search.get("end")
    if start or end:
        qs = qs.between(start, end)
    collections = search.get("collections") or []
    if collections:
        qs = qs.filter(collection__slug__in=collections)
    limit = int(getattr(settings, "SUBSET_MAX_SWATHS", DEFAULT_MAX_SWATHS))
    rows = list(qs.order_by("-start_time", "-id")[: limit + 1])
    if len(rows) > limit:
        raise SubsetError(f"the search matches more than {limit} swaths: narrow it down")
    return rows


def create_product(swath: Swath, spec: SubsetSpec, *, owner_id: int | None = None,
                   region_id: int | None = None, retry_failed: bool = False
                   ) -> tuple[Product, bool]:
    """Return (product, queued); a product new or sent again is enqueued after commit.

    ``retry_failed`` (a person asking again): an existing FAILED product is cut again,
    as by ``retry_product(person=True)``; other existing products are returned as they are.
    """
    params = spec.params(swath)
    digest = params_hash(params, owner_id)
    existing = Product.objects.filter(params_hash=digest).first()
    if existing is not None:
        if retry_failed and existing.state == Product.State.FAILED and retry_product(
                existing.pk, person=True):
            existing.refresh_from_db()
            return existing, True
        return existing, False
    try:
        with transaction.atomic():
            product = Product.objects.create(
                swath=swath, region_id=region_id, geometry=geos(spec.region),
                variables=sorted(set(spec.variables)), params=params, params_hash=digest,
                owner_id=owner_id, state=Product.State.QUEUED,
            )
            pk = product.pk
            transaction.on_commit(lambda: enqueue(pk))
    except IntegrityError:
        return Product.objects.get(params_hash=digest), False
    return product, True


def retry_product(product_id: int, *, person: bool) -> bool:
    """FAILED -> QUEUED, its failure kept in ``failures``; True if this call moved it.

    ``person``: a person asked (the retry endpoint, the same request again): the product
    gets max_attempts() automatic attempts from now on, however many it used. Otherwise
    (reconcile) only a product with automatic attempts left is sent again. The cut is
    enqueued once the transaction commits. The update is conditional on the row as it
    was read, so two callers racing send it once; no lock is held.
    """
    row = Product.objects.filter(pk=product_id, state=Product.State.FAILED).values(
        "attempts", "attempts_base", "error", "finished_at", "failures").first()
    if row is None:
        return False
    if not person and row["attempts"] >= row["attempts_base"] + max_attempts():
        return False
    failure = {"attempt": row["attempts"], "error": row["error"],
               "at": row["finished_at"].isoformat() if row["finished_at"] else None}
    # Bounded: a product retried by hand for ever keeps its latest failures.
    history = [*list(row["failures"] or [])[-(MAX_FAILURES_KEPT - 1):], failure]
    changed = Product.objects.filter(
        pk=product_id, state=Product.State.FAILED, attempts=row["attempts"],
        attempts_base=row["attempts_base"],
    ).update(state=Product.State.QUEUED, error="", failures=history, started_at=None,
             finished_at=None, given_up=False,
             **({"attempts_base": row["attempts"]} if person else {}))
    if changed:
        transaction.on_commit(lambda: enqueue(product_id))
    return changed == 1


def retry_requested(product_id: int) -> bool:
    """A person's retry of a FAILED product; True if queued, False if it is not FAILED.

    Raises SourceGone when its swath cannot be read (another attempt would fail the same
    way) and Product.DoesNotExist for an unknown id.
    """
    product = Product.objects.select_related("swath").only(
        "pk", "state", "swath__uuid", "swath__state", "swath__failure_reason").get(pk=product_id)
    if product.state != Product.State.FAILED:
        return False
    reason = unreadable_source(product.swath)
    if reason is not None:
        raise SourceGone(f"subset {product_id} cannot be cut again: {reason}")
    return retry_product(product_id, person=True)


def unreadable_source(swath: Swath) -> str | None:
    """Return why no copy of the swath can be read (its state, each copy's fate), or None."""
    if swath.state != SwathState.VERIFIED:
        return f"swath {swath.uuid} is {swath.state}" + (
            f": {swath.failure_reason}" if swath.failure_reason else "")
    if not StoredObject.objects.filter(swath_id=swath.pk,
                                       state=StoredObject.State.VERIFIED).exists():
        return f"swath {swath.uuid} has no readable verified copy: {_why_none(swath)}"
    return None


def attempts_left(product: Product) -> int:
    """Automatic attempts the product may still be given (0 once they are used)."""
    return max(0, product.attempts_base + max_attempts() - product.attempts)


def enqueue(product_id: int) -> None:
    """Start a committed product's cut (subset.dispatch.enqueue, wired by subset.apps)."""
    if sender is None:
        raise RuntimeError("the subset app is not ready: no task sender is set")
    sender(product_id)


def spec_from_params(params: dict[str, Any]) -> SubsetSpec:
    """Return the spec stored in a product's params."""
    label = params["region"]
    if label.startswith("bbox="):
        from subset.region import parse_bbox

        region = parse_bbox(label[len("bbox="):])
    else:
        region = parse_geometry(label)
    return SubsetSpec(
        region=region, region_slug=params.get("region_slug"),
        variables=list(params.get("variables") or []),
        start=datetime.fromisoformat(params["start"]) if params.get("start") else None,
        end=datetime.fromisoformat(params["end"]) if params.get("end") else None,
        fill_outside=bool(params.get("fill_outside")),
    )


def by_ranges(copy: StoredObject, swath: Swath) -> bool:
    """True if a cut reads this copy by ranges (HDF5-based or NetCDF classic, stored as
    it is); else it downloads it whole.

    The formats are ingest's names (ingest.metadata.FORMATS): HDF-EOS5 is "hdfeos5".
    """
    return (copy.codec or "none") == "none" and (swath.format or "").lower() in (
        "", "netcdf4", "hdf5", "hdfeos5", "netcdf3")


@contextlib.contextmanager
def open_swath(store: Store, copy: StoredObject, swath: Swath, tmp: Path) -> Any:
    """Yield a readable source: a RangedFile for plain HDF5 objects, else a verified local copy.

    Ranged reads cannot re-hash the whole object, so the object's recorded SHA-256 and size
    must match the catalog first; a full download is checked against the SHA-256 as it
    streams (ChecksumMismatch).
    """
    info = store.head(copy.key)
    if info is None:
        raise ObjectNotFound(f"{copy.key}: the swath's object is missing from {store.name}",
                             key=copy.key, store=store.name)
    if (info.sha256 and info.sha256 != swath.sha256) or (
            info.size is not None and swath.size and info.size != swath.size):
        raise ChecksumMismatch(f"{copy.key}: the stored object does not match the catalog "
                               f"(sha256 {info.sha256}, size {info.size})", key=copy.key)
    if by_ranges(copy, swath):
        with hdf5_by_ranges(store.open_ranged(copy.key, block_size=kernel.RANGED_BLOCK,
                                              cache_blocks=kernel.RANGED_CACHE_BLOCKS)) as ranged:
            if ranged is not None:
                yield ranged
                return
    local = tmp / "source"
    with store.open(copy.key, expected_sha256=swath.sha256) as stream, open(local, "wb") as f:
        _copy(stream, f)
    yield _Counted(local, os.path.getsize(local))


@contextlib.contextmanager
def open_any_copy(swath: Swath, tmp: Path, preferred: str = "primary"
                  ) -> Iterator[tuple[Any, StoredObject]]:
    """Yield (source, copy) from the first VERIFIED copy that opens and checks right.

    The ``preferred`` store's copy first, then the others (catalog.copies). A copy found
    missing or failing its hash while opening is marked MISSING or CORRUPT, for heal to
    rebuild, and the next is tried; one whose store fails is passed over unmarked. Once
    the kernel reads the source, a failure is the cut's, not a reason to switch copies.
    Raises the last TransientArchiveError when that is why no copy opened (a retry may
    help), else SubsetError with every copy's reason.
    """
    reasons: list[str] = []
    transient: TransientArchiveError | None = None
    for copy in verified_copies(swath.pk, preferred):
        with contextlib.ExitStack() as stack:
            try:
                store = archive.config.get_store(copy.store)
                src = stack.enter_context(open_swath(store, copy, swath, tmp))
            except ObjectNotFound as e:
                mark_bad(copy.pk, StoredObject.State.MISSING, f"subset: {e}")
                reasons.append(f"{type(e).__name__}: {e}")
                continue
            except ChecksumMismatch as e:
                mark_bad(copy.pk, StoredObject.State.CORRUPT, f"subset: {e}")
                reasons.append(f"{type(e).__name__}: {e}")
                continue
            except TransientArchiveError as e:
                transient = e
                reasons.append(f"{type(e).__name__}: {e}")
                continue
            except (LookupError, ArchiveError) as e:
                reasons.append(f"{copy.store}: {type(e).__name__}: {e}")
                continue
            if reasons:
                log.warning("swath %s read from %s: %s", swath.uuid, copy.store,
                            "; ".join(reasons))
            yield src, copy
            return
    if transient is not None:
        raise transient
    raise SubsetError(f"swath {swath.uuid} has no readable verified copy: "
                      + ("; ".join(reasons) or _why_none(swath)))


def _why_none(swath: Swath) -> str:
    """Say what became of a swath's copies when none is VERIFIED (the cause, for the user)."""
    gone = [f"{c.store}:{c.key} is {c.state}" + (f" ({c.problem})" if c.problem else "")
            for c in swath.copies.exclude(state=StoredObject.State.VERIFIED)]
    return "; ".join(gone) or "the catalog holds none"


def _copy(src: BinaryIO, dst: BinaryIO) -> None:
    while piece := src.read(1 << 20):
        dst.write(piece)


class _Counted(os.PathLike):
    """A downloaded local copy that reports how many bytes came from the store."""

    def __init__(self, path: Path, size: int) -> None:
        self.path, self.bytes_read = path, size

    def __fspath__(self) -> str:
        return str(self.path)


def active_orders(footprint: Any, collection_id: Any) -> QuerySet[Region]:
    """Regions whose active standing order covers a swath of this footprint and collection.

    The arguments are values, or OuterRefs when a query asks this of many swaths at once
    (subset.recovery, subset.orders). An order whose region was found uncuttable
    (``order_problem``) is left out: it was reported once, and is not tried again.
    """
    return Region.objects.filter(
        Q(order_collections__isnull=True) | Q(order_collections=collection_id),
        order_active=True, order_problem="", geometry__intersects=footprint,
    )


def create_order_products(swath_id: int) -> list[Product]:
    """Create and enqueue products for every active standing order over a swath."""
    swath = Swath.objects.select_related("collection").filter(pk=swath_id).first()
    if swath is None or swath.footprint is None or swath.state != SwathState.VERIFIED:
        return []
    regions = active_orders(swath.footprint, swath.collection_id).distinct()
    made = []
    for row in regions:
        try:
            spec = order_spec(row)
            product, created = create_product(swath, spec, owner_id=row.order_owner_id,
                                              region_id=row.pk)
        except (InputError, SubsetError) as e:  # eo's refusals, the kernel's (RegionError)
            order_problem(row.pk, row.slug, str(e))
            continue
        if created:
            made.append(product)
    return made


def order_spec(row: Region) -> SubsetSpec:
    """The spec of a standing order's products; raises InputError or RegionError when the
    kernel refuses its region."""
    return SubsetSpec(parse_geometry(row.geometry.wkt), row.slug, list(row.order_variables or []))


def order_problem(region_id: int, slug: str, reason: str) -> bool:
    """Record why an order cannot be cut; True (and one log line) the first time only.

    The conditional update makes it once however many swaths or processes find it, and
    active_orders leaves the order out from then on.
    """
    changed = Region.objects.filter(pk=region_id, order_problem="").update(
        order_problem=reason[:2000] or "cannot be cut", order_problem_at=timezone.now())
    if changed:
        log.error("standing order %s stopped: its region cannot be cut: %s", slug, reason)
    return changed == 1


def on_swath_verified(sender: Any, swath_id: int, **kwargs: Any) -> None:
    """Signal receiver: standing regional orders for a newly verified swath."""
    create_order_products(swath_id)


def cut_swath_to(swath: Swath, spec: SubsetSpec, out_path: Path,
                 store_name: str = "primary") -> kernel.SubsetResult:
    """Cut a subset of an archived swath straight into a local file (the CLI; no Product)."""
    if swath.state != SwathState.VERIFIED:
        raise SubsetError(f"swath {swath.uuid} is {swath.state}, not VERIFIED")
    with tempfile.TemporaryDirectory(prefix="subset-") as tmp, \
            open_any_copy(swath, Path(tmp), store_name) as (src, _copy_read):
        return kernel.subset(
            src, spec.region, out_path, variables=spec.variables or None,
            time_range=(spec.start, spec.end), fill_outside=spec.fill_outside,
            provenance={"granule_id": swath.granule_id, "swath_uuid": str(swath.uuid),
                        "sha256": swath.sha256, "collection": swath.collection.slug},
            hints=swath.collection.variable_hints or None,
            geo_bounds=swath_geo_bounds(swath))


def swath_geo_bounds(swath: Swath) -> dict[str, Any] | None:
    """Return the per-chunk geolocation bounds of the swath's chunk index, or None (logged:
    the cut then searches the geolocation; subset.indexgeo)."""
    return load_geo_bounds((swath.attrs or {}).get("chunk_index"), swath.sha256,
                           store_by_name, what=f"swath {swath.uuid}", object_size=swath.size)

"""What a subset request would cost, asked before it is made: bytes read, written, time.

estimate_request() takes the same spec and swath-or-search as subset.services.
submit_subset() and checks them by the same rules (request_swaths, check_swath);
for each swath it opens a readable copy as a worker would (open_any_copy: by ranges for
plain HDF5) and runs subset.estimate.estimate_cut, which makes the kernel's plan (the
metadata and geolocation a cut reads first) and looks up, without reading them, the
chunks the cut would read. Nothing is cut, written or queued.

An object a cut would download whole (a compressed copy, HDF4 or GDAL formats) is
estimated from the downloaded copy when it is at most SUBSET_ESTIMATE_DOWNLOAD_MB; a
larger one is not downloaded: its bytes read are its size (exact: a cut downloads it
whole) and its bytes written the catalog's rough estimate
(subset.services.estimate_bytes), ``basis`` "catalog". Time is bytes read over
SUBSET_ESTIMATE_MB_PER_S, the speed of a cut from S3 in docs/BENCHMARKS.md (113.4 MB
read in 2.07 s: 55 MB/s, decoding and compressing included; the default, 50, rounds it
down).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from catalog.copies import verified_copies
from catalog.models import Swath, SwathState
from subset.errors import SourceGone, SubsetError, SubsetTooLarge
from subset.estimate import estimate_cut
from subset.services import (
    SubsetSpec,
    by_ranges,
    check_swath,
    estimate_bytes,
    open_any_copy,
    request_swaths,
    size_refusal,
    swath_geo_bounds,
    unreadable_source,
)

DEFAULT_MB_PER_S = 50
DEFAULT_DOWNLOAD_MB = 256
GONE = (SwathState.LOST, SwathState.DELETED)


def mb_per_s() -> float:
    """Return the cut speed estimates assume (settings.SUBSET_ESTIMATE_MB_PER_S)."""
    return float(getattr(settings, "SUBSET_ESTIMATE_MB_PER_S", DEFAULT_MB_PER_S))


@dataclass
class SwathCost:
    """One swath's estimate; ``basis`` "plan" (the kernel's plan) or "catalog"."""

    swath: Swath
    bytes_read: int
    bytes_written: int
    seconds: float
    n_selected: int | None
    empty: bool
    basis: str


@dataclass
class RequestCost:
    """Every swath's estimate, their totals, and what the size limits would refuse."""

    swaths: list[SwathCost] = field(default_factory=list)
    # The refusal submit_subset would raise for this request (the catalog's estimates
    # against SUBSET_MAX_MB and SUBSET_MAX_TOTAL_MB), or None: asked first, a client
    # learns that the request would be refused, and why, before it makes it.
    refusal: SubsetTooLarge | None = None

    @property
    def count(self) -> int:
        """Return how many swaths the request would cut."""
        return len(self.swaths)

    @property
    def bytes_read(self) -> int:
        """Return the bytes every cut reads from the store."""
        return sum(s.bytes_read for s in self.swaths)

    @property
    def bytes_written(self) -> int:
        """Return the bytes of every subset file."""
        return sum(s.bytes_written for s in self.swaths)

    @property
    def seconds(self) -> float:
        """Return the time of the cuts one after another."""
        return sum(s.seconds for s in self.swaths)


def estimate_request(spec: SubsetSpec, *, swath_uuid: str | None = None,
                     search: dict[str, Any] | None = None,
                     store_name: str = "primary") -> RequestCost:
    """Return the estimate of every swath a subset request would cut.

    Raises what submit_subset raises for a bad request (but not the size limits: an
    estimate says the size, and ``refusal`` what the limits would refuse), and
    SourceGone for a swath with no readable copy left.
    """
    swaths = request_swaths(spec, swath_uuid, search)
    for swath in swaths:
        if swath.state in GONE:
            raise SourceGone(f"swath {swath.uuid} cannot be cut: {unreadable_source(swath)}")
        check_swath(swath, spec.variables)
    return RequestCost([estimate_swath(s, spec, store_name) for s in swaths],
                       size_refusal(swaths, spec))


def estimate_swath(swath: Swath, spec: SubsetSpec, store_name: str = "primary") -> SwathCost:
    """Return what cutting ``spec`` out of a VERIFIED swath would read, write and take.

    Raises SourceGone when no copy can be opened (each copy's fate in the message),
    SubsetError for a region, variable or source the kernel refuses.
    """
    reason = unreadable_source(swath)
    if reason is not None:
        raise SourceGone(f"swath {swath.uuid} cannot be cut: {reason}")
    copy = next(iter(verified_copies(swath.pk, store_name)), None)
    size = (copy.stored_size if copy is not None else None) or swath.size or 0
    limit = int(getattr(settings, "SUBSET_ESTIMATE_DOWNLOAD_BYTES",
                        DEFAULT_DOWNLOAD_MB * 10**6))
    if copy is not None and not by_ranges(copy, swath) and size > limit:
        return _cost(swath, size, estimate_bytes(swath, spec), None, False, "catalog")
    try:
        with tempfile.TemporaryDirectory(prefix="estimate-") as tmp, \
                open_any_copy(swath, Path(tmp), store_name) as (src, _copy):
            est = estimate_cut(src, spec.region, variables=spec.variables or None,
                               time_range=(spec.start, spec.end),
                               hints=swath.collection.variable_hints or None,
                               geo_bounds=swath_geo_bounds(swath))
    except SubsetError as e:
        swath.refresh_from_db(fields=["state", "failure_reason"])
        gone = unreadable_source(swath)  # open_any_copy marked the copies it found gone
        if gone is not None:
            raise SourceGone(f"swath {swath.uuid} cannot be cut: {gone}") from e
        raise
    return _cost(swath, est.bytes_read, est.bytes_written, est.n_selected, est.empty, "plan")


def _cost(swath: Swath, read: int, written: int, selected: int | None, empty: bool,
          basis: str) -> SwathCost:
    return SwathCost(swath, read, written, read / (mb_per_s() * 1e6), selected, empty, basis)

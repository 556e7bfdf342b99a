"""What a cut would read and write, found without cutting (no Django: HPC ranks may use it).

    with store.open_ranged(key, ...) as f:
        e = estimate_cut(f, region, variables=["sst"])   # e.bytes_read, e.bytes_written

The kernel's own plan (subset.kernel.make_plan) is made, as a cut makes it first: the
file's metadata and the geolocation the window search needs are read, and counted as
read. Then, without reading them, the bytes of every chunk (or contiguous variable) the
plan's windows touch are looked up in the HDF5 chunk index, and those the RangedFile
would still have to fetch are added (``RangedFile.fetch_cost``: its blocks, or its
coalesced prefetch requests). A source that is a local path (a downloaded copy) reads
nothing more from the store: its bytes read are the caller's (the object's size).

Bytes written follow the plan's rule (subset.kernel.output_bytes: a header per variable,
plus its window's data at a compression ratio); the ratio is measured on a sample of the
window where its bytes are at hand or cost little to fetch, else taken from the source
chunks the window touches (see written_bytes).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import numpy as np

from subset import kernel
from subset.errors import NoDataInRegion
from subset.region import Region
from subset.source import open_source
from subset.writer import COMPLEVEL, OutVar

SAMPLE_BYTES = 256 * 1024  # of a window, compressed to find its ratio
STRIPS = 8
# What the samples may fetch beyond the plan: at least this, or this share of what the cut
# would read (the estimate stays well below the cut's reads on large objects).
SAMPLE_FETCH_MIN = 4 * 2**20
SAMPLE_FETCH_SHARE = 0.5


@dataclass
class CutEstimate:
    """A cut's estimate: bytes read from the store and written, and what it selects."""

    bytes_read: int
    bytes_written: int
    n_selected: int
    empty: bool = False  # no valid pixel in the region: the cut would make no file


def estimate_cut(src: str | os.PathLike[str] | BinaryIO, region: Region, *,
                 variables: Sequence[str] | None = None,
                 time_range: tuple[datetime | None, datetime | None] | None = None,
                 hints: Mapping[str, Any] | None = None,
                 time_epoch: str | None = None,
                 geo_bounds: Mapping[str, Any] | None = None) -> CutEstimate:
    """Return what subset.kernel.subset(src, region, ...) would read and write.

    ``src`` as for the kernel: a RangedFile's ``bytes_read`` count the planning, and its
    cache says what a cut would still fetch; a path counts 0 (the caller adds the
    download). Raises what make_plan raises, but NoDataInRegion: an empty estimate.
    """
    with open_source(src) as source:
        try:
            plan = kernel.make_plan(source, region, variables=variables,
                                    time_range=time_range, hints=hints,
                                    time_epoch=time_epoch, geo_bounds=geo_bounds)
        except NoDataInRegion:
            return CutEstimate(_read_so_far(src), 0, 0, empty=True)
        ranged = src if hasattr(src, "fetch_cost") else None
        ranges = [r for ov in plan.out if ov.data is None for r in ov.var.byte_ranges(ov.sel)]
        # Before sampling: a sample's reads would fill the cache the cost is read from.
        still = ranged.fetch_cost(ranges) if ranged is not None else 0
        read = _read_so_far(src) + still
        written = kernel.FILE_BYTES + written_bytes(plan.out, ranged, _Budget(still))
    return CutEstimate(read, written, plan.n_selected)


def _read_so_far(src: object) -> int:
    return int(getattr(src, "bytes_read", 0) or 0)


class _Budget:
    """Bytes the samples may still fetch: SAMPLE_FETCH_MIN, or a share of the cut's data."""

    def __init__(self, still: int) -> None:
        self.left = max(SAMPLE_FETCH_MIN, int(SAMPLE_FETCH_SHARE * still))

    def take(self, nbytes: int) -> bool:
        if nbytes > self.left:
            return False
        self.left -= nbytes
        return True


def written_bytes(outs: list[OutVar], ranged: Any, budget: _Budget) -> int:
    """Bytes of the variables in the output, each at the compression ratio its window gets.

    The ratio is measured on a sample of the window, compressed as the writer compresses,
    when its bytes are at hand (a local copy, chunks the plan fetched: a small object is
    all fetched by then) or fit the budget. For the others the ratio of the source chunks
    the window touches (the chunk index; nothing read), which misses how differently the
    source was compressed (and a variable stored raw and not sampled counts raw).
    """
    total = 0
    for ov in outs:
        var = ov.var
        if var.kind != "numeric" or not ov.shape or any(n == 0 for n in ov.shape):
            total += kernel.output_bytes(ov)
            continue
        if ov.data is not None:
            ratio: float | None = compressed_ratio(ov.data)
        elif (strips := _affordable_strips(ov, ranged, budget)) is not None:
            ratio = compressed_ratio(np.concatenate([var.read(sel).reshape(-1)
                                                     for sel in strips]))
        else:
            ratio = _chunk_ratio(ov)
        total += kernel.output_bytes(ov, ratio=ratio)
    return total


def _affordable_strips(ov: OutVar, ranged: Any, budget: _Budget) -> list[tuple[slice, ...]] | None:
    """The strips to sample: over the whole window, else over its middle row of chunks
    (which costs less), the first the budget affords (any, from a local copy); None: neither."""
    for middle in (False, True):
        strips = _strips(ov, middle)
        if ranged is None or budget.take(ranged.fetch_cost(
                [r for sel in strips for r in ov.var.byte_ranges(sel)])):
            return strips
    return None


def _strips(ov: OutVar, middle: bool) -> list[tuple[slice, ...]]:
    """STRIPS runs of rows, about SAMPLE_BYTES in all, spread over the window, or over its
    middle row of chunks (``middle``): a window's content changes along it (land, cloud,
    swath edges), so its first rows are not enough; one row of chunks costs one chunk
    per column to fetch."""
    row = max(1, int(np.prod(ov.shape[1:], dtype=np.int64)) * max(ov.var.dtype.itemsize, 1))
    lo = ov.sel[0].start or 0
    hi = lo + ov.shape[0]
    if middle and ov.var.chunks is not None:
        c = ov.var.chunks[0]
        mid = (lo + hi) // 2 // c * c
        lo, hi = max(lo, mid), min(hi, mid + c)
    rows = max(1, min(hi - lo, SAMPLE_BYTES // row) // STRIPS)
    starts = sorted({lo + int(i) for i in np.linspace(0, max(0, hi - lo - rows), STRIPS)})
    return [(slice(s, min(s + rows, hi)), *ov.sel[1:]) for s in starts]


def _chunk_ratio(ov: OutVar) -> float | None:
    """Stored/raw size of the source chunks the window touches (None: not chunked)."""
    var = ov.var
    if var.chunks is None or var._chunk_ranges is None:
        return None
    ranges = var._chunk_ranges(ov.sel)
    raw = len(ranges) * int(np.prod(var.chunks, dtype=np.int64)) * var.dtype.itemsize
    return sum(hi - lo for lo, hi in ranges) / raw if raw else None


def compressed_ratio(data: np.ndarray) -> float:
    """Return compressed/raw size of ``data`` under the writer's filters (shuffle, zlib)."""
    raw = np.ascontiguousarray(data)
    if raw.nbytes == 0:
        return 1.0
    size = raw.dtype.itemsize
    # HDF5's shuffle: the i-th byte of every element together.
    shuffled = raw.view(np.uint8).reshape(-1, size).T.tobytes() if size > 1 else raw.tobytes()
    return min(1.0, len(zlib.compress(shuffled, COMPLEVEL)) / raw.nbytes)

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

Bytes written are the plan's estimate (subset.kernel.output_bytes: headers, plus data at
the source's compression ratio), except that a variable stored raw is sampled: up to
SAMPLE_BYTES of its window are read and compressed as the writer compresses them, since
the output, unlike the source, is compressed.
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

SAMPLE_BYTES = 256 * 1024  # of a raw variable's window, compressed to find its ratio


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
                 time_epoch: str | None = None) -> CutEstimate:
    """Return what subset.kernel.subset(src, region, ...) would read and write.

    ``src`` as for the kernel: a RangedFile's ``bytes_read`` count the planning, and its
    cache says what a cut would still fetch; a path counts 0 (the caller adds the
    download). Raises what make_plan raises, but NoDataInRegion: an empty estimate.
    """
    with open_source(src) as source:
        try:
            plan = kernel.make_plan(source, region, variables=variables,
                                    time_range=time_range, hints=hints,
                                    time_epoch=time_epoch)
        except NoDataInRegion:
            return CutEstimate(_read_so_far(src), 0, 0, empty=True)
        ranges = [r for ov in plan.out if ov.data is None for r in ov.var.byte_ranges(ov.sel)]
        # Before sampling: a sample's reads would fill the cache the cost is read from.
        still = src.fetch_cost(ranges) if hasattr(src, "fetch_cost") else 0
        read = _read_so_far(src) + still
        written = kernel.FILE_BYTES + sum(_written(ov) for ov in plan.out)
        source.drop_prefetched()
    return CutEstimate(read, written, plan.n_selected)


def _read_so_far(src: object) -> int:
    return int(getattr(src, "bytes_read", 0) or 0)


def _written(ov: OutVar) -> int:
    """Bytes of one variable in the output; a raw one's ratio from a compressed sample."""
    var = ov.var
    if var.kind != "numeric" or not ov.shape or any(n == 0 for n in ov.shape):
        return kernel.output_bytes(ov)
    sample = ov.data if ov.data is not None else var.read(_sample_sel(ov))
    return kernel.output_bytes(ov, ratio=compressed_ratio(np.asarray(sample)))


def _sample_sel(ov: OutVar) -> tuple[slice, ...]:
    """The first rows of the window (along its first axis), about SAMPLE_BYTES of them."""
    row = max(1, int(np.prod(ov.shape[1:], dtype=np.int64)) * max(ov.var.dtype.itemsize, 1))
    rows = max(1, min(ov.shape[0], SAMPLE_BYTES // row))
    first = ov.sel[0]
    return (slice(first.start, first.start + rows), *ov.sel[1:])


def compressed_ratio(data: np.ndarray) -> float:
    """Return compressed/raw size of ``data`` under the writer's filters (shuffle, zlib)."""
    raw = np.ascontiguousarray(data)
    if raw.nbytes == 0:
        return 1.0
    size = raw.dtype.itemsize
    # HDF5's shuffle: the i-th byte of every element together.
    shuffled = raw.view(np.uint8).reshape(-1, size).T.tobytes() if size > 1 else raw.tobytes()
    return min(1.0, len(zlib.compress(shuffled, COMPLEVEL)) / raw.nbytes)

"""Compress a subset's chunks on several cores and write them into the finished NetCDF4 file.

netCDF-C compresses every chunk in the calling thread, and on a 2 GB swath that is half of
a subset's time. Here the variables are defined by netCDF4 as usual (so dimensions, attributes
and the filter pipeline are netCDF's own), their data is left unwritten, and once the
netCDF4 handle is closed each chunk is shuffled and deflated in a thread pool (zlib releases
the GIL) and stored with h5py's direct chunk write. The bytes are what HDF5's own shuffle and
deflate filters would have written, so any netCDF or HDF5 reader sees the same file.

A dataset whose pipeline is not exactly shuffle + deflate gets the plain h5py write instead.
"""

from __future__ import annotations

import itertools
import os
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

# HDF5 filter ids (H5Zpublic.h): the pipeline netCDF4 builds for zlib + shuffle.
SHUFFLE, DEFLATE = 2, 1


def default_threads() -> int:
    """Return the cores this process may use, at most 4 (zlib-1 keeps up with the reads)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


@dataclass
class Deferred:
    """A variable defined in the file whose data is still to be written."""

    path: str  # the HDF5 dataset path in the output file
    # (output selection, data), each starting on a chunk boundary of the dataset
    pieces: Iterable[tuple[tuple[slice, ...], np.ndarray]]


def encode(tile: np.ndarray, level: int) -> bytes:
    """Return ``tile`` as HDF5's shuffle then deflate filters store it."""
    raw = np.ascontiguousarray(tile)
    if raw.dtype.itemsize > 1:
        # Shuffle: byte j of every element together, for j = 0..itemsize-1.
        raw = np.ascontiguousarray(raw.view(np.uint8).reshape(-1, raw.dtype.itemsize).T)
    return zlib.compress(raw.data.cast("B"), level)


def tiles(sel: tuple[slice, ...], data: np.ndarray,
          chunks: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
    """Yield (chunk offset, full-size chunk array) for every chunk ``sel`` covers.

    ``sel`` starts on chunk boundaries; chunks past its end are padded (HDF5 stores edge
    chunks whole and ignores what lies outside the dataset).
    """
    starts = [s.start for s in sel]
    counts = [-(-n // c) for n, c in zip(data.shape, chunks, strict=True)]
    for index in itertools.product(*(range(n) for n in counts)):
        lo = [i * c for i, c in zip(index, chunks, strict=True)]
        part = data[tuple(slice(a, a + c) for a, c in zip(lo, chunks, strict=True))]
        if part.shape != chunks:
            full = np.zeros(chunks, dtype=data.dtype)
            full[tuple(slice(0, n) for n in part.shape)] = part
            part = full
        yield tuple(s + a for s, a in zip(starts, lo, strict=True)), part


def write_deferred(path: str, deferred: list[Deferred], threads: int | None = None) -> None:
    """Write every deferred variable's data into the closed NetCDF4 file at ``path``.

    ``threads``: chunks compressed at once (None: ``default_threads()``).
    """
    import h5py

    if not deferred:
        return
    threads = max(1, default_threads() if threads is None else threads)
    with h5py.File(path, "r+") as f, ThreadPoolExecutor(threads) as pool:
        for item in deferred:
            dset = f[item.path]
            filters = _filters(dset)
            if [code for code, _ in filters] != [SHUFFLE, DEFLATE]:
                for sel, data in item.pieces:
                    dset[sel] = data
                continue
            level = filters[1][1][0]  # deflate's one parameter
            # Bounded: a few chunks per thread in flight, so memory stays at a block's worth.
            pending: deque[tuple[tuple[int, ...], Future[bytes]]] = deque()
            for sel, data in item.pieces:
                for offset, tile in tiles(sel, data, dset.chunks):
                    pending.append((offset, pool.submit(encode, tile, level)))
                    while len(pending) > 4 * threads:
                        _store(dset, *pending.popleft())
            while pending:
                _store(dset, *pending.popleft())


def _store(dset: Any, offset: tuple[int, ...], done: Future[bytes]) -> None:
    dset.id.write_direct_chunk(offset, done.result(), filter_mask=0)


def _filters(dset: Any) -> list[tuple[int, tuple[int, ...]]]:
    """Return the dataset's filter pipeline as (filter id, parameters), in order."""
    plist = dset.id.get_create_plist()
    return [plist.get_filter(i)[::2] for i in range(plist.get_nfilters())]

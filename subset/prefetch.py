"""Which bytes of an HDF5 dataset a selection will read: its chunks' ranges, from the index.

HDF5 reads the chunks of a selection one after another, so over ranged GETs each chunk
waits for a round trip. The chunk index says where every chunk lies before HDF5 asks;
``chunk_ranges`` turns a selection into those byte ranges, for
``archive.ranged.RangedFile.prefetch`` to fetch several at a time. Everything here calls
h5py, so it runs on the caller's thread only (HDF5 is not thread-safe).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Walking a larger chunk index costs more than the round trips it would save.
MAX_CHUNKS = 200_000


class ChunkIndex:
    """Offsets (n, ndim) in elements, byte starts and sizes of a dataset's stored chunks."""

    def __init__(self, chunks: tuple[int, ...], offsets: np.ndarray, starts: np.ndarray,
                 sizes: np.ndarray) -> None:
        self.chunks = np.asarray(chunks, dtype=np.int64)
        self.offsets = offsets
        self.starts = starts
        self.sizes = sizes

    @classmethod
    def of(cls, dsid: Any) -> ChunkIndex | None:
        """Return the index of a chunked dataset (h5py DatasetID); None if not chunked."""
        import h5py

        if dsid.get_create_plist().get_layout() != h5py.h5d.CHUNKED:
            return None  # contiguous or compact: no index (compact lives in the header)
        chunks = dsid.get_create_plist().get_chunk()
        n = dsid.get_num_chunks()
        if n == 0 or n > MAX_CHUNKS:
            return None
        rows: list[tuple[tuple[int, ...], int, int]] = []

        def visit(info: Any) -> None:
            if info.byte_offset is not None:  # None: not allocated, reads as fill
                rows.append((info.chunk_offset, info.byte_offset, info.size))

        if hasattr(dsid, "chunk_iter"):
            dsid.chunk_iter(visit)  # one walk of the index, much faster than n lookups
        else:
            for i in range(n):
                visit(dsid.get_chunk_info(i))
        if not rows:
            return None
        offsets = np.array([r[0] for r in rows], dtype=np.int64).reshape(len(rows), -1)
        return cls(tuple(chunks), offsets, np.array([r[1] for r in rows], dtype=np.int64),
                   np.array([r[2] for r in rows], dtype=np.int64))

    def ranges(self, sel: tuple[slice, ...], shape: tuple[int, ...]) -> list[tuple[int, int]]:
        """Return (start, stop) byte ranges of the chunks that ``sel`` touches."""
        if len(sel) != len(shape) or len(shape) != self.offsets.shape[1]:
            return []
        hit = np.ones(len(self.starts), dtype=bool)
        for axis, (s, n) in enumerate(zip(sel, shape, strict=True)):
            start, stop, step = s.indices(n)
            if step < 0:
                start, stop = stop + 1, start + 1
            if stop <= start:
                return []
            # A stepped selection may skip some of these chunks: reading them costs bytes,
            # never correctness (the kernel's own selections have step 1).
            lo = self.offsets[:, axis]
            hit &= (lo < stop) & (lo + self.chunks[axis] > start)
        return [(int(a), int(a + b)) for a, b in zip(self.starts[hit], self.sizes[hit],
                                                     strict=True)]

"""RangedFile: a seekable read-only file over an object, fetched in blocks with an LRU cache."""

from __future__ import annotations

import contextlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator

from archive.errors import ArchiveError
from archive.prefetch import DEFAULT_BUDGET, Prefetcher, coalesce
from archive.streaming import SeekableReader
from eo.formats import recognise

DEFAULT_BLOCK_SIZE = 256 * 1024
DEFAULT_CACHE_BLOCKS = 64
DEFAULT_READAHEAD_BLOCKS = 4

Fetch = Callable[[int, int], bytes]


class RangedFile(SeekableReader):
    """Seekable read-only file whose bytes come from ``fetch(start, stop)`` range requests.

    Blocks of ``block_size`` bytes are kept in an LRU cache of ``cache_blocks`` entries.
    Sequential access fetches up to ``readahead_blocks`` blocks in one request; random
    access (HDF5 metadata, one chunk of a variable) fetches one block. ``bytes_read`` and
    ``requests`` count what was fetched from the store.

    With ``prefetch_concurrency`` > 0 (``fetch`` must then be thread-safe), ``prefetch``
    takes byte ranges the caller is about to read and fetches them that many at a time
    into held buffers that reads are served from first (see ``archive.prefetch``); their
    requests count in ``requests`` and ``bytes_read`` too, and in ``prefetch_requests``.
    """

    def __init__(
        self,
        fetch: Fetch,
        size: int,
        *,
        name: str,
        block_size: int = DEFAULT_BLOCK_SIZE,
        cache_blocks: int = DEFAULT_CACHE_BLOCKS,
        readahead_blocks: int = DEFAULT_READAHEAD_BLOCKS,
        on_close: Callable[[], None] | None = None,
        prefetch_concurrency: int = 0,
        prefetch_budget: int = DEFAULT_BUDGET,
    ) -> None:
        super().__init__()
        if block_size <= 0 or cache_blocks <= 0 or readahead_blocks <= 0:
            raise ValueError("block_size, cache_blocks and readahead_blocks must be positive")
        self._fetch = fetch
        self._size = size
        self.name = name
        self._block_size = block_size
        self._cache_blocks = cache_blocks
        # A read-ahead run must fit in the cache, or it would evict its own first block.
        self._readahead = min(readahead_blocks, cache_blocks)
        self._on_close = on_close
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._pos = 0
        self._last_block = -2
        self.bytes_read = 0
        self.requests = 0
        self.prefetch_requests = 0  # of ``requests``, those made by prefetch threads
        self._prefetch = (
            Prefetcher(fetch, name=name, concurrency=prefetch_concurrency, count=self._counted,
                       budget=prefetch_budget)
            if prefetch_concurrency > 0 else None
        )

    def _counted(self, nbytes: int) -> None:
        self.requests += 1
        self.prefetch_requests += 1
        self.bytes_read += nbytes

    @property
    def can_prefetch(self) -> bool:
        """Return True if ``prefetch`` fetches anything (a thread-safe fetch was given)."""
        return self._prefetch is not None

    def prefetch(self, ranges: Iterable[tuple[int, int]]) -> int:
        """Start fetching ``ranges`` (start, stop) in the background; return bytes queued."""
        if self._prefetch is None or self.closed:
            return 0
        with self._lock:
            # Small chunks often sit in blocks already read (with the metadata beside them).
            return self._prefetch.add(coalesce(self._uncached(ranges)))

    def fetch_cost(self, ranges: Iterable[tuple[int, int]]) -> int:
        """Return the bytes reading ``ranges`` would fetch now, fetching nothing.

        The rule reads follow: with prefetch, the ranges not all cached, coalesced as
        ``prefetch`` requests them; without, every block they touch that is not cached
        (read-ahead past the last one is not counted).
        """
        with self._lock:
            missing = self._uncached(ranges)
            if self._prefetch is not None:
                return sum(span.stop - span.start for span in coalesce(missing))
            blocks = {i for lo, hi in missing for i in self._blocks(lo, hi) if i not in self._cache}
        return sum(min(self._block_size, self._size - i * self._block_size) for i in blocks)

    def _blocks(self, lo: int, hi: int) -> range:
        """Return the indices of the blocks bytes lo:hi (hi > lo) lie in."""
        return range(lo // self._block_size, (hi - 1) // self._block_size + 1)

    def _uncached(self, ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        """Return ``ranges`` clipped to the file, without the empty and the wholly cached
        ones (the caller holds the lock): what prefetch requests and fetch_cost counts."""
        clipped = ((max(0, lo), min(hi, self._size)) for lo, hi in ranges)
        return [(lo, hi) for lo, hi in clipped
                if hi > lo and not all(i in self._cache for i in self._blocks(lo, hi))]

    def drop_prefetched(self) -> None:
        """Forget prefetched bytes not read yet (their requests still count as read)."""
        if self._prefetch is not None:
            with self._lock:
                self._prefetch.clear()

    @property
    def size(self) -> int:
        """Return the object's size in bytes."""
        return self._size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to ``offset`` relative to ``whence``; return the new position."""
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Fill ``buffer`` from the current position; return the number of bytes copied."""
        if self.closed:
            raise ValueError("I/O operation on closed file")
        view = memoryview(buffer).cast("B")
        want = min(len(view), max(0, self._size - self._pos))
        done = 0
        with self._lock:
            while done < want:
                pos = self._pos + done
                limit = None
                if self._prefetch is not None:
                    n, limit = self._prefetch.serve(pos, view[done:want])
                    if n:
                        done += n
                        continue
                index, offset = divmod(pos, self._block_size)
                block = self._block(index)
                n = min(want - done, len(block) - offset)
                if limit is not None:  # the rest is held: serve it from there
                    n = min(n, limit - pos)
                view[done : done + n] = block[offset : offset + n]
                done += n
        self._pos += done
        return done

    def readall(self) -> bytes:
        """Read from the current position to the end."""
        out = bytearray(max(0, self._size - self._pos))
        n = self.readinto(out)
        return bytes(out[:n])

    def _block(self, index: int) -> bytes:
        """Return block ``index`` from the cache, fetching it (and a read-ahead run) if needed."""
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            self._last_block = index
            return cached
        last = (self._size - 1) // self._block_size
        count = self._readahead if index == self._last_block + 1 else 1
        stop_index = min(index + count, last + 1)
        # Stop the run at the first block already cached, so nothing is fetched twice.
        for probe in range(index + 1, stop_index):
            if probe in self._cache:
                stop_index = probe
                break
        start = index * self._block_size
        stop = min(stop_index * self._block_size, self._size)
        data = self._fetch(start, stop)
        self.requests += 1
        self.bytes_read += len(data)
        if len(data) != stop - start:
            raise ArchiveError(
                f"{self.name}: range {start}-{stop} returned {len(data)} bytes; "
                "the object changed or was truncated"
            )
        for i in range(index, stop_index):
            lo = (i - index) * self._block_size
            self._cache[i] = data[lo : lo + self._block_size]
            self._cache.move_to_end(i)
        while len(self._cache) > self._cache_blocks:
            self._cache.popitem(last=False)
        self._last_block = index
        return self._cache[index]

    def close(self) -> None:
        """Drop the cache and release the store's handle."""
        if not self.closed:
            self._cache.clear()
            try:
                if self._prefetch is not None:
                    self._prefetch.close()
                if self._on_close is not None:
                    self._on_close()
            finally:
                super().close()


@contextlib.contextmanager
def hdf5_by_ranges(ranged: RangedFile) -> Iterator[RangedFile | None]:
    """Yield ``ranged`` when it holds HDF5 (h5py reads it by ranges) or NetCDF classic
    (subset.source reads it by ranges from its header), else None (the caller downloads
    the object instead); ``ranged`` is closed when the block ends."""
    try:
        yield ranged if recognise(ranged) in ("hdf5", "netcdf3") else None
    finally:
        ranged.close()

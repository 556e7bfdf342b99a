"""ParallelRangeReader: one object read in order as several ranged GETs in flight.

A single GET stream is limited by what one connection and one server thread deliver;
on `rclone serve s3` over loopback that is well below what the same server gives to
`s5cmd`, which keeps several ranges in flight. This reader does the same and still
returns the bytes strictly in order, so hashing and decoding stay one sequential pass.
Memory is bounded by ``part_size`` x (``concurrency`` + 1) whatever the object size.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from archive.errors import ArchiveError

Fetch = Callable[[int, int], bytes]


class ParallelRangeReader(io.RawIOBase):
    """Read-only sequential stream over ``size`` bytes fetched as ``fetch(start, stop)``."""

    def __init__(
        self, fetch: Fetch, size: int, *, part_size: int, concurrency: int, name: str,
        store: str,
    ) -> None:
        super().__init__()
        if part_size <= 0 or concurrency <= 0:
            raise ValueError("part_size and concurrency must be positive")
        self._fetch = fetch
        self._size = size
        self._part_size = part_size
        self._concurrency = concurrency
        self.name = name
        self._store = store
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="ranged-get")
        self._pending: deque[tuple[int, int, Future[bytes]]] = deque()
        self._next = 0  # first byte not yet requested
        self._part = memoryview(b"")
        self._fill()

    def readable(self) -> bool:
        """Return True: this is a read-only stream."""
        return True

    def _fill(self) -> None:
        while len(self._pending) < self._concurrency and self._next < self._size:
            stop = min(self._next + self._part_size, self._size)
            future = self._pool.submit(self._fetch, self._next, stop)
            self._pending.append((self._next, stop, future))
            self._next = stop

    def _next_part(self) -> bool:
        if not self._pending:
            return False
        start, stop, future = self._pending.popleft()
        data = future.result()
        if len(data) != stop - start:
            raise ArchiveError(
                f"{self.name}: {self._store} returned {len(data)} bytes for range "
                f"{start}-{stop}, expected {stop - start}",
                key=self.name,
                store=self._store,
            )
        self._part = memoryview(data)
        self._fill()
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Copy the next bytes, in object order, into ``buffer``; 0 at the end."""
        if not self._part and not self._next_part():
            return 0
        n = min(len(buffer), len(self._part))
        buffer[:n] = self._part[:n]
        self._part = self._part[n:]
        return n

    def parts(self) -> Iterator[memoryview]:
        """Yield the bytes not yet read as the fetched parts themselves, in order (no copy)."""
        while self._part or self._next_part():
            part, self._part = self._part, memoryview(b"")
            yield part

    def close(self) -> None:
        """Cancel the ranges not yet fetched and let the running ones finish on their own."""
        if not self.closed:
            for _, _, future in self._pending:
                future.cancel()
            self._pending.clear()
            self._part = memoryview(b"")
            self._pool.shutdown(wait=False, cancel_futures=True)
        super().close()


def whole_parts(stream: BinaryIO, chunk: int) -> Iterator[bytes | memoryview]:
    """Yield the rest of ``stream`` in pieces, as few copies as possible.

    A BufferedReader over a ParallelRangeReader (what S3Store.open_raw returns for a
    large object) gives what it has buffered, then the fetched parts whole; a copy less
    per layer than read() through it. Any other stream is read ``chunk`` bytes at a time.
    """
    inner = getattr(stream, "raw", None)
    if isinstance(stream, io.BufferedReader) and isinstance(inner, ParallelRangeReader):
        # peek() returns what the buffer holds without a raw read when it holds
        # anything, so this read takes exactly the buffer, and the parts go on from there.
        if held := stream.peek(1):
            yield stream.read(len(held))
        yield from inner.parts()
        return
    while data := stream.read(chunk):
        yield data

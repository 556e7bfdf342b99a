"""fetch_into_file: a large object downloaded into a file as ranged GETs written in place.

The stream download (parallel_get.py, writeout.py) puts every byte through one ordered
pipeline: parts come back in order, the caller hashes each, a writer thread writes it.
A part that lands early waits for the ones before it, and the write of each waits for
its hash. Here each fetching thread writes its part at its offset (``os.pwrite``) the
moment it lands, and the calling thread feeds the SHA-256, which must see the bytes in
order, with the parts as they complete in order. Socket reads, ``pwrite`` and
``hashlib`` (for buffers over 2 KiB) all release the GIL, so no Python runs per byte and
the fetches, writes and hash overlap on every core there is; the hash reads the very
bytes the GET returned (no second copy, no read back from the page cache).

Memory: at most ``concurrency`` + 2 parts are fetched or held ahead of the hash, so a
download holds about ``part_size`` x (``concurrency`` + 2) whatever the object's size.
The file is the caller's: it judges the digest and renames the file, or removes it.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from archive.errors import ArchiveError
from archive.writeout import writeback_hint

Fetch = Callable[[int, int], bytes]
# Parts held ahead of the hash beyond those being fetched: a part that lands while the
# hash is busy does not stall the next fetch.
SLACK = 2


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset`` of ``fd`` (pwrite may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def fetch_into_file(
    fd: int, fetch: Fetch, size: int, *, part_size: int, concurrency: int, name: str,
    store: str, writeback: bool = True, check_head: Callable[[bytes], None] | None = None,
    hashed: bool = True,
) -> str | None:
    """Fetch ``size`` bytes as ``fetch(start, stop)`` parts into ``fd``; return their SHA-256.

    ``fd`` is a new, empty regular file; it ends ``size`` bytes long. ``writeback``
    starts each part's writeback as it is written (writeout.writeback_hint), for a caller
    that fsyncs at the end. ``check_head`` sees the first bytes before anything is hashed
    (it may refuse them by raising). ``hashed=False`` (nothing to check the bytes
    against) hashes nothing and returns None. Any failure (a fetch, a short part, a full disk)
    propagates once no thread is still writing into ``fd``; the file's content is then
    undefined and the caller must not keep it.
    """
    if part_size <= 0 or concurrency <= 0:
        raise ValueError("part_size and concurrency must be positive")
    os.ftruncate(fd, size)  # parts land in any order; the file has its length from the start
    hint = writeback_hint(fd) if writeback else None
    digest = hashlib.sha256() if hashed else None

    def fetch_part(start: int, stop: int) -> bytes:
        data = fetch(start, stop)
        if len(data) != stop - start:
            raise ArchiveError(
                f"{name}: {store} returned {len(data)} bytes for range {start}-{stop}, "
                f"expected {stop - start}", key=name, store=store)
        pwrite_all(fd, data, start)
        if hint is not None:
            hint(start, stop - start)
        return data

    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="file-get")
    pending: deque[Future[bytes]] = deque()
    requested = 0
    try:
        while True:
            while len(pending) < concurrency + SLACK and requested < size:
                stop = min(requested + part_size, size)
                pending.append(pool.submit(fetch_part, requested, stop))
                requested = stop
            if not pending:
                break
            data = pending.popleft().result()
            if check_head is not None:
                check_head(data[:8])
                check_head = None
            if digest is not None:
                digest.update(data)
            del data  # the part's memory goes now, not when the next one replaces it
    finally:
        for future in pending:
            future.cancel()
        # Wait for the fetches still running: none may write into fd once the caller
        # closes or removes it (the descriptor's number could be another file's by then).
        pool.shutdown(wait=True)
    return None if digest is None else digest.hexdigest()

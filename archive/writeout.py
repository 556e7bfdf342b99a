"""Write a download's chunks into a file from a second thread.

A download is a chain of fetch, hash and write. The fetches already run in their own
threads (parallel_get.py); the hash and the write ran one after the other in the caller.
Hashing releases the GIL, and so do writes, so a writer thread lets the page-cache copy
overlap the hashing of the next chunk (figures in docs/BENCHMARKS.md, Archive).
Memory: ``depth`` + 2 chunks in flight.

The caller fsyncs before its rename. Left alone, the kernel keeps a download's pages
dirty until that fsync, which then waits for the whole file to reach the disk. So after
each chunk the writer asks Linux to start writing it back (``sync_file_range``, which
neither waits nor flushes the disk's cache), and the disk works while the network does.
"""

from __future__ import annotations

import ctypes
import queue
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

DEPTH = 4
_END = object()  # the reader's last item
SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback of the range's dirty pages


def _load_sync_file_range() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The process's own symbols hold libc's; find_library would run ldconfig.
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


_sync_file_range = _load_sync_file_range()


def writeback_hint(out: Any) -> Callable[[int, int], bool]:
    """Return hint(offset, length) that starts the writeback of that range of ``out``.

    ``out`` is a file object or a descriptor. The hint returns whether the kernel took
    it. It does nothing where the call is missing (not Linux) or refused (a pipe, a file
    system without it): the caller's fsync stays the guarantee either way.
    """
    try:
        fd = out if isinstance(out, int) else out.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    call = _sync_file_range
    enabled = call is not None and fd >= 0

    def hint(offset: int, length: int) -> bool:
        nonlocal enabled
        if enabled and call is not None and call(fd, offset, length, SYNC_FILE_RANGE_WRITE) != 0:
            enabled = False  # EINVAL, ESPIPE: this file does not take it; stop asking
        return enabled

    return hint


def write_chunks(chunks: Iterable[bytes | memoryview], out: BinaryIO, *,
                 depth: int = DEPTH, writeback: bool = True) -> int:
    """Write ``chunks`` to ``out`` in a second thread while the caller produces the next.

    ``writeback`` starts each chunk's writeback as it is written (writeback_hint), for
    a caller that fsyncs at the end; one that does not leaves it to the kernel.

    The iteration (a download's hashing, say) runs in the calling thread. Whatever it
    raises at its end (a ChecksumMismatch) propagates once the writer has stopped, and so
    does a write error (a full disk); the caller decides what becomes of the partial file.
    """
    queued: queue.Queue[Any] = queue.Queue(maxsize=depth)
    failed: list[BaseException] = []
    stop = threading.Event()
    hint = writeback_hint(out) if writeback else (lambda offset, length: False)

    def write() -> None:
        offset = 0
        try:
            while (data := queued.get()) is not _END:
                view = memoryview(data)
                size = len(view)
                while view and not stop.is_set():  # a raw file may take part of a write
                    view = view[out.write(view) :]
                hint(offset, size)
                offset += size
        except BaseException as e:  # noqa: BLE001 - handed to the producing thread
            failed.append(e)
            stop.set()
            while queued.get() is not _END:  # keep draining so the producer never blocks
                pass

    writer = threading.Thread(target=write, name="archive-writer", daemon=True)
    writer.start()
    total = 0
    try:
        for data in chunks:
            if stop.is_set():
                break
            if data:
                queued.put(data)
                total += len(data)
    except BaseException:
        stop.set()
        raise
    finally:
        queued.put(_END)
        writer.join()
    if failed:
        raise failed[0]
    return total

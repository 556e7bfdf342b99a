"""Copy a stream into a file with the writes in a second thread.

A download is a chain of fetch, hash and write. The fetches already run in their own
threads (parallel_get.py); the hash and the write ran one after the other in the caller.
Hashing releases the GIL, and so do writes, so a writer thread lets the page-cache copy
overlap the hashing of the next chunk (figures in docs/BENCHMARKS.md, Archive).
Memory: ``depth`` + 2 chunks in flight.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, BinaryIO

CHUNK = 8 * 1024 * 1024
DEPTH = 4
_END = object()  # the reader's last item


def copy_through_writer(
    source: BinaryIO, out: BinaryIO, *, chunk: int = CHUNK, depth: int = DEPTH
) -> int:
    """Copy ``source`` to ``out`` until EOF, writing in a second thread; return the bytes.

    Whatever the source raises at its end (a ChecksumMismatch, say) propagates once the
    writer has stopped, and so does a write error (a full disk); the caller decides what
    becomes of the partial file.
    """
    chunks: queue.Queue[Any] = queue.Queue(maxsize=depth)
    failed: list[BaseException] = []
    stop = threading.Event()

    def write() -> None:
        try:
            while (data := chunks.get()) is not _END:
                view = memoryview(data)
                while view and not stop.is_set():  # a raw file may take part of a write
                    view = view[out.write(view) :]
        except BaseException as e:  # noqa: BLE001 - handed to the reading thread
            failed.append(e)
            stop.set()
            while chunks.get() is not _END:  # keep draining so the reader never blocks
                pass

    writer = threading.Thread(target=write, name="archive-writer", daemon=True)
    writer.start()
    total = 0
    try:
        while not stop.is_set() and (data := source.read(chunk)):
            chunks.put(data)
            total += len(data)
    except BaseException:
        stop.set()
        raise
    finally:
        chunks.put(_END)
        writer.join()
    if failed:
        raise failed[0]
    return total

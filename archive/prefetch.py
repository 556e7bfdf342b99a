"""Prefetch: byte ranges of an object fetched ahead, several in flight, held until read.

A reader that knows which ranges it is about to read (the chunks of an HDF5 selection)
hands them to a ``Prefetcher``; it coalesces them into requests of a few MiB and fetches
them on a small thread pool, while the caller keeps reading. Reads then come from the
held bytes instead of one request at a time. The threads only call ``fetch``; everything
else (lookup, accounting, eviction) runs on the caller's thread, so the fetch function is
the only thing that must be thread-safe. Held bytes are bounded by ``budget``.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import NamedTuple

from archive.errors import ArchiveError

KiB = 1024
MiB = 1024 * KiB
# Gaps up to this size are read rather than split: on loopback S3 one more request costs
# milliseconds, 128 KiB of extra bytes well under one.
MAX_GAP = 128 * KiB
# Requests stop growing here, so one variable's window still spreads over the threads.
MAX_REQUEST = 4 * MiB
DEFAULT_BUDGET = 256 * MiB

Fetch = Callable[[int, int], bytes]


class Span(NamedTuple):
    """One request: bytes ``start``-``stop`` of which ``wanted`` belong to asked-for ranges."""

    start: int
    stop: int
    wanted: int


def coalesce(ranges: Iterable[tuple[int, int]], *, max_gap: int = MAX_GAP,
             max_request: int = MAX_REQUEST) -> list[Span]:
    """Return the ranges merged into requests in offset order (empty ranges dropped).

    Ranges closer than ``max_gap`` merge while the request stays within ``max_request``;
    a single range longer than that is cut into pieces of ``max_request``.

    >>> coalesce([(100, 200), (0, 100), (200, 250)])
    [Span(start=0, stop=250, wanted=250)]
    >>> coalesce([(0, 100), (150, 200)], max_gap=50)
    [Span(start=0, stop=200, wanted=150)]
    >>> coalesce([(0, 100), (151, 200)], max_gap=50)
    [Span(start=0, stop=100, wanted=100), Span(start=151, stop=200, wanted=49)]
    >>> coalesce([(0, 100), (100, 200), (200, 300)], max_request=200)
    [Span(start=0, stop=200, wanted=200), Span(start=200, stop=300, wanted=100)]
    >>> coalesce([(0, 500)], max_request=200)  # doctest: +NORMALIZE_WHITESPACE
    [Span(start=0, stop=200, wanted=200), Span(start=200, stop=400, wanted=200),
     Span(start=400, stop=500, wanted=100)]
    >>> coalesce([(0, 100), (50, 120), (10, 20), (7, 7)])
    [Span(start=0, stop=120, wanted=120)]
    """
    if max_request <= 0 or max_gap < 0:
        raise ValueError("max_request must be positive and max_gap not negative")
    spans: list[Span] = []
    start = stop = wanted = -1
    for lo, hi in sorted((lo, hi) for lo, hi in ranges if hi > lo):
        if start >= 0 and lo <= stop + max_gap and max(hi, stop) - start <= max_request:
            wanted += max(0, hi - max(lo, stop))  # overlaps count once
            stop = max(stop, hi)
            continue
        if start >= 0:
            if lo < stop:  # overlaps a request that is full: keep only the new bytes
                lo = stop
            spans.append(Span(start, stop, wanted))
            if hi <= lo:
                start = -1
                continue
        while hi - lo > max_request:
            spans.append(Span(lo, lo + max_request, max_request))
            lo += max_request
        start, stop, wanted = lo, hi, hi - lo
    if start >= 0:
        spans.append(Span(start, stop, wanted))
    return spans


class _Held:
    """A span queued, in flight or fetched; ``served`` counts the bytes handed out."""

    __slots__ = ("span", "future", "data", "served", "counted")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.future: Future[bytes] | None = None
        self.data: memoryview | None = None
        self.served = 0
        self.counted = False


class Prefetcher:
    """Spans of one object fetched ``concurrency`` at a time, at most ``budget`` bytes held.

    ``count(nbytes)`` is called once per request whose bytes arrived (on the caller's
    thread), so the owner's ``bytes_read``/``requests`` include prefetched bytes, read or not.
    A span whose wanted bytes were all served stays held until its room is needed: the
    bytes it took along between wanted ranges (a gap it was coalesced over) are often
    read next (the rest of a subset window's geolocation, other variables' chunks), and
    dropping them at once fetched them a second time. When the budget is full, spans
    served in full are evicted first, oldest first, then the oldest fetched span (a later
    read of it goes back to on-demand reads).
    """

    def __init__(self, fetch: Fetch, *, name: str, concurrency: int, count: Callable[[int], None],
                 budget: int = DEFAULT_BUDGET) -> None:
        if concurrency <= 0 or budget <= 0:
            raise ValueError("concurrency and budget must be positive")
        self._fetch = fetch
        self._name = name
        self._concurrency = concurrency
        self._count = count
        self._budget = budget
        self._pool: ThreadPoolExecutor | None = None
        self._starts: list[int] = []  # sorted starts of the held spans, for lookup
        self._held: dict[int, _Held] = {}  # by start
        self._queue: deque[_Held] = deque()  # not yet submitted, in the order given
        self._submitted: deque[_Held] = deque()  # in submission order, for eviction
        self._used = 0  # bytes of submitted spans still held

    @property
    def held_bytes(self) -> int:
        """Return the bytes of requests submitted and not yet dropped."""
        return self._used

    def add(self, spans: Iterable[Span]) -> int:
        """Queue spans (less what spans already held cover); return bytes queued."""
        queued = 0
        for piece in (p for span in spans for p in self._uncovered(span)):
            i = bisect.bisect_right(self._starts, piece.start)
            held = _Held(piece)
            self._starts.insert(i, piece.start)
            self._held[piece.start] = held
            self._queue.append(held)
            queued += piece.stop - piece.start
        self._pump()
        return queued

    def _uncovered(self, span: Span) -> list[Span]:
        """Return the parts of ``span`` no held span covers (its wanted bytes shared out)."""
        pieces = []
        pos = span.start
        i = max(0, bisect.bisect_right(self._starts, span.start) - 1)
        while pos < span.stop:
            held = self._held[self._starts[i]] if i < len(self._starts) else None
            if held is None or held.span.start >= span.stop:
                pieces.append((pos, span.stop))
                break
            if held.span.stop <= pos:
                i += 1
                continue
            if held.span.start > pos:
                pieces.append((pos, held.span.start))
            pos = max(pos, held.span.stop)
            i += 1
        length = span.stop - span.start
        return [Span(lo, hi, min(hi - lo, max(1, span.wanted * (hi - lo) // length)))
                for lo, hi in pieces if hi > lo]

    def serve(self, pos: int, out: memoryview) -> tuple[int, int | None]:
        """Copy held bytes at ``pos`` into ``out``; return (bytes copied, next held start).

        Raises the fetch's error (e.g. ArchiveError naming the object) if it failed.
        """
        i = bisect.bisect_right(self._starts, pos)
        held = self._held[self._starts[i - 1]] if i else None
        if held is None or held.span.stop <= pos:
            nxt = self._starts[i] if i < len(self._starts) else None
            return 0, nxt
        data = self._result(held)
        offset = pos - held.span.start
        n = min(len(out), len(data) - offset)
        out[:n] = data[offset : offset + n]
        held.served += n
        if held.served >= held.span.wanted and self._queue:
            self._pump()  # its room may go to the next queued span
        return n, None

    def clear(self) -> None:
        """Drop every span: queued ones are forgotten, running requests finish and count."""
        self._queue.clear()
        futures = [h.future for h in self._submitted if h.future is not None]
        for future in futures:
            future.cancel()
        wait(futures)
        for held in self._submitted:
            self._count_arrived(held)
        self._submitted.clear()
        self._starts.clear()
        self._held.clear()
        self._used = 0

    def close(self) -> None:
        """Clear and stop the threads."""
        self.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _pump(self) -> None:
        """Submit queued spans while the budget allows (always one if nothing is held),
        making room by evicting spans already served in full."""
        while self._queue:
            size = self._queue[0].span.stop - self._queue[0].span.start
            if self._used + size > self._budget:
                self._evict_served(size)
            if self._used + size > self._budget and self._submitted:
                return
            self._submit(self._queue.popleft())

    def _evict_served(self, size: int) -> None:
        """Evict spans whose wanted bytes were all served, oldest first, until ``size`` fits."""
        for held in list(self._submitted):
            if self._used + size <= self._budget:
                return
            if held.served >= held.span.wanted and held.data is not None:
                self._drop(held)

    def _submit(self, held: _Held) -> Future[bytes]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="prefetch")
        future = self._pool.submit(self._fetch, held.span.start, held.span.stop)
        held.future = future
        self._submitted.append(held)
        self._used += held.span.stop - held.span.start
        return future

    def _result(self, held: _Held) -> memoryview:
        """Return a span's bytes, submitting it now if it was still queued."""
        if held.data is not None:
            return held.data
        future = held.future
        if future is None:  # read before its turn: fetch it now, over the budget if need be
            self._queue.remove(held)
            self._make_room(held.span.stop - held.span.start)
            future = self._submit(held)
        data = future.result()  # raises the fetch's own error
        start, stop = held.span.start, held.span.stop
        self._count_arrived(held)
        if len(data) != stop - start:
            raise ArchiveError(f"{self._name}: range {start}-{stop} returned {len(data)} bytes; "
                               "the object changed or was truncated", key=self._name)
        held.data = memoryview(data)  # slices of it are then copied once, into the reader
        return held.data

    def _make_room(self, size: int) -> None:
        """Evict spans served in full, then the oldest fetched ones, until ``size`` more
        bytes fit in the budget."""
        self._evict_served(size)
        for held in list(self._submitted):
            if self._used + size <= self._budget:
                return
            if held.future is not None and held.future.done():
                self._drop(held)

    def _count_arrived(self, held: _Held) -> None:
        """Count a span's request once, if its bytes arrived (read or not)."""
        future = held.future
        if (future is not None and not held.counted and future.done()
                and not future.cancelled() and future.exception() is None):
            held.counted = True
            self._count(len(future.result()))

    def _drop(self, held: _Held) -> None:
        self._count_arrived(held)
        self._submitted.remove(held)
        self._used -= held.span.stop - held.span.start
        i = bisect.bisect_left(self._starts, held.span.start)
        del self._starts[i]
        del self._held[held.span.start]

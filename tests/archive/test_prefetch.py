"""Prefetch: coalescing of byte ranges, and a RangedFile serving prefetched bytes exactly."""

from __future__ import annotations

import random
import threading

import pytest

from archive.errors import ArchiveError
from archive.prefetch import Span, coalesce
from archive.ranged import RangedFile
from tests.archive.conftest import MiB, payload

KiB = 1024


def test_adjacent_and_near_ranges_merge_into_one_request() -> None:
    spans = coalesce([(0, 100), (100, 300), (300 + 10 * KiB, 400 + 10 * KiB)],
                     max_gap=16 * KiB)
    assert spans == [Span(0, 400 + 10 * KiB, 400)]


def test_a_gap_over_the_threshold_splits_the_requests() -> None:
    spans = coalesce([(0, 100), (100 + 16 * KiB + 1, 200 + 16 * KiB)], max_gap=16 * KiB)
    assert [(s.start, s.stop) for s in spans] == [(0, 100), (100 + 16 * KiB + 1, 200 + 16 * KiB)]


def test_no_request_grows_past_the_cap_and_a_long_range_is_cut() -> None:
    chunks = [(i * MiB, (i + 1) * MiB) for i in range(10)]
    spans = coalesce(chunks + [(20 * MiB, 29 * MiB)], max_request=4 * MiB)
    assert all(s.stop - s.start <= 4 * MiB for s in spans)
    assert [(s.start, s.stop) for s in spans] == [
        (0, 4 * MiB), (4 * MiB, 8 * MiB), (8 * MiB, 10 * MiB),
        (20 * MiB, 24 * MiB), (24 * MiB, 28 * MiB), (28 * MiB, 29 * MiB)]
    assert sum(s.wanted for s in spans) == 19 * MiB


def test_overlapping_and_empty_ranges_are_fetched_once() -> None:
    spans = coalesce([(50, 150), (0, 100), (120, 120), (0, 100)], max_gap=0)
    assert spans == [Span(0, 150, 150)]


def recording_fetch(data: bytes) -> tuple[list[tuple[int, int]], object]:
    calls: list[tuple[int, int]] = []
    lock = threading.Lock()

    def fetch(start: int, stop: int) -> bytes:
        with lock:
            calls.append((start, stop))
        return data[start:stop]

    return calls, fetch


def test_prefetched_ranges_are_served_byte_for_byte_and_counted_as_read() -> None:
    data = payload(8 * MiB + 333, seed=4)
    calls, fetch = recording_fetch(data)
    rng = random.Random(5)
    chunks = sorted((lo, lo + rng.randrange(1, 300 * KiB))
                    for lo in rng.sample(range(0, 8 * MiB), 20))
    with RangedFile(fetch, len(data), name="k", block_size=64 * KiB,  # type: ignore[arg-type]
                    prefetch_concurrency=4) as ranged:
        queued = ranged.prefetch(chunks)
        assert queued >= sum(min(hi, len(data)) - lo for lo, hi in chunks) * 0.5
        for lo, hi in chunks:
            ranged.seek(lo)
            assert ranged.read(hi - lo) == data[lo:min(hi, len(data))]
        prefetched = len(calls)
        assert ranged.requests == prefetched  # every chunk came from a prefetched request
        assert ranged.bytes_read == sum(stop - start for start, stop in calls)
        ranged.seek(len(data) - 100)  # outside them: the block cache as before
        assert ranged.read() == data[-100:]
        assert ranged.requests == prefetched + 1


def test_held_bytes_stay_within_the_budget_as_reads_consume_them() -> None:
    data = payload(16 * MiB, seed=6)
    calls, fetch = recording_fetch(data)
    chunks = [(i * 2 * MiB, i * 2 * MiB + MiB) for i in range(8)]  # gaps: one request each
    with RangedFile(fetch, len(data), name="k", prefetch_concurrency=2,  # type: ignore[arg-type]
                    prefetch_budget=3 * MiB) as ranged:
        ranged.prefetch(chunks)
        held = ranged._prefetch.held_bytes  # type: ignore[union-attr]
        assert held <= 3 * MiB
        for lo, hi in chunks:
            ranged.seek(lo)
            assert ranged.read(hi - lo) == data[lo:hi]
            assert ranged._prefetch.held_bytes <= 3 * MiB  # type: ignore[union-attr]
        assert sorted(calls) == chunks


def test_a_range_read_before_its_turn_is_fetched_at_once() -> None:
    data = payload(8 * MiB, seed=7)
    calls, fetch = recording_fetch(data)
    chunks = [(i * 2 * MiB, i * 2 * MiB + MiB) for i in range(4)]
    with RangedFile(fetch, len(data), name="k", prefetch_concurrency=1,  # type: ignore[arg-type]
                    prefetch_budget=MiB) as ranged:
        ranged.prefetch(chunks)
        lo, hi = chunks[3]  # queued behind the budget
        ranged.seek(lo)
        assert ranged.read(hi - lo) == data[lo:hi]
        assert chunks[3] in calls


def test_a_failed_prefetch_surfaces_as_the_fetch_error_when_its_bytes_are_read() -> None:
    data = payload(4 * MiB, seed=8)

    def fetch(start: int, stop: int) -> bytes:
        if start >= 2 * MiB:
            raise ArchiveError("k: changed in s3 while being read", key="k", store="s3")
        return data[start:stop]

    with RangedFile(fetch, len(data), name="k", prefetch_concurrency=2) as ranged:
        ranged.prefetch([(0, MiB), (3 * MiB, 4 * MiB)])
        assert ranged.read(MiB) == data[:MiB]
        ranged.seek(3 * MiB)
        with pytest.raises(ArchiveError, match="k: changed"):
            ranged.read(10)


def test_prefetch_does_nothing_when_the_fetch_is_not_declared_thread_safe() -> None:
    data = payload(MiB, seed=9)
    calls, fetch = recording_fetch(data)
    with RangedFile(fetch, len(data), name="k") as ranged:  # type: ignore[arg-type]
        assert not ranged.can_prefetch
        assert ranged.prefetch([(0, 1000)]) == 0
        assert calls == []


@pytest.mark.parametrize("concurrency", [0, 4])
def test_fetch_cost_is_what_prefetching_and_reading_the_ranges_then_fetch(
        concurrency: int) -> None:
    data = payload(8 * MiB + 333, seed=9)
    calls, fetch = recording_fetch(data)
    rng = random.Random(10)
    starts = sorted(rng.sample(range(0, 8 * MiB), 20)) + [len(data)]
    # Disjoint, as an HDF5 file's chunks are.
    chunks = [(lo, lo + rng.randrange(1, min(300 * KiB, nxt - lo) + 1))
              for lo, nxt in zip(starts[:-1], starts[1:], strict=True)]
    with RangedFile(fetch, len(data), name="k", block_size=64 * KiB,  # type: ignore[arg-type]
                    readahead_blocks=1, cache_blocks=1000,
                    prefetch_concurrency=concurrency) as ranged:
        ranged.seek(3 * MiB)
        ranged.read(200 * KiB)  # some of it cached already, as after a plan
        before = ranged.bytes_read
        cost = ranged.fetch_cost(chunks)
        assert ranged.bytes_read == before  # nothing fetched to answer
        ranged.prefetch(chunks)  # as the kernel does before reading a window
        for lo, hi in chunks:
            ranged.seek(lo)
            ranged.read(hi - lo)
        assert cost == ranged.bytes_read - before > 0
        # Blocks stay cached; prefetched bytes are dropped once read, so they cost again.
        assert (ranged.fetch_cost(chunks) == 0) == (concurrency == 0)
    assert calls

"""Running a work function over items: serial, a process pool, or MPI ranks (hpc.mpi).

Every mapping calls the same top-level work function through ``policy.run_item`` and
returns the same ``Outcome``, so a job gives the same outputs on a laptop, in a test
and on a cluster (dispel4py's "one workflow, several mappings").
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from hpc import limits
from hpc.policy import Cancellations, Work, run_item

OnResult = Callable[[dict[str, Any]], None]


@dataclass
class WorkerStats:
    """What one rank (or pool process) did: its items, busy and wall time, bytes."""

    rank: int
    host: str
    pid: int
    items: int = 0
    busy_s: float = 0.0
    wall_s: float = 0.0
    bytes_read: int = 0
    bytes_written: int = 0
    cpu_s: float = 0.0  # user + system CPU of the process: busy_s much above it = waiting
    log: str | None = None

    def add(self, result: dict[str, Any]) -> None:
        """Count one item's result (a cancelled item never ran: not counted)."""
        if result.get("status") == "cancelled":
            return
        self.items += 1
        self.busy_s += float(result.get("seconds") or 0.0)
        self.bytes_read += int(result.get("bytes_read") or 0)
        self.bytes_written += int(result.get("bytes_written") or 0)


@dataclass
class Outcome:
    """What a mapping returns on the coordinating process."""

    results: list[dict[str, Any]] = field(default_factory=list)
    workers: list[WorkerStats] = field(default_factory=list)
    aborted: bool = False  # the failure policy stopped the job early
    wall_s: float = 0.0


def cpu_seconds() -> float:
    """Return this process's user + system CPU time so far, with its item children's."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + limits.child_cpu_seconds()


def largest_first(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return items by decreasing size (unknown sizes last), ties in manifest order."""
    order = sorted(range(len(items)), key=lambda i: (-(items[i].get("size") or 0), i))
    return [items[i] for i in order]


def block(items: Sequence[dict[str, Any]], rank: int, size: int) -> list[dict[str, Any]]:
    """Return rank's contiguous block of the items in manifest order (static partition).

    >>> [len(block(list(range(10)), r, 3)) for r in range(3)]
    [3, 3, 4]
    """
    n = len(items)
    return list(items[rank * n // size:(rank + 1) * n // size])


def is_fatal(result: dict[str, Any]) -> bool:
    """Return True if the result ends the job under its policy."""
    return result.get("status") == "failed"


def run_serial(items: Sequence[dict[str, Any]], work: Work, job: dict[str, Any],
               on_result: OnResult) -> Outcome:
    """Run every item in this process, in manifest order."""
    t0, cpu0 = time.monotonic(), cpu_seconds()
    stats = WorkerStats(0, socket.gethostname(), os.getpid())
    outcome = Outcome(workers=[stats])
    groups = Cancellations(job)
    try:
        for item in items:
            result = groups.cancelled(item) or run_item(work, item, job)
            result["rank"] = 0
            stats.add(result)
            outcome.results.append(result)
            on_result(result)
            groups.close(result)
            if is_fatal(result):
                outcome.aborted = True
                break
    finally:
        limits.close()
    outcome.wall_s = stats.wall_s = time.monotonic() - t0
    stats.cpu_s = cpu_seconds() - cpu0
    return outcome


def _in_pool(work: Work, item: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Run one item in a pool process and say which process ran it."""
    result = run_item(work, item, job)
    result["pid"], result["cpu_total"] = os.getpid(), cpu_seconds()
    return result


def _cancel_group(pending: dict[Future[dict[str, Any]], dict[str, Any]], groups: Cancellations,
                  outcome: Outcome, on_result: OnResult, rank: int) -> None:
    """Cancel the queued futures of closed groups; their items are reported cancelled, on
    the ``rank`` (pool process) whose failure closed the group."""
    for future, item in list(pending.items()):
        result = groups.cancelled(item)
        if result is not None and future.cancel():
            del pending[future]
            result["rank"] = rank
            outcome.results.append(result)
            on_result(result)


def run_processes(items: Sequence[dict[str, Any]], work: Work, job: dict[str, Any],
                  on_result: OnResult, workers: int) -> Outcome:
    """Run the items in a pool of ``workers`` fresh processes, largest first.

    Processes are spawned, not forked: netCDF-C/HDF5 and boto3 clients must not be
    shared with a parent (STYLE 13). A fatal result cancels what has not started;
    under cancel-successors, what has not started of the failed item's group.
    """
    t0 = time.monotonic()
    outcome = Outcome()
    by_pid: dict[int, WorkerStats] = {}
    context = multiprocessing.get_context("spawn")
    groups = Cancellations(job)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: dict[Future[dict[str, Any]], dict[str, Any]] = {
            pool.submit(_in_pool, work, item, job): item for item in largest_first(items)}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                pending.pop(future, None)
                if future.cancelled():
                    continue
                result = future.result()
                pid = int(result.pop("pid"))
                stats = by_pid.setdefault(
                    pid, WorkerStats(len(by_pid), socket.gethostname(), pid))
                result["rank"] = stats.rank
                stats.cpu_s = max(stats.cpu_s, float(result.pop("cpu_total")))
                stats.add(result)
                outcome.results.append(result)
                on_result(result)
                if groups.close(result):
                    _cancel_group(pending, groups, outcome, on_result, stats.rank)
                if is_fatal(result) and not outcome.aborted:
                    outcome.aborted = True
                    for other in pending:
                        other.cancel()
    outcome.wall_s = time.monotonic() - t0
    for stats in by_pid.values():
        stats.wall_s = outcome.wall_s
    outcome.workers = sorted(by_pid.values(), key=lambda s: s.rank)
    return outcome

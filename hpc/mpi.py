"""Running items on MPI ranks: dynamic master-worker dispatch or a static block partition.

Dynamic (PyStager's "granular asymmetrical dispatching"): rank 0 keeps the items
largest first and hands the next one to whichever rank asks; each request carries the
asker's previous result, so rank 0 sees progress as it happens. Rank 0 also works
(``rank0_works``): a service thread answers requests while the main thread cuts
subsets; on 2 ranks a dispatch-only rank 0 would leave half the machine idle
(docs/HPC.md has the measurements). Static: each rank takes its contiguous block of
the manifest and sends results as it goes.

Nobody busy-waits: Open MPI's blocking receive spins a core, which on a shared node
steals it from a rank that is working, so every wait here is ``iprobe`` plus a short
sleep. A ``failed`` result (policy ``fail``) makes rank 0 stop handing out items and
tell static ranks to stop; every rank then says goodbye with its statistics (the
gather that confirms success), and rank 0 sends each the job's exit code.

Under cancel-successors a failure closes its group: rank 0 drops the group's queued
items at once (dynamic) and reports them cancelled; static ranks are sent the group
(CANCEL) and cancel their own unstarted items of it when the message arrives.
"""

from __future__ import annotations

import collections
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from hpc import limits
from hpc.policy import Cancellations, Work, run_item
from hpc.scheduler import (
    OnResult,
    Outcome,
    WorkerStats,
    block,
    cpu_seconds,
    is_fatal,
    largest_first,
)

REQUEST, WORK, RESULT, BYE, ABORT, FINAL, JOB, CANCEL = range(11, 19)
POLL_S = 0.001  # a waiting worker rank: idle anyway, answer fast
SERVE_POLL_S = 0.005  # rank 0's service thread: wakes beside a working main thread


def sleepy_recv(comm: Any, source: int, tag: int, poll: float = POLL_S) -> Any:
    """Receive one message without spinning a core while waiting; return (object, source)."""
    from mpi4py import MPI

    status = MPI.Status()
    while not comm.iprobe(source=source, tag=tag, status=status):
        time.sleep(poll)
    return comm.recv(source=status.Get_source(), tag=status.Get_tag()), status.Get_source()


def share(comm: Any, obj: Any = None) -> Any:
    """Broadcast ``obj`` from rank 0 (sleepy on the receiving ranks); return it everywhere."""
    if comm.rank == 0:
        for dest in range(1, comm.size):
            comm.send(obj, dest=dest, tag=JOB)
        return obj
    return sleepy_recv(comm, 0, JOB)[0]


class _Coordinator:
    """Rank 0's state: the queue, the results, who has said goodbye."""

    def __init__(self, comm: Any, items: list[dict[str, Any]], on_result: OnResult,
                 log: Callable[[str], None], job: dict[str, Any]) -> None:
        self.comm = comm
        self.queue = collections.deque(items)
        self.lock = threading.Lock()
        self.outcome = Outcome()
        self.on_result = on_result
        self.log = log
        self.byes: dict[int, dict[str, Any]] = {}
        self.aborted_sent: set[int] = set()
        self.groups = Cancellations(job)
        self.to_announce: list[tuple[str, str]] = []  # closed groups static ranks must hear

    def next_item(self) -> dict[str, Any] | None:
        with self.lock:
            return self.queue.popleft() if self.queue and not self.outcome.aborted else None

    def record(self, result: dict[str, Any]) -> None:
        with self.lock:
            self.outcome.results.append(result)
            if is_fatal(result) and not self.outcome.aborted:
                self.outcome.aborted = True
                self.log(f"item {result['id']} failed: stopping the job ({result['reason']})")
            self.on_result(result)
            if self.groups.close(result):
                self.to_announce.append((result["cancels"], result["id"]))
                self.log(f"item {result['id']} failed: cancelling the unstarted items of "
                         f"{result['cancels']}")
                kept: collections.deque[dict[str, Any]] = collections.deque()
                for item in self.queue:
                    cancelled = self.groups.cancelled(item)
                    if cancelled is None:
                        kept.append(item)
                        continue
                    cancelled["rank"] = result.get("rank")
                    self.log(f"cancelled {item['id']}: {cancelled['reason']}")
                    self.outcome.results.append(cancelled)
                    self.on_result(cancelled)
                self.queue = kept

    def serve(self, static: bool) -> None:
        """Answer requests and collect results until every other rank has said goodbye."""
        from mpi4py import MPI

        comm = self.comm
        status = MPI.Status()
        while len(self.byes) < comm.size - 1:
            while static and self.to_announce:
                with self.lock:
                    closed = self.to_announce.pop(0)
                for dest in range(1, comm.size):
                    if dest not in self.byes:
                        comm.send(closed, dest=dest, tag=CANCEL)
            if self.outcome.aborted and static:
                for dest in range(1, comm.size):
                    if dest not in self.byes and dest not in self.aborted_sent:
                        comm.send(None, dest=dest, tag=ABORT)
                        self.aborted_sent.add(dest)
            if not comm.iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
                time.sleep(SERVE_POLL_S)
                continue
            source, tag = status.Get_source(), status.Get_tag()
            msg = comm.recv(source=source, tag=tag)
            if tag in (REQUEST, RESULT) and msg is not None:
                self.record(msg)
            if tag == REQUEST:
                comm.send(self.next_item(), dest=source, tag=WORK)
            elif tag == BYE:
                self.byes[source] = msg


def _stats(rank: int, t0: float, cpu0: float, results: list[dict[str, Any]],
           log: str | None) -> WorkerStats:
    stats = WorkerStats(rank, socket.gethostname(), os.getpid(), log=log)
    for result in results:
        stats.add(result)
    stats.wall_s = time.monotonic() - t0
    stats.cpu_s = cpu_seconds() - cpu0
    return stats


def run_mpi(comm: Any, items: list[dict[str, Any]] | None, work: Work, job: dict[str, Any],
            on_result: OnResult, log: Callable[[str], None], *, schedule: str = "dynamic",
            rank0_works: bool = True, log_path: str | None = None) -> Outcome | None:
    """Run the items over ``comm``; rank 0 returns the Outcome, the others None.

    ``items`` is needed on rank 0 (dynamic) or on every rank (static).
    """
    t0, cpu0 = time.monotonic(), cpu_seconds()
    rank, size = comm.rank, comm.size
    static = schedule == "static"
    if rank != 0:
        mine: list[dict[str, Any]] = []
        if static:
            groups = Cancellations(job)
            for item in block(items or [], rank, size):
                if comm.iprobe(source=0, tag=ABORT):
                    comm.recv(source=0, tag=ABORT)
                    log("rank 0 asked to stop")
                    break
                while comm.iprobe(source=0, tag=CANCEL):
                    group, by = comm.recv(source=0, tag=CANCEL)
                    groups.close({"id": by, "cancels": group})
                result = groups.cancelled(item)
                if result is not None:
                    result["rank"] = rank
                    log(f"cancelled {item['id']}: {result['reason']}")
                else:
                    result = _run(work, item, job, rank, log)
                    groups.close(result)
                mine.append(result)
                comm.send(result, dest=0, tag=RESULT)
                if is_fatal(result):
                    break
        else:
            result = None
            while True:
                comm.send(result, dest=0, tag=REQUEST)
                item, _ = sleepy_recv(comm, 0, WORK)
                if item is None:
                    break
                result = _run(work, item, job, rank, log)
                mine.append(result)
        limits.close()
        comm.send(_stats(rank, t0, cpu0, mine, log_path).__dict__, dest=0, tag=BYE)
        while comm.iprobe(source=0, tag=CANCEL):  # announced after this rank's last item
            comm.recv(source=0, tag=CANCEL)
        return None

    from mpi4py import MPI

    queue = block(items or [], 0, size) if static else largest_first(items or [])
    coord = _Coordinator(comm, queue, on_result, log, job)
    works = rank0_works or size == 1 or static
    # The service thread beside the working main thread needs MPI's THREAD_SERIALIZED.
    threaded = size > 1 and works and MPI.Query_thread() >= MPI.THREAD_SERIALIZED
    if size > 1 and works and not threaded and not static:
        log("MPI gives no thread support beyond FUNNELED: rank 0 only dispatches")
        works = False
    server = None
    if threaded:
        server = threading.Thread(target=coord.serve, args=(static,), name="hpc-dispatch",
                                  daemon=True)
        server.start()
    mine = []
    while works and (mine_next := coord.next_item()) is not None:
        result = _run(work, mine_next, job, 0, log)
        mine.append(result)
        coord.record(result)
    limits.close()
    if server is not None:
        while server.is_alive():
            server.join(0.05)
    elif size > 1:
        coord.serve(static)
    outcome = coord.outcome
    outcome.workers = [_stats(0, t0, cpu0, mine, log_path)]
    for source in sorted(coord.byes):
        outcome.workers.append(WorkerStats(**coord.byes[source]))
    outcome.wall_s = time.monotonic() - t0
    return outcome


def _run(work: Work, item: dict[str, Any], job: dict[str, Any], rank: int,
         log: Callable[[str], None]) -> dict[str, Any]:
    log(f"start {item['id']} ({(item.get('size') or 0) / 1e6:.1f} MB)")
    result = run_item(work, item, job)
    result["rank"] = rank
    if result["status"] not in ("failed", "skipped"):
        result.pop("traceback", None)
    log(f"{result['status']} {item['id']} in {result['seconds']:.2f} s, read "
        f"{result['bytes_read'] / 1e6:.1f} MB, wrote {result['bytes_written'] / 1e6:.1f} MB"
        + (f", attempts {result['attempts']}" if result.get("attempts", 1) > 1 else "")
        + (f": {result['reason']}" if result.get("reason") else ""))
    return result


def finish(comm: Any, code: int) -> int:
    """Send every rank the job's exit code (rank 0) or wait for it (others); return it."""
    if comm.rank == 0:
        for dest in range(1, comm.size):
            comm.send(code, dest=dest, tag=FINAL)
        return code
    return int(sleepy_recv(comm, 0, FINAL, poll=0.01)[0])

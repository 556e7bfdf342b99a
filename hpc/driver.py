"""What every batch command shares: set up on rank 0, share, run a mapping, log, finish."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpc.policy import Work
from hpc.report import Progress, RankLog
from hpc.scheduler import Outcome, run_processes, run_serial

Plan = Callable[[], tuple[list[dict[str, Any]], dict[str, Any]]]
SETUP_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, RuntimeError, KeyError)


def world(mapping: str) -> Any:
    """Return MPI's COMM_WORLD for the mpi mapping (MPI starts here), else None."""
    if mapping != "mpi":
        return None
    from mpi4py import MPI

    return MPI.COMM_WORLD


def setup(comm: Any, plan: Plan, static: bool
          ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, str | None]:
    """Plan on rank 0 and share (job, error, and the items if every rank needs them)."""
    rank = comm.rank if comm is not None else 0
    items: list[dict[str, Any]] = []
    job = error = None
    if rank == 0:
        try:
            items, job = plan()
        except SETUP_ERRORS as e:
            error = f"{type(e).__name__}: {e}"
    if comm is not None:
        from hpc.mpi import share

        shared = share(comm, (items if static else None, job, error))
        if rank != 0:
            items = shared[0] or []
        job, error = shared[1], shared[2]
    return items, job, error


@dataclass
class Job:
    """A batch command's run on this rank: ``outcome`` is the coordinator's, else None."""

    comm: Any
    items: list[dict[str, Any]]
    job: dict[str, Any]
    outcome: Outcome | None


def run_job(args: Any, plan: Plan, work: Work, label: str,
            warm_up: Callable[[], None] | None = None) -> Job | None:
    """world, setup and execute for a command's parsed ``args``; None when planning failed
    (the reason printed once, by rank 0)."""
    comm = world(args.mapping)
    items, job, error = setup(comm, plan, args.schedule == "static")
    if error is not None or job is None:
        if comm is None or comm.rank == 0:
            print(f"{label}: {error}", file=sys.stderr)
        return None
    if warm_up is not None:
        warm_up()
    return Job(comm, items, job, execute(comm, items, job, work, label=label,
                                         progress_s=args.progress, workers=args.workers))


def execute(comm: Any, items: list[dict[str, Any]], job: dict[str, Any], work: Work, *,
            label: str, progress_s: float, workers: int = 1) -> Outcome | None:
    """Run ``work`` over the items in the job's mapping; the coordinator gets the Outcome."""
    rank = comm.rank if comm is not None else 0
    # Each worker compresses its output on its share of the node's cores, so -n 1 uses
    # them all and -n 2 on two cores does not run four compressing threads.
    job = {**job, "codec_threads": codec_threads(comm, workers if job["mapping"] ==
                                                 "processes" else 1)}
    log = RankLog(str(Path(job["log_dir"]) / f"rank-{rank}.log"), rank)
    log(f"rank {rank} pid {os.getpid()} host {os.uname().nodename} job {job['job_id']} "
        f"mapping {job['mapping']} schedule {job['schedule']}")
    progress = Progress(len(items), sum(i.get("size") or 0 for i in items), progress_s,
                        label=label)

    def on_result(result: dict[str, Any]) -> None:
        progress(result)
        if comm is None:
            log(f"{result['status']} {result['id']} {result.get('seconds', 0):.2f} s"
                + (f": {result['reason']}" if result.get("reason") else ""))

    try:
        if comm is None:
            print(f"[{label}] job {job['job_id']}: {len(items)} items, mapping "
                  f"{job['mapping']}; logs in {job['log_dir']}", flush=True)
            if job["mapping"] == "serial":
                return run_serial(items, work, job, on_result)
            return run_processes(items, work, job, on_result, workers)
        from hpc.mpi import run_mpi

        if rank == 0:
            print(f"[{label}] job {job['job_id']}: {len(items)} items on {comm.size} ranks, "
                  f"schedule {job['schedule']}, rank 0 {job.get('rank0', 'work')}s; logs in "
                  f"{job['log_dir']}", flush=True)
        return run_mpi(comm, items, work, job, on_result, log, schedule=job["schedule"],
                       rank0_works=job.get("rank0", "work") == "work", log_path=log.path)
    finally:
        # The job promises no Django on workers; the log says so for every rank.
        log(f"exit (django loaded: {'django' in sys.modules})")
        log.close()


def codec_threads(comm: Any, workers: int) -> int:
    """Return this worker's share of the node's cores (at least 1)."""
    from subset.chunkwrite import default_threads

    if comm is not None:
        from mpi4py import MPI

        node = comm.Split_type(MPI.COMM_TYPE_SHARED)  # the ranks on this node
        workers = node.size
        node.Free()
    return max(1, default_threads() // max(1, workers))


def finish(comm: Any, code: int) -> int:
    """Share rank 0's exit code with every rank (MPI) and return it."""
    if comm is None:
        return code
    from hpc.mpi import finish as mpi_finish

    return mpi_finish(comm, code)

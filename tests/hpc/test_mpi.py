"""hpc.extract under a real ``mpirun -n 2``: schedules, abort on failure, crashes, resume."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpc.extract import main
from tests.hpc.conftest import outputs_of, report_of
from tests.hpc.helpers import MPI_ENV, REPO, run_extract

pytestmark = pytest.mark.mpi


@pytest.fixture
def baseline(node_env: dict, manifest: Path, tmp_path: Path) -> dict[str, bytes]:
    """The outputs of a clean serial run (in this process)."""
    out = tmp_path / "serial"
    assert main(["--manifest", str(manifest), "--out", str(out), "--mapping", "serial",
                 "--progress", "60"]) == 0
    return outputs_of(out)


def mpi_args(manifest: Path, out: Path, *extra: str) -> list[str]:
    return ["--manifest", str(manifest), "--out", str(out), "--retry-backoff", "0.01",
            "--progress", "0.5", *extra]


def rank_logs(out: Path) -> dict[int, str]:
    return {int(p.stem.split("-")[1]): p.read_text()
            for p in sorted((out / "_logs").glob("*/rank-*.log"))}


@pytest.mark.parametrize("schedule", ["dynamic", "static"])
def test_two_ranks_share_the_work_and_write_what_a_serial_run_writes(
        node_env: dict, manifest: Path, baseline: dict, tmp_path: Path, schedule: str) -> None:
    out = tmp_path / schedule
    done = run_extract(mpi_args(manifest, out, "--schedule", schedule), node_env, ranks=2)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert outputs_of(out) == baseline
    summary = report_of(out)
    assert summary["complete"] and summary["job"]["ranks"] == 2
    assert [r["rank"] for r in summary["ranks"]] == [0, 1]
    assert all(r["items"] >= 1 for r in summary["ranks"])
    assert re.search(r"\[hpc.extract\] \d+/\d+ \(\d+%\)", done.stdout)  # progress lines
    logs = rank_logs(out)
    assert set(logs) == {0, 1}
    for text in logs.values():
        assert "django loaded: False" in text and " done " in text


def test_a_failed_item_under_fail_stops_every_rank_with_a_non_zero_exit(
        node_env: dict, manifest: Path, staged: list[dict], tmp_path: Path) -> None:
    env = {**node_env, "HPC_FAULT": f"fail:{staged[0]['id']},slow:*:0.3"}
    t0 = time.monotonic()
    done = run_extract(mpi_args(manifest, tmp_path / "out",
                                "--on-failure", "fail"), env, ranks=2)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert time.monotonic() - t0 < 30
    summary = report_of(tmp_path / "out")
    assert not summary["complete"] and summary["counts"]["failed"] == 1
    assert "FAILED: nothing may be registered" in done.stdout


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _launch(manifest: Path, out: Path, env: dict) -> subprocess.Popen:
    cmd = ["mpirun", "-n", "2", "--oversubscribe", sys.executable, "-m", "mpi4py", "-m",
           "hpc.extract", *mpi_args(manifest, out)]
    full = {**os.environ, **MPI_ENV, **env, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(cmd, cwd=REPO, env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def rank_pids(out: Path) -> list[int]:
    """Return the pids the rank logs under ``out`` name."""
    return [int(m) for log in (out / "_logs").glob("*/rank-*.log")
            for m in re.findall(r"rank \d+ pid (\d+)", log.read_text())]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").exists() and "zombie" not in \
        Path(f"/proc/{pid}/status").read_text()


def _kill_ranks(out: Path) -> None:
    """SIGKILL every rank the logs under ``out`` name, and wait until they are gone."""
    for pid in rank_pids(out):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _wait_for(lambda: not any(_alive(pid) for pid in rank_pids(out)), 10, "ranks to die")


def _no_strays(out: Path, names: dict[str, bytes]) -> None:
    """Exactly one output and one marker per item; nothing half-written in sight."""
    visible = sorted(p.name for p in out.iterdir() if p.name not in ("_logs", ".partial"))
    assert visible == sorted([*names, *(f"{n}.done" for n in names)])
    assert not list((out / ".partial").iterdir())


def test_a_killed_rank_ends_the_job_within_seconds_and_a_rerun_completes(
        node_env: dict, manifest: Path, baseline: dict, tmp_path: Path) -> None:
    """RELIABILITY P1 and P2: no deadlock, nothing registered, no duplicates after a rerun."""
    out = tmp_path / "out"
    proc = _launch(manifest, out, {**node_env, "HPC_FAULT": "slow:*:1.0"})
    try:
        log1 = lambda: next(iter((out / "_logs").glob("*/rank-1.log")), None)  # noqa: E731
        _wait_for(lambda: log1() is not None and "start " in log1().read_text(), 60,
                  "rank 1 to start an item")
        pid = int(re.search(r"rank 1 pid (\d+)", log1().read_text()).group(1))
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        output, _ = proc.communicate(timeout=30)
        assert time.monotonic() - killed < 10, output[-2000:]
        assert proc.returncode != 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        _kill_ranks(out)
    assert not list((out / "_logs").glob("*/report.json"))  # no complete report to register
    again = run_extract(mpi_args(manifest, out), node_env, ranks=2)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert outputs_of(out) == baseline
    _no_strays(out, baseline)


def test_after_a_sigkill_of_mpirun_a_rerun_resumes_and_never_duplicates(
        node_env: dict, manifest: Path, baseline: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _launch(manifest, out, {**node_env, "HPC_FAULT": "slow:*:0.8"})
    try:
        _wait_for(lambda: len(list(out.glob("*.done"))) >= 1, 60, "a first finished item")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        # Open MPI's ranks sit in process groups of their own and can go on without
        # mpirun (they talk over shared memory): kill them as a batch system kills a step.
        _kill_ranks(out)
        proc.communicate()
    finished = len(list(out.glob("*.done")))
    again = run_extract(mpi_args(manifest, out), node_env, ranks=2)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    counts = report_of(out)["counts"]
    assert counts["resumed"] == finished and counts["done"] == len(baseline) - finished
    assert outputs_of(out) == baseline
    _no_strays(out, baseline)

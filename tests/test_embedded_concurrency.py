"""`manage.py ingest` on the embedded default (SpatiaLite, a directory store, tasks
in-process) with several workers, and after a run killed mid-way (issue 20, item 5).

Each test runs manage.py in a subprocess whose environment is only PATH, HOME and
VAR_DIR, as a new user's `make run` machine has it.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, embedded_env, manage_py
from tests.support.ingesting import copies_of

pytestmark = pytest.mark.slow
RUNS = ("import json; from catalog.models import IngestRun, Swath; print(json.dumps({"
        "'runs': list(IngestRun.objects.order_by('pk').values_list('pk', 'state')), "
        "'verified': sorted(Swath.objects.filter(state='VERIFIED')"
        ".values_list('granule_id', flat=True))}))")


def catalog(env: dict[str, str]) -> dict:
    """The runs (id, state) and the VERIFIED granule ids of the embedded catalog."""
    return json.loads(manage_py(env, "shell", "-c", RUNS).strip().splitlines()[-1])


def ingest(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", "ingest", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def granules(shared_swaths: Path, tmp_path: Path) -> list[str]:
    names = sorted(p.name for p in shared_swaths.iterdir() if p.name != "README.md")
    assert len(names) == 13
    copies_of(shared_swaths, names, tmp_path / "granules")
    return names


def test_four_workers_catalogue_every_shared_granule_on_spatialite(
    granules: list[str], tmp_path: Path
) -> None:
    env = embedded_env(tmp_path / "var")
    manage_py(env, "migrate", "--no-input", "-v0")

    done = ingest(env, str(tmp_path / "granules"), "--collection", "real", "--workers", "4")

    assert done.returncode == 0, done.stdout + done.stderr  # documented: 1 only on failures
    assert "database is locked" not in done.stdout + done.stderr
    summary = done.stdout.split("\ningest run ")[1]
    assert summary.startswith("1: DONE")
    assert "new          13" in summary
    assert "failed        0" in summary
    assert catalog(env) == {"runs": [[1, "DONE"]], "verified": granules}


def test_a_killed_run_is_marked_interrupted_when_the_next_run_starts(
    granules: list[str], tmp_path: Path
) -> None:
    env = embedded_env(tmp_path / "var", PYTHONUNBUFFERED="1")
    manage_py(env, "migrate", "--no-input", "-v0")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "ingest", str(tmp_path / "granules"), "--collection",
         "real", "--workers", "2"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # killed once it has archived a file, mid-run
            if line.startswith("[1/13]"):
                break
        else:
            pytest.fail("the first ingest ended before archiving one file")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()  # no-op once killed; stops it if the loop failed
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert catalog(env)["runs"] == [[1, "RUNNING"]]  # what the kill left

    done = ingest(env, str(tmp_path / "granules"), "--collection", "real", "--workers", "4")

    assert done.returncode == 0, done.stdout + done.stderr
    notice = re.search(r"ingest run 1 \(started .*\) was left RUNNING by a process that "
                       r"no longer exists: marked INTERRUPTED \((\d+) of 13 files done\)",
                       done.stdout)
    assert notice, done.stdout
    assert int(notice.group(1)) >= 1  # what the killed run recorded is kept on its row
    summary = done.stdout.split("\ningest run 2: ")[1]
    assert summary.startswith("DONE")
    assert "failed        0" in summary
    assert "interrupted earlier: run 1 (marked INTERRUPTED" in summary
    # The killed process's upload leases died with it: no file waits for them to expire.
    assert "swath is UPLOADING" not in done.stdout
    assert catalog(env)["runs"] == [[1, "INTERRUPTED"], [2, "DONE"]]
    # A kill between STORED and VERIFIED leaves a row only reconcile verifies (RELIABILITY
    # S3, after_commit_before_verify); with it, every granule is archived once.
    manage_py(env, "reconcile", "--apply")
    assert catalog(env)["verified"] == granules

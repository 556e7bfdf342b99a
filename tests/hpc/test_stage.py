"""hpc.stage: parallel verified copies of a tree, into a directory or the archive store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from archive.stores import Store
from catalog.models import Swath
from hpc.stage import main
from tests.hpc.helpers import MPI_ENV, REPO
from tests.support.s3servers import S3Server

HANGS = Path(__file__).resolve().parents[1] / "faults" / "fixtures"
TIMEOUT_S = 2


@pytest.fixture
def tree(tmp_path: Path, synth_paths: list[Path]) -> Path:
    root = tmp_path / "tree"
    (root / "a" / "b").mkdir(parents=True)
    for n, path in enumerate(synth_paths):
        shutil.copy(path, root / ("a" if n % 2 else "a/b") / path.name)
    os.symlink("/etc/passwd", root / "a" / "link.nc")
    return root


@pytest.mark.mpi
def test_two_ranks_copy_a_tree_identically_and_a_rerun_copies_nothing(
        tree: Path, tmp_path: Path) -> None:
    dest, logs = tmp_path / "copy", tmp_path / "logs"
    cmd = ["mpirun", "-n", "2", "--oversubscribe", sys.executable, "-m", "mpi4py", "-m",
           "hpc.stage", str(tree), str(dest), "--log-dir", str(logs)]
    env = {**os.environ, **MPI_ENV, "PYTHONPATH": str(REPO)}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "4 files" in done.stdout and "2 directories" in done.stdout
    assert "symbolic link: not followed" in done.stdout
    assert "4 of 4 files: source and destination are identical" in done.stdout
    for src in tree.rglob("*.nc"):
        if not src.is_symlink():
            assert (dest / src.relative_to(tree)).read_bytes() == src.read_bytes()
    assert not (dest / "a" / "link.nc").exists()
    report = json.loads((logs / "report.json").read_text())
    assert report["scan"]["per_dir"] and {r["rank"] for r in report["ranks"]} == {0, 1}
    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0
    assert json.loads((logs / "report.json").read_text())["counts"]["resumed"] == 4


@pytest.mark.django_db(transaction=True)
def test_ingest_staging_stores_verified_objects_and_a_manifest_the_catalog_loads(
        tree: Path, tmp_path: Path, s3_primary: Store, node_env: dict) -> None:
    from django.conf import settings

    logs = tmp_path / "logs"
    args = [str(tree), settings.ARCHIVE_STORES["primary"], "--ingest", "--mapping", "serial",
            "--log-dir", str(logs), "--progress", "60"]
    assert main(args) == 0
    records = [json.loads(x) for x in (logs / "register.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all(r["footprint"] and r["start_time"] for r in records)
    for record in records:
        assert s3_primary.head(record["key"]).sha256 == record["sha256"]
    call_command("register", str(logs / "register.jsonl"), "--collection", "staged",
                 "--trust-checksums")
    assert Swath.objects.filter(collection__slug="staged", state="VERIFIED").count() == 4
    assert main(args) == 0  # a rerun stores nothing again
    assert json.loads((logs / "report.json").read_text())["counts"]["resumed"] == 4


@pytest.mark.s3_servers("rclone")  # about the reading child, not the store
def test_ingest_staging_ends_a_file_that_hangs_its_reader_as_that_files_failure(
        tree: Path, tmp_path: Path, s3_server: S3Server, node_env: dict,
        capsys: pytest.CaptureFixture) -> None:
    # A kept fuzz case that never returns from HDF5 (tests/faults/fixtures): read in the
    # rank, it would stall the job for ever.
    hang = HANGS / "timeout-CS_LTA__SIR_SAR_2__20191-zero-185.nc"
    shutil.copy(hang, tree / "a" / hang.name)
    logs = tmp_path / "logs"
    code = main([str(tree), f"s3://{s3_server.bucket}/stage-hang", "--ingest",
                 "--mapping", "serial", "--item-timeout", str(TIMEOUT_S), "--on-failure",
                 "retry:3,skip", "--log-dir", str(logs), "--progress", "60"])
    assert code == 2
    report = json.loads((logs / "report.json").read_text())
    [hung] = report["timeouts"]
    assert hung["cause"] == "timeout" and hung["status"] == "skipped"
    assert hung["seconds"] <= TIMEOUT_S + 5
    assert hung["reason"] == (f"timeout: the item did not finish within {TIMEOUT_S} s "
                              "(child killed)")
    assert next(r for r in report["results"] if r["id"] == hung["id"])["attempts"] == 1
    assert report["counts"]["done"] == 4
    # The other files were stored and registered; the hung one was neither.
    records = [json.loads(x) for x in (logs / "register.jsonl").read_text().splitlines()]
    assert sorted(r["filename"] for r in records) == sorted(p.name for p in tree.rglob(
        "synth-*.nc"))
    assert f"timeout: {hung['id']} on rank 0" in capsys.readouterr().out

"""Fixtures for the batch-job tests: small synthetic swaths in each real S3 server, manifests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hpc import faults, sources
from tests.hpc.helpers import stage, store_env, synth_swaths
from tests.support.s3servers import S3Server

# Four swaths of 0.5-1.6 MB along one orbit (duration s, pixels).
SHAPES = [(60, 300), (40, 200), (90, 300), (30, 250)]


@pytest.fixture(autouse=True)
def requires_mpi(request: pytest.FixtureRequest) -> None:
    """Skip tests marked ``mpi`` where no ``mpirun`` is installed (STYLE 18)."""
    if request.node.get_closest_marker("mpi") and shutil.which("mpirun") is None:
        pytest.skip("mpirun is not installed (apt: openmpi-bin)")


@pytest.fixture(scope="session")
def synth_paths(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The synthetic swath files (written once per session)."""
    return synth_swaths(tmp_path_factory.mktemp("hpc-synth"), SHAPES)


@pytest.fixture(scope="session")
def staged(s3_server: S3Server, synth_paths: list[Path]) -> list[dict]:
    """Manifest items of the synthetic swaths, stored under the server's ``hpc-src/`` prefix
    (once per server)."""
    url = f"s3://{s3_server.bucket}/hpc-src"
    return stage(s3_server.store("hpc-src"), url, synth_paths)


@pytest.fixture
def node_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A compute node's environment (store credentials), also set in this process."""
    env = store_env(s3_server)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HPC_FAULT", raising=False)
    faults.reset()
    sources.reset_stores()
    return env


@pytest.fixture
def manifest(tmp_path: Path, staged: list[dict]) -> Path:
    """A manifest file of the staged swaths."""
    path = tmp_path / "manifest.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in staged))
    return path


def outputs_of(out: Path) -> dict[str, bytes]:
    """Return {file name: bytes} of the .nc outputs in a directory."""
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.nc"))}


def report_of(out: Path) -> dict:
    """Return the newest report.json under OUT/_logs."""
    reports = sorted((out / "_logs").glob("*/report.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(reports[-1].read_text())

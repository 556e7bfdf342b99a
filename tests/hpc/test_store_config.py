"""Compute nodes and Django read the stores from one reader: ranks get the configured
part size, concurrency and credentials, never a store constructor's defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hpc import sources
from tests.hpc.helpers import MPI_ENV, REPO

MiB = 2**20
# Not the defaults (16 MiB x 4) nor S3Store's (8 MiB x 2): a store built without the
# environment's options cannot pass.
NODE_ENV = {
    "S3_PART_SIZE_MB": "24", "S3_CONCURRENCY": "3", "S3_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "node-key", "AWS_SECRET_ACCESS_KEY": "node-secret",
    "STORE_URL": "s3://archive-bucket/swaths", "STORES": "offsite=s3://far-bucket",
    "STORE_OFFSITE_ENDPOINT_URL": "http://127.0.0.2:9", "S3_PROBE_CACHE_SECONDS": "0",
}
# What each process prints of the stores it builds for a manifest's URL, an --out URL
# and the offsite store's URL.
DESCRIBE = (
    "import json, sys\n"
    "def describe(store):\n"
    "    return {'part_size': store.part_size, 'concurrency': store.concurrency,\n"
    "            'endpoint': store.endpoint_url, 'name': store.name,\n"
    "            'key': store._credentials[0]}\n"
)
RANK = DESCRIBE + (
    "from mpi4py import MPI\n"
    "from hpc.sources import store_for\n"
    "urls = ['s3://archive-bucket/swaths', 's3://scratch-bucket/out', 's3://far-bucket']\n"
    "print(json.dumps({'rank': MPI.COMM_WORLD.rank, 'django': 'django' in sys.modules,\n"
    "                  'stores': [describe(store_for(u)) for u in urls]}), flush=True)\n"
)
DJANGO = DESCRIBE + (
    "import archive.config\n"
    "print(json.dumps([describe(archive.config.get_store(n)) for n in ('primary', 'offsite')]))\n"
)


def clean_env(**extra: str) -> dict[str, str]:
    """Only PATH, HOME, the interpreter's path and what the test sets (no inherited stores)."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
            "PYTHONPATH": str(REPO), **extra}


@pytest.mark.mpi
def test_every_rank_builds_its_stores_with_the_configured_part_size_and_concurrency() -> None:
    done = subprocess.run(
        ["mpirun", "-n", "2", "--oversubscribe", sys.executable, "-m", "mpi4py", "-c", RANK],
        cwd=REPO, env=clean_env(**MPI_ENV, **NODE_ENV), capture_output=True, text=True,
        timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert sorted(r["rank"] for r in ranks) == [0, 1]
    for rank in ranks:
        assert rank["django"] is False
        source, out, offsite = rank["stores"]
        for store in (source, out, offsite):
            assert (store["part_size"], store["concurrency"]) == (24 * MiB, 3)
        # The manifest's URL is the configured primary store, keys and all.
        assert source["name"] == "primary" and source["key"] == "node-key"
        assert source["endpoint"] == "http://127.0.0.1:9"
        # A URL no store is named for takes the shared S3 options.
        assert out["endpoint"] == "http://127.0.0.1:9" and out["key"] == "node-key"
        # A named store keeps its own endpoint.
        assert offsite["name"] == "offsite" and offsite["endpoint"] == "http://127.0.0.2:9"


def test_django_builds_the_same_stores_from_the_same_environment(tmp_path: Path) -> None:
    env = clean_env(**NODE_ENV, VAR_DIR=str(tmp_path / "var"))
    django = subprocess.run([sys.executable, "manage.py", "shell", "-c", DJANGO], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=120)
    assert django.returncode == 0, django.stderr[-3000:]
    node = subprocess.run(
        [sys.executable, "-c", DESCRIBE + "from hpc.sources import store_for\n"
         "print(json.dumps([describe(store_for(u)) for u in "
         "('s3://archive-bucket/swaths', 's3://far-bucket')]))"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert node.returncode == 0, node.stderr[-3000:]
    built = json.loads(django.stdout.strip().splitlines()[-1])
    assert built == json.loads(node.stdout)
    assert [s["name"] for s in built] == ["primary", "offsite"]
    assert built[1]["endpoint"] == "http://127.0.0.2:9" and built[1]["part_size"] == 24 * MiB


def test_a_rank_in_this_process_follows_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**NODE_ENV, "STORE_URL": "", "STORES": "",
                        "STORE_OFFSITE_ENDPOINT_URL": ""}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STORE_OFFSITE_ENDPOINT_URL")
    sources.reset_stores()
    try:
        store = sources.store_for("s3://scratch-bucket/elsewhere")
        assert (store.part_size, store.concurrency) == (24 * MiB, 3)  # type: ignore[attr-defined]
        assert sources.store_for("s3://scratch-bucket/elsewhere/") is store  # one per URL
    finally:
        monkeypatch.undo()
        sources.reset_stores()


def test_a_malformed_node_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_CONCURRENCY", "many")
    sources.reset_stores()
    try:
        with pytest.raises(ValueError, match="S3_CONCURRENCY='many' is not an integer"):
            sources.store_for("s3://scratch-bucket/x")
    finally:
        monkeypatch.undo()
        sources.reset_stores()

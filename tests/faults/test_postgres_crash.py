"""D1: PostgreSQL stopped in immediate mode in the middle of an ingest.

A private cluster (tests/faults/conftest.py `private_postgres`), never the machine's
shared one. The ingest CLI runs against it as a subprocess; the database dies at a
seeded moment and comes back; a rerun of the same ingest plus `reconcile --apply`
must leave no VERIFIED row without its object and every file VERIFIED once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.streaming import sha256_file
from tests.conftest import REPO
from tests.faults.conftest import sized
from tests.faults.helpers import make_sources

pytestmark = [pytest.mark.faults, pytest.mark.slow]

MB = 1_000_000


def test_d1_postgres_crash_mid_ingest_loses_nothing(private_postgres, s3_server, s3_prefix,
                                                    rng, tmp_path: Path) -> None:
    pg = private_postgres
    n = sized(4, 20)
    sources = make_sources(tmp_path / "src", n, sized(8, 64) * MB, seed=rng.randrange(1000))
    env = {**os.environ, "DATABASE_URL": pg.url, "VAR_DIR": str(tmp_path / "var"),
           "STORE_URL": f"s3://{s3_server.bucket}/{s3_prefix}",
           "S3_ENDPOINT_URL": s3_server.endpoint_url, "AWS_ACCESS_KEY_ID": s3_server.access_key,
           "AWS_SECRET_ACCESS_KEY": s3_server.secret_key, "S3_REGION": s3_server.region,
           "UPLOAD_LEASE_S": "10", "CELERY_BROKER_URL": "", "S3_PART_SIZE_MB": "5",
           "S3_MULTIPART_THRESHOLD_MB": "5",
           "ARCHIVE_MAX_OBJECT_GB": "40"}
    env.pop("ARCHIVE_FAULT", None)

    def manage(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=timeout)

    migrated = manage("migrate", "-v0")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    ingest = subprocess.Popen(
        [sys.executable, "manage.py", "ingest", str(tmp_path / "src"), "--collection", "d1"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def verified_count() -> int:
        try:
            return int(pg.psql("SELECT count(*) FROM catalog_swath WHERE state='VERIFIED'",
                               db="swathstore") or 0)
        except subprocess.CalledProcessError:
            return 0

    deadline = time.monotonic() + 120
    while verified_count() < 1 and time.monotonic() < deadline and ingest.poll() is None:
        time.sleep(0.05)
    time.sleep(rng.uniform(0.0, 0.5))  # seeded: somewhere inside a later file
    pg.crash()
    time.sleep(1)
    pg.start()
    out, _ = ingest.communicate(timeout=300)
    print(f"D1: the first ingest exited {ingest.returncode} after the crash; tail: "
          f"{out.strip().splitlines()[-1:] if out.strip() else ''}")
    time.sleep(11)  # leases of the interrupted upload have expired
    rerun = manage("ingest", str(tmp_path / "src"), "--collection", "d1")
    reconciled = manage("reconcile", "--apply")
    assert reconciled.returncode == 0, reconciled.stderr[-2000:]
    rows = pg.psql("SELECT s.granule_id, s.state, s.sha256, o.key, o.state FROM catalog_swath s "
                   "LEFT JOIN catalog_storedobject o ON o.swath_id = s.id "
                   "AND o.state IN ('STORED','VERIFIED') ORDER BY 1", db="swathstore")
    table = [line.split("|") for line in rows.splitlines()]
    print(f"D1 rerun exited {rerun.returncode}; rows: {[(r[0], r[1], r[4]) for r in table]}")
    store = s3_server.store(s3_prefix, probe=False)
    by_name = {p.name: p for p in sources}
    verified = [r for r in table if r[1] == "VERIFIED"]
    for granule, _, sha, key, _ in verified:
        assert key, f"{granule} is VERIFIED without a live object row"
        assert store.head(key) is not None, f"{granule}: VERIFIED row points at nothing"
        assert sha == sha256_file(by_name[granule])
        store.verify(key, sha)
    assert sorted(r[0] for r in verified) == sorted(by_name), "every file VERIFIED once"
    assert store.list_uploads() == [] or manage("archive", "cleanup", "--older-than",
                                                "0s").returncode == 0

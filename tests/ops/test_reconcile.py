"""Crashes at each point of an ingest leave states `reconcile --apply` repairs (S3, I1-I6)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

import archive.config
from catalog.models import StoredObject, Swath
from ops.reconcile import reconcile
from tests.conftest import REPO
from tests.support.ingesting import copies_of, ingest_paths

pytestmark = pytest.mark.django_db(transaction=True)  # the crashing ingest is another process

GRANULE = "GPM_test_file.HDF5"


def generate_one(path: Path) -> None:
    from ingest.synth import write_swath

    write_swath(path, seed=3, start="2024-02-01T00:00:00", target_bytes=14_000_000,
                incompressible=True, compression=None)


MULTIPART_POINTS = ("before_create_mpu", "mid_parts", "after_parts_before_complete")


def crashing_ingest(tmp_path: Path, src: Path, point: str, database_url: str,
                    store_url: str, s3: object) -> int:
    """Run `manage.py ingest` in a child that dies (exit 137) at one fault point."""
    env = {**os.environ, "ARCHIVE_FAULT": f"{point}:1.0", "DATABASE_URL": database_url,
           "STORE_URL": store_url, "UPLOAD_LEASE_S": "10", "VAR_DIR": str(tmp_path / "var"),
           "S3_ENDPOINT_URL": s3.endpoint_url, "AWS_ACCESS_KEY_ID": s3.access_key,
           "AWS_SECRET_ACCESS_KEY": s3.secret_key, "S3_REGION": s3.region,
           # small parts, so the crash points inside a multipart upload are reached;
           # the other points run on a whole-file PutObject, as 14 MB files go by default
           "S3_PART_SIZE_MB": "5", "ARCHIVE_MAX_OBJECT_GB": "40",
           "S3_MULTIPART_THRESHOLD_MB": "5" if point in MULTIPART_POINTS else "64"}
    done = subprocess.run([sys.executable, "manage.py", "ingest", str(src), "--collection",
                           "crash"], cwd=REPO, env=env, capture_output=True, timeout=120)
    return done.returncode


@pytest.fixture
def local_primary(settings, tmp_path: Path) -> str:
    from catalog.apps import store_specs

    original = store_specs()
    url = (tmp_path / "objects").as_uri()
    settings.ARCHIVE_STORES = {"primary": url}
    archive.config.configure(store_specs())
    yield url
    archive.config.configure(original)


@pytest.mark.parametrize("point", [*MULTIPART_POINTS, "after_complete_before_commit",
                                   "after_commit_before_verify"])
def test_reconcile_repairs_a_crash_at_each_point(point: str, tmp_path: Path, shared_swaths,
                                                 s3_primary, rclone_s3) -> None:
    from tests.conftest import _test_database_url

    src = tmp_path / "src" / "big.nc"
    src.parent.mkdir()
    # Three 5 MiB parts: every crash point of a multipart upload is on the path.
    generate_one(src)
    store_url = f"s3://{rclone_s3.bucket}/{s3_primary.prefix.rstrip('/')}"
    code = crashing_ingest(tmp_path, src, point, _test_database_url(), store_url, rclone_s3)
    assert code == 137
    swath = Swath.objects.get()
    assert swath.state != "VERIFIED"

    # The crashed worker's lease has run out.
    Swath.objects.filter(state="UPLOADING").update(lease_until="2000-01-01T00:00:00Z")
    report = reconcile("primary", apply=True)
    assert report.lines, "a crash must leave something to repair"

    swath.refresh_from_db()
    assert swath.state == "VERIFIED", report.lines
    store = archive.config.get_store("primary")
    from ops.fsck import cleanup

    cleanup("primary", timedelta(0))  # the crash's abandoned multipart upload, if any
    assert store.list_uploads() == []
    verified = StoredObject.objects.filter(swath=swath, state="VERIFIED")
    assert verified.count() == 1
    assert store.verify(verified.get().key, swath.sha256).size == src.stat().st_size
    # Nothing else is left in the store: no orphan beside the one verified copy.
    keys = [o.key for o in store.list("swaths/")]
    assert keys == [verified.get().key]
    assert reconcile("primary", apply=False).lines == []


def test_a_vanished_object_is_restored_from_its_replica_or_marked(tmp_path: Path,
                                                                  shared_swaths,
                                                                  local_primary: str,
                                                                  capsys) -> None:
    ingest_paths([copies_of(shared_swaths, [GRANULE], tmp_path / "in")], "gone")
    copy = StoredObject.objects.get()
    archive.config.get_store("primary").delete(copy.key)
    call_command("reconcile")
    assert "MISSING" in capsys.readouterr().out
    assert Swath.objects.get().state == "VERIFIED"  # dry run changed nothing
    report = reconcile("primary", apply=True)
    # With no replica the row is FAILED for re-ingest, then re-ingested from its source.
    assert any(line.startswith("MISSING") for line in report.lines)
    swath = Swath.objects.get()
    assert swath.state == "VERIFIED" and swath.copies.filter(state="VERIFIED").count() == 1
    assert not swath.copies.filter(state="VERIFIED", key=copy.key).exists()

"""The production column end to end on loopback: Celery worker over Redis, rclone's
S3 server, PostGIS. Synthetic swaths are ingested by the worker and listed by the API."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

import archive.config
from catalog.models import Swath
from catalog.services import get_or_create_collection
from ingest.synth import generate
from ingest.tasks import ingest_file_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_worker_ingests_synthetic_swaths_into_s3_and_api_lists_them(
    celery_worker: dict, tmp_path: Path
) -> None:
    infos = generate(tmp_path, count=3, size="1MB", start="2024-01-01", seed=7)
    collection, _ = get_or_create_collection("smoke-modis")
    for info in infos:
        ingest_file_task.delay(str(info.path), collection.pk)

    deadline = time.monotonic() + 120
    while Swath.objects.filter(state="VERIFIED").count() < 3:
        failed = list(Swath.objects.filter(state="FAILED").values_list("failure_reason", flat=True))
        assert not failed, failed
        assert time.monotonic() < deadline, celery_worker["log"].read_text()[-3000:]
        time.sleep(0.3)

    store = archive.config.get_store("primary")
    for info in infos:
        swath = Swath.objects.get(granule_id=Path(info.path).name)
        assert swath.sha256 == sha256(Path(info.path))
        (copy,) = swath.copies.all()
        head = store.head(copy.key)
        assert head is not None and head.size == Path(info.path).stat().st_size
        assert head.sha256 == swath.sha256

    body = APIClient().get("/api/v1/swaths/", {"collection": "smoke-modis"}).json()
    assert {f["properties"]["granule_id"] for f in body["features"]} == {
        Path(i.path).name for i in infos
    }

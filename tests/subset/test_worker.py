"""One job end to end through a real Celery worker, Redis and each real S3 server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Product
from tests.subset.test_jobs import BBOX, MODIS, archived
from tests.support.s3servers import S3Server


@pytest.mark.django_db(transaction=True)
def test_a_worker_cuts_the_product_from_the_object_store(celery_worker: dict,
                                                         shared_swaths: Path) -> None:
    swath = archived(shared_swaths / MODIS)
    token = Token.objects.create(user=User.objects.create_user("worker-test"))
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.post("/api/v1/subsets/", {"swath": str(swath.uuid), "bbox": BBOX,
                                                "variables": ["sea_surface_temperature"]},
                           format="json")
    assert response.status_code == 202, response.json()
    pk = response.json()["products"][0]["id"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        product = Product.objects.get(pk=pk)
        if product.state not in ("QUEUED", "RUNNING"):
            break
        time.sleep(0.3)
    assert product.state == "DONE", (product.error, celery_worker["log"].read_text()[-2000:])
    assert product.result.store == "primary" and product.result_size > 0
    assert product.bytes_read > 0
    detail = client.get(f"/api/v1/subsets/{pk}").json()
    download = client.get(detail["download"])
    assert b"".join(download.streaming_content)[:4] == b"\x89HDF"


RUN = "import django; django.setup(); from subset.products import run_product; " \
      "print(run_product({pk}))"


@pytest.mark.django_db(transaction=True)
def test_a_full_disk_fails_the_product_and_leaves_nothing(
        celery_worker: dict, s3_server: S3Server, shared_swaths: Path, tmp_path: Path) -> None:
    """RELIABILITY S11: the worker runs under a file-size limit smaller than the subset."""
    import os
    import subprocess
    import sys

    from catalog.models import StoredObject
    from subset.region import parse_bbox
    from subset.services import SubsetSpec, geos, params_hash
    from tests.conftest import _test_database_url

    swath = archived(shared_swaths / MODIS)
    spec = SubsetSpec(parse_bbox(BBOX))
    params = spec.params(swath)  # a row only: the subprocess below is the worker
    product = Product.objects.create(swath=swath, geometry=geos(spec.region), params=params,
                                     params_hash=params_hash(params))
    objects = StoredObject.objects.count()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    # The same database and store as the worker fixture's, but run here, capped.
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "TMPDIR": str(scratch),
           "DJANGO_SETTINGS_MODULE": "config.settings", "CELERY_BROKER_URL": "",
           "STORE_URL": celery_worker["store_url"], "S3_ENDPOINT_URL": s3_server.endpoint_url,
           "AWS_ACCESS_KEY_ID": s3_server.access_key,
           "AWS_SECRET_ACCESS_KEY": s3_server.secret_key, "S3_REGION": s3_server.region}
    proc = subprocess.run(["prlimit", "--fsize=100000", sys.executable, "-c",
                           RUN.format(pk=product.pk)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    product.refresh_from_db()
    assert product.state == "FAILED", (proc.stdout, proc.stderr[-2000:])
    assert "File too large" in product.error or "HDF" in product.error, product.error
    assert product.result is None and StoredObject.objects.count() == objects
    assert list(scratch.iterdir()) == []

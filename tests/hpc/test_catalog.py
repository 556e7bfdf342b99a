"""Planning from the catalog and the live API, and registering a job's outputs as Products."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.management import CommandError, call_command

from archive.stores import Store
from catalog.models import Product, Region, Swath
from hpc.apiplan import plan_from_api
from hpc.extract import main
from hpc.manifest import read_manifest, write_manifest
from tests.conftest import _test_database_url, free_port, stop_process, wait_for_port
from tests.hpc.conftest import outputs_of, report_of
from tests.hpc.helpers import REPO
from tests.support.ingesting import ingest_paths
from tests.support.s3servers import S3Server

WHEN = "2024-03-01/2024-03-02"
BBOX = "30,0,70,30"
CREATED = "2024-07-01T00:00:00Z"


def ingest(paths: list[Path]) -> list[Swath]:
    ingest_paths(paths, "hpc-synth")
    return list(Swath.objects.filter(granule_id__in=[p.name for p in paths], state="VERIFIED"))


def extract(manifest: Path, out: Path, *extra: str) -> int:
    return main(["--manifest", str(manifest), "--out", str(out), "--mapping", "serial",
                 "--progress", "60", "--created", CREATED, *extra])


@pytest.mark.django_db(transaction=True)
def test_a_catalog_plan_runs_and_its_outputs_become_products_once(
        s3_primary: Store, node_env: dict, synth_paths: list[Path], tmp_path: Path) -> None:
    swaths = ingest(synth_paths[:3])
    assert len(swaths) == 3
    manifest = tmp_path / "manifest.jsonl"
    call_command("plan-extract", "--bbox", BBOX, "--datetime", WHEN, "-o", str(manifest))
    items = read_manifest(manifest)
    assert {i["id"] for i in items} <= {str(s.uuid) for s in swaths} and items
    assert all(i["store_url"].startswith("s3://") and i["key"] and i["sha256"] for i in items)
    assert "secret" not in manifest.read_text().lower()
    out = tmp_path / "out"
    assert extract(manifest, out) == 0
    report = next((out / "_logs").glob("*/report.json"))
    call_command("register-products", str(report))
    done = [r for r in report_of(out)["results"] if r["status"] == "done"]
    products = Product.objects.filter(state="DONE")
    assert products.count() == len(done) > 0
    for product in products:
        assert product.result.sha256 == next(r["sha256"] for r in done
                                             if r["id"] == str(product.swath.uuid))
        assert s3_primary.head(product.result.key).sha256 == product.result.sha256
    call_command("register-products", str(report))  # a re-run registers nothing twice
    assert Product.objects.count() == len(done)


@pytest.mark.django_db(transaction=True)
def test_a_named_region_travels_in_the_manifest_and_a_failed_job_is_never_registered(
        s3_primary: Store, node_env: dict, synth_paths: list[Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(synth_paths[:2])
    Region.objects.create(slug="arabian-sea", name="Arabian Sea", geometry=MultiPolygon(
        Polygon(((40, 5), (70, 5), (70, 25), (40, 25), (40, 5))), srid=4326))
    manifest = tmp_path / "manifest.jsonl"
    call_command("plan-extract", "--region", "arabian-sea", "--datetime", WHEN,
                 "-o", str(manifest))
    items = read_manifest(manifest)
    assert items and items[0]["region"]["slug"] == "arabian-sea"
    monkeypatch.setenv("HPC_FAULT", f"fail:{items[0]['id']}")
    out = tmp_path / "out"
    assert extract(manifest, out, "--region", "arabian-sea", "--on-failure", "fail") == 1
    report = next((out / "_logs").glob("*/report.json"))
    with pytest.raises(CommandError, match="did not complete"):
        call_command("register-products", str(report))
    assert Product.objects.count() == 0
    with pytest.raises(CommandError, match="no region named"):
        call_command("plan-extract", "--region", "nowhere", "--datetime", WHEN,
                     "-o", str(tmp_path / "x.jsonl"))


@pytest.fixture
def live_api(s3_server: S3Server, s3_primary: Store, tmp_path: Path) -> Iterator[str]:
    """gunicorn on the test database with the test's S3 prefix as its primary store."""
    from django.conf import settings

    port = free_port()
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "VAR_DIR": str(tmp_path),
           "STORE_URL": settings.ARCHIVE_STORES["primary"], "STORES": "",
           "S3_ENDPOINT_URL": s3_server.endpoint_url,  # type: ignore[attr-defined]
           "AWS_ACCESS_KEY_ID": s3_server.access_key,  # type: ignore[attr-defined]
           "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,  # type: ignore[attr-defined]
           "CELERY_BROKER_URL": "", "API_THROTTLE_ANON": "1000000/minute",
           "API_THROTTLE_ANON_RANGES": "1000000/minute", "DEBUG": "0"}
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi",
             "-c", "config/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, 30, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc, 10)


@pytest.mark.django_db(transaction=True)
def test_a_manifest_from_the_live_api_gives_the_outputs_of_the_catalog_plan(
        live_api: str, node_env: dict, synth_paths: list[Path], tmp_path: Path) -> None:
    ingest(synth_paths[:3])
    items = plan_from_api(live_api, bbox=BBOX, datetime=WHEN)
    catalog = tmp_path / "catalog.jsonl"
    call_command("plan-extract", "--bbox", BBOX, "--datetime", WHEN, "-o", str(catalog))
    assert [i["id"] for i in items] == [i["id"] for i in read_manifest(catalog)]
    assert all(i["url"].startswith(live_api) and "/download" in i["url"] for i in items)
    api = tmp_path / "api.jsonl"
    write_manifest(api, items)
    assert extract(api, tmp_path / "via-api") == 0
    assert extract(catalog, tmp_path / "via-store") == 0
    via_api = outputs_of(tmp_path / "via-api")
    assert via_api and via_api == outputs_of(tmp_path / "via-store")
    summary = report_of(tmp_path / "via-api")
    assert summary["counts"]["done"] == len(via_api) and summary["bytes_read"] > 0
    lines = [json.loads(x) for x in api.read_text().splitlines()]
    assert all("key" not in x and x["sha256"] for x in lines)


@pytest.mark.django_db(transaction=True)
def test_an_api_plan_reads_the_geolocation_bounds_of_the_served_references(
        live_api: str, node_env: dict, synth_paths: list[Path], tmp_path: Path) -> None:
    from hpc.apiplan import geo_bounds
    from hpc.work import item_geo_bounds
    from subset.indexgeo import load_geo_bounds, store_by_name

    swaths = {str(s.uuid): s for s in ingest(synth_paths[:2])}
    items = plan_from_api(live_api, bbox=BBOX, datetime=WHEN)
    assert items and all(i["references"]["url"].startswith(live_api) for i in items)
    for item in items:
        swath = swaths[item["id"]]
        stored = load_geo_bounds(swath.attrs["chunk_index"], swath.sha256, store_by_name)
        assert stored and item_geo_bounds(item) == stored
        # References that describe another object, or cost more than the search, are not used.
        assert geo_bounds({**item, "sha256": "0" * 64}) is None
        assert geo_bounds({**item, "size": 1}) == stored  # 1 MiB is always worth it
        assert geo_bounds({**item, "references": {"url": item["url"]}}) is None  # not JSON
    # A swath without an index: its references are a 404, and the cut searches as before.
    swath = next(iter(swaths.values()))
    Swath.objects.filter(pk=swath.pk).update(attrs={})
    assert item_geo_bounds(next(i for i in items if i["id"] == str(swath.uuid))) is None

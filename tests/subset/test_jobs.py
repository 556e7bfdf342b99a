"""Subset jobs end to end on PostGIS and the configured store: API, task, orders, CLI."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import netCDF4
import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.management import call_command
from rest_framework.test import APIClient

import archive.config
from catalog.models import Product, Region, StoredObject, Swath
from catalog.signals import swath_verified
from ingest.bulk import run_in_process, start_run
from ingest.scan import scan
from tests.subset.conftest import wait_for_product

pytestmark = pytest.mark.django_db

MODIS = "SS_MODIS_A-JPL-L2P-v2014.0.nc"
ASCAT = "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc"
BBOX = "70,42,80,48"


def archived(path: Path) -> Swath:
    found = scan([path])
    run = start_run("subset-tests", found.files, found.refused, paths=[str(path)], options={})
    run_in_process(run, found.files)
    return Swath.objects.get(granule_id=path.name)


@pytest.fixture
def modis(shared_swaths: Path) -> Swath:
    return archived(shared_swaths / MODIS)


def post(client: APIClient, body: dict, capture) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    """POST a subset request; refusals and the command-line path (cut inline on commit)."""
    with capture(execute=True):
        response = client.post("/api/v1/subsets/", body, format="json")
    return response.status_code, response.json()


def ask(client: APIClient, body: dict) -> tuple[int, dict]:
    """POST a subset request to a process serving as the web does (the local_worker fixture)."""
    response = client.post("/api/v1/subsets/", body, format="json")
    return response.status_code, response.json()


def test_a_subset_request_is_queued_then_cut_stored_and_downloadable(
        client: APIClient, modis: Swath, local_worker: object) -> None:
    code, body = ask(client, {"swath": str(modis.uuid), "bbox": BBOX,
                              "variables": ["sea_surface_temperature"]})
    assert code == 202, body
    (item,) = body["products"]
    assert item["state"] == "QUEUED" and item["download"] is None  # accepted, not cut yet
    assert wait_for_product(item["id"]).state == "DONE"
    detail = client.get(f"/api/v1/subsets/{item['id']}").json()
    assert detail["state"] == "DONE", detail["error"]
    assert detail["bytes_read"] > 0 and detail["result_size"] > 0
    assert detail["run_seconds"] is not None and detail["queued_seconds"] is not None
    product = Product.objects.get(pk=item["id"])
    assert product.result.swath is None and product.result.sha256
    response = client.get(detail["download"])
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    assert hashlib.sha256(data).hexdigest() == product.result.sha256
    with netCDF4.Dataset("mem.nc", memory=data) as ds:
        assert set(ds.variables) >= {"sea_surface_temperature", "lat", "lon"}
        assert ds.source_sha256 == modis.sha256
        assert ds.source_granule_id == MODIS
        assert 42 <= ds.geospatial_lat_min < ds.geospatial_lat_max <= 48


def test_the_same_request_twice_is_the_same_product(
        client: APIClient, modis: Swath, django_capture_on_commit_callbacks) -> None:
    body = {"swath": str(modis.uuid), "bbox": BBOX}
    first = post(client, body, django_capture_on_commit_callbacks)
    second = post(client, body, django_capture_on_commit_callbacks)
    assert (first[0], second[0]) == (202, 200)
    assert first[1]["products"][0]["id"] == second[1]["products"][0]["id"]
    assert Product.objects.count() == 1


@pytest.mark.parametrize("extra, reason", [
    ({"bbox": "70,48,80,42"}, "south=48 is greater than north=42"),
    ({"bbox": "181,0,190,10"}, "covers no part of the world"),
    ({"geometry": "POLYGON ((0 0, 1 1, 2 2, 0 0))"}, "geometry: the polygon has no area"),
    ({"bbox": BBOX, "variables": ["sea_ice"]}, "no variable sea_ice"),
    ({"bbox": BBOX, "region": "nowhere"}, "exactly one of bbox, geometry or region"),
    ({"region": "nowhere"}, "no region named 'nowhere'"),
    ({"bbox": BBOX, "datetime": "2024-13-01"}, "datetime"),
])
def test_bad_requests_are_refused_with_a_reason(
        client: APIClient, modis: Swath, django_capture_on_commit_callbacks,
        extra: dict, reason: str) -> None:
    code, body = post(client, {"swath": str(modis.uuid), **extra},
                      django_capture_on_commit_callbacks)
    assert code == 400 and reason in body["error"], body
    assert Product.objects.count() == 0


def test_writes_need_a_user(modis: Swath) -> None:
    response = APIClient().post("/api/v1/subsets/", {"swath": str(modis.uuid), "bbox": BBOX},
                                format="json")
    assert response.status_code in (401, 403)


def test_a_swath_that_is_not_verified_is_refused(
        client: APIClient, modis: Swath, django_capture_on_commit_callbacks) -> None:
    Swath.objects.filter(pk=modis.pk).update(state="STORED")
    code, body = post(client, {"swath": str(modis.uuid), "bbox": BBOX},
                      django_capture_on_commit_callbacks)
    assert code == 400 and "not VERIFIED" in body["error"]


def test_a_subset_over_the_limit_answers_its_estimate_up_front(
        client: APIClient, modis: Swath, django_capture_on_commit_callbacks, settings) -> None:
    settings.SUBSET_MAX_BYTES = 1000
    code, body = post(client, {"swath": str(modis.uuid), "bbox": BBOX},
                      django_capture_on_commit_callbacks)
    assert code == 400 and body["estimated_bytes"] > 1000 and body["limit_bytes"] == 1000
    assert Product.objects.count() == 0


def test_a_region_without_data_gives_an_empty_product(
        client: APIClient, modis: Swath, local_worker: object) -> None:
    # Inside the footprint's outline but where every lat/lon is fill.
    code, body = ask(client, {"swath": str(modis.uuid), "bbox": "66,49.9,66.5,50.1"})
    assert code == 202, body
    product = wait_for_product(body["products"][0]["id"])
    assert product.state == "EMPTY" and "no valid pixel" in product.error
    assert product.result is None


def test_a_search_makes_one_product_per_swath(
        client: APIClient, modis: Swath, shared_swaths: Path, local_worker: object) -> None:
    archived(shared_swaths / "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc")
    code, body = ask(client, {"search": {"bbox": "60,30,90,60"}, "bbox": BBOX})
    assert code == 202 and body["count"] == 1
    assert body["products"][0]["swath"] == str(modis.uuid)
    assert wait_for_product(body["products"][0]["id"]).state == "DONE"


def test_a_search_over_the_total_limit_is_refused_with_the_total_and_makes_nothing(
        client: APIClient, modis: Swath, shared_swaths: Path,
        django_capture_on_commit_callbacks, settings) -> None:
    viirs = archived(shared_swaths / "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc")
    body = {"search": {"bbox": "-180,-90,180,90"}, "bbox": "-180,-90,180,90"}
    # Each swath alone is under the per-product limit; the two together are not.
    settings.SUBSET_MAX_BYTES = max(modis.size, viirs.size)
    settings.SUBSET_MAX_TOTAL_BYTES = modis.size + viirs.size - 1
    code, answer = post(client, body, django_capture_on_commit_callbacks)
    assert code == 400, answer
    assert answer["estimated_bytes"] == modis.size + viirs.size
    assert answer["limit_bytes"] == modis.size + viirs.size - 1 and answer["swaths"] == 2
    assert "in all" in answer["error"] and "per request" in answer["error"]
    assert Product.objects.count() == 0
    settings.SUBSET_MAX_TOTAL_BYTES = modis.size + viirs.size
    with django_capture_on_commit_callbacks() as queued:  # accepted; not cut here
        response = client.post("/api/v1/subsets/", body, format="json")
    assert response.status_code == 202 and response.json()["count"] == 2
    assert len(queued) == 2


def test_a_search_with_one_swath_over_the_limit_makes_no_product_at_all(
        client: APIClient, modis: Swath, shared_swaths: Path,
        django_capture_on_commit_callbacks, settings) -> None:
    viirs = archived(shared_swaths / "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc")
    settings.SUBSET_MAX_BYTES = min(modis.size, viirs.size)
    code, answer = post(client, {"search": {"bbox": "-180,-90,180,90"},
                                 "bbox": "-180,-90,180,90"}, django_capture_on_commit_callbacks)
    assert code == 400 and answer["estimated_bytes"] == max(modis.size, viirs.size), answer
    assert Product.objects.count() == 0


def test_an_object_failing_its_checksum_fails_the_product_and_registers_nothing(
        client: APIClient, shared_swaths: Path, local_worker: object) -> None:
    ascat = archived(shared_swaths / ASCAT)  # NetCDF3: fetched whole, hashed as it streams
    copy = ascat.copies.get()
    store = archive.config.get_store(copy.store)
    raw, info = store.open_raw(copy.key)
    with raw:
        data = bytearray(raw.read())
    data[len(data) // 2] ^= 0xFF
    store.delete(copy.key)
    store.put(copy.key, io.BytesIO(bytes(data)), codec="none", overwrite=True,
              metadata={"codec": copy.codec, "sha256": ascat.sha256, "size": str(ascat.size)})
    objects = StoredObject.objects.count()
    code, body = ask(client, {"swath": str(ascat.uuid), "bbox": "-10,-30,10,10"})
    assert code == 202, body
    product = wait_for_product(body["products"][0]["id"])
    assert product.state == "FAILED" and "ChecksumMismatch" in product.error, product.error
    assert product.result is None and StoredObject.objects.count() == objects


def test_standing_orders_cut_new_swaths_over_their_region(
        modis: Swath, django_capture_on_commit_callbacks) -> None:
    over = Region.objects.create(slug="aral", name="Aral", order_active=True,
                                 geometry=MultiPolygon(Polygon.from_bbox((70, 42, 80, 48)),
                                                       srid=4326),
                                 order_variables=["sea_surface_temperature"])
    Region.objects.create(slug="inactive", name="x", order_active=False,
                          geometry=MultiPolygon(Polygon.from_bbox((70, 42, 80, 48)), srid=4326))
    Region.objects.create(slug="away", name="y", order_active=True,
                          geometry=MultiPolygon(Polygon.from_bbox((0, 0, 5, 5)), srid=4326))
    with django_capture_on_commit_callbacks(execute=True):
        swath_verified.send(sender=Swath, swath_id=modis.pk)
    (product,) = Product.objects.all()
    assert product.region == over and product.state == "DONE", product.error
    with django_capture_on_commit_callbacks(execute=True):
        swath_verified.send(sender=Swath, swath_id=modis.pk)
    assert Product.objects.count() == 1


def test_the_command_cuts_a_local_file_and_an_archived_swath(
        modis: Swath, shared_swaths: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("subset", "--file", str(shared_swaths / MODIS), "--bbox", BBOX,
                 "--out", str(tmp_path / "a"), stdout=out)
    call_command("subset", "--swath", str(modis.uuid), "--bbox", BBOX, "--variables",
                 "sea_surface_temperature", "--out", str(tmp_path / "b"), stdout=out)
    (a,), (b,) = list((tmp_path / "a").iterdir()), list((tmp_path / "b").iterdir())
    with netCDF4.Dataset(a) as da, netCDF4.Dataset(b) as db:
        assert da["sea_surface_temperature"][...].shape == db["sea_surface_temperature"][...].shape
    assert "pixels" in out.getvalue()

"""POST /api/v1/subsets/estimate: what a subset request would cost, asked first."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from catalog.models import Product, Swath
from tests.subset.test_jobs import ASCAT, BBOX, MODIS, archived, post
from tests.subset.test_retry import Outage

pytestmark = pytest.mark.django_db
URL = "/api/v1/subsets/estimate"


@pytest.fixture
def modis(shared_swaths: Path) -> Swath:
    return archived(shared_swaths / MODIS)


def estimate(client: APIClient, body: dict) -> tuple[int, dict]:
    response = client.post(URL, body, format="json")
    return response.status_code, response.json()


def test_an_estimate_is_within_ten_percent_of_the_cut_it_describes(
        client: APIClient, modis: Swath, django_capture_on_commit_callbacks) -> None:
    body = {"swath": str(modis.uuid), "bbox": BBOX, "variables": ["sea_surface_temperature"]}
    code, est = estimate(client, body)
    assert code == 200, est
    assert Product.objects.count() == 0  # nothing cut or queued
    (item,) = est["swaths"]
    assert item["swath"] == str(modis.uuid) and item["basis"] == "plan" and not item["empty"]
    code, made = post(client, body, django_capture_on_commit_callbacks)
    product = Product.objects.get(pk=made["products"][0]["id"])
    assert product.state == "DONE", product.error
    assert abs(item["bytes_read"] - product.bytes_read) <= 0.1 * product.bytes_read
    assert abs(item["bytes_written"] - product.result_size) <= 0.1 * product.result_size
    assert item["seconds"] == pytest.approx(item["bytes_read"] / 50e6)


def test_a_search_is_estimated_per_swath_and_in_total(
        client: APIClient, modis: Swath, shared_swaths: Path) -> None:
    ascat = archived(shared_swaths / ASCAT)  # NetCDF3: downloaded whole by a cut
    code, est = estimate(client, {"search": {"bbox": "-180,-90,180,90"}, "bbox": BBOX})
    assert code == 200, est
    assert {s["swath"] for s in est["swaths"]} == {str(modis.uuid), str(ascat.uuid)}
    assert est["count"] == 2
    for key in ("bytes_read", "bytes_written", "seconds"):
        assert est[key] == pytest.approx(sum(s[key] for s in est["swaths"]))
    (classic,) = [s for s in est["swaths"] if s["swath"] == str(ascat.uuid)]
    assert classic["bytes_read"] == ascat.size  # the whole object, as the cut reads it


def test_an_estimate_over_the_total_limit_gives_the_refusal_the_request_would_get(
        client: APIClient, modis: Swath, shared_swaths: Path, settings,
        django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    archived(shared_swaths / ASCAT)
    body = {"search": {"bbox": "-180,-90,180,90"}, "bbox": BBOX}
    assert estimate(client, body)[1]["refused"] is None  # within the default limits
    settings.SUBSET_MAX_TOTAL_BYTES = 1000
    code, est = estimate(client, body)
    assert code == 200 and est["count"] == 2, est
    code, refused = post(client, body, django_capture_on_commit_callbacks)
    assert code == 400 and est["refused"] == refused  # the same words, asked first
    assert refused["swaths"] == 2 and "over the limit of 0.0 MB per request" in refused["error"]
    assert Product.objects.count() == 0


def test_a_swath_whose_object_is_gone_answers_410_with_the_reason(
        client: APIClient, modis: Swath) -> None:
    gone = Outage(modis)
    gone.lose()
    try:
        code, body = estimate(client, {"swath": str(modis.uuid), "bbox": BBOX})
    finally:
        gone.restore()
    assert code == 410 and "missing from" in body["error"], body


def test_a_lost_swath_answers_410(client: APIClient, modis: Swath) -> None:
    Swath.objects.filter(pk=modis.pk).update(state="LOST", failure_reason="no copy hashes")
    code, body = estimate(client, {"swath": str(modis.uuid), "bbox": BBOX})
    assert code == 410 and "no copy hashes" in body["error"], body


@pytest.mark.parametrize("extra, reason", [
    ({"bbox": "70,48,80,42"}, "south=48 is greater than north=42"),
    ({"bbox": BBOX, "variables": ["sea_ice"]}, "no variable sea_ice"),
    ({"region": "nowhere"}, "no region named 'nowhere'"),
    ({"bbox": BBOX, "limit": 3}, "unknown parameter(s): limit"),
])
def test_bad_requests_get_the_subset_requests_errors(
        client: APIClient, modis: Swath, extra: dict, reason: str) -> None:
    code, body = estimate(client, {"swath": str(modis.uuid), **extra})
    assert code == 400 and reason in body["error"], body


def test_a_region_without_data_is_estimated_empty(client: APIClient, modis: Swath) -> None:
    code, est = estimate(client, {"swath": str(modis.uuid), "bbox": "66,49.9,66.5,50.1"})
    assert code == 200 and est["swaths"][0]["empty"] and est["bytes_written"] == 0


def test_an_estimate_needs_a_user(modis: Swath) -> None:
    response = APIClient().post(URL, {"swath": str(modis.uuid), "bbox": BBOX}, format="json")
    assert response.status_code in (401, 403)


def test_plan_extract_prints_each_items_estimate_and_the_total(
        client: APIClient, modis: Swath, tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("plan-extract", "--bbox", BBOX, "--datetime", "2000-01-01/..", "--estimate",
                 "-o", str(tmp_path / "manifest.jsonl"), stdout=out)
    lines = out.getvalue().splitlines()
    _, est = estimate(client, {"swath": str(modis.uuid), "bbox": BBOX})
    item = est["swaths"][0]
    assert (f"  {MODIS}: read {item['bytes_read'] / 1e6:.2f} MB, "
            f"write {item['bytes_written'] / 1e6:.2f} MB") in lines[1], lines
    assert lines[-1].startswith(f"estimate: read {est['bytes_read'] / 1e6:.2f} MB, "
                                f"write {est['bytes_written'] / 1e6:.2f} MB"), lines


def test_the_schema_describes_the_estimate_endpoint(client: APIClient) -> None:
    schema = client.get("/api/schema/?format=json").json()
    op = schema["paths"]["/api/v1/subsets/estimate"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/SubsetRequest")  # the subset request's own model
    assert set(op["responses"]) >= {"200", "400", "404", "410"}
    swath = schema["components"]["schemas"]["SwathEstimate"]["properties"]
    assert {"swath", "bytes_read", "bytes_written", "seconds", "basis"} <= set(swath)
    total = schema["components"]["schemas"]["SubsetEstimate"]["properties"]
    assert {"count", "bytes_read", "bytes_written", "seconds", "refused"} <= set(total)

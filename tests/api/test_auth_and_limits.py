"""Writes need a user (M6), bodies are capped (M9), forged X-Forwarded-For is no escape (M8)."""

from __future__ import annotations

import json
import time

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

import archive.config
from tests.catalog.factories import box, swath
from tests.support.routes import all_routes

pytestmark = pytest.mark.django_db
WRITES = ["post", "put", "patch", "delete"]
SEARCHES = {"/stac/search", "/api/v1/swaths/search/",  # POST here is a read
            "/stac/search/export", "/api/v1/swaths/export", "/stac/aggregate",
            "/stac/aggregations", "/stac/collections/modis-aqua-l2/aggregate",
            "/stac/collections/modis-aqua-l2/aggregations"}


def our_urls() -> list[str]:
    """Every /api/v1/ and /stac/ route with sample path arguments filled in."""
    out = [route for route in all_routes() if "format" not in route]
    samples = {"(?P<uuid>[^/.]+)": "00000000-0000-0000-0000-000000000001",
               "(?P<uuid>[0-9a-fA-F-]{32,36})": "00000000-0000-0000-0000-000000000001",
               "(?P<slug>[^/.]+)": "x", "(?P<pk>[^/.]+)": "1",
               "<slug:collection_id>": "modis-aqua-l2", "<str:item_id>": "x",
               "(?P<filename>[^/]+)": "a.nc"}
    urls = []
    for url in out:
        if not url.startswith(("/api/v1/", "/stac/")) or url.startswith("/api/v1/subsets"):
            continue
        for pattern, value in samples.items():
            url = url.replace(pattern, value)
        urls.append(url.replace("\\", ""))
    return sorted(set(urls))


def test_there_are_routes_to_check() -> None:
    urls = our_urls()
    assert "/api/v1/swaths/" in urls and "/stac/search" in urls and len(urls) > 15


@pytest.mark.parametrize("method", WRITES)
def test_every_write_needs_a_user(method: str) -> None:
    anonymous = APIClient()
    user = APIClient()
    user.force_authenticate(User.objects.create_user("reader"))
    for url in our_urls():
        if method == "post" and url in SEARCHES:
            continue
        status = getattr(anonymous, method)(url, {}, format="json").status_code
        assert status in (401, 403), f"{method.upper()} {url} answered {status} anonymously"
        status = getattr(user, method)(url, {}, format="json").status_code
        # A user places standing orders (tests/api/test_orders.py): an empty one is a 400.
        allowed = (400, 403, 404, 405) if url.startswith("/api/v1/regions/") else (403, 404, 405)
        assert status in allowed, f"{method.upper()} {url} answered {status}"


def test_reads_can_require_a_token(settings) -> None:
    from rest_framework.authtoken.models import Token

    settings.API_PUBLIC_READS = False
    swath(box(0, 0, 1, 1))
    assert APIClient().get("/stac/search").status_code == 401
    assert APIClient().post("/stac/search", {}, format="json").status_code == 401
    token = Token.objects.create(user=User.objects.create_user("scientist"))
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/stac/search").status_code == 200


@pytest.mark.serial  # asserts a time bound
@pytest.mark.parametrize("url", sorted(SEARCHES))
def test_a_50_mb_body_is_refused_quickly(url: str) -> None:
    body = json.dumps({"ids": ["x" * 1000] * 50_000})
    t = time.perf_counter()
    response = APIClient().post(url, body, content_type="application/json")
    assert response.status_code == 413
    assert "limit" in response.json()["error"]
    assert time.perf_counter() - t < 1.0


def test_throttling_ignores_forged_forwarded_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "5/minute"})
    client = APIClient()
    codes = [client.get("/stac/conformance", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code
             for i in range(8)]
    assert codes[:5] == [200] * 5
    assert codes[5:] == [429] * 3


def test_range_reads_of_a_swath_are_counted_apart_from_other_requests(
        monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A client reading chunks through the references makes many Range requests: they use
    their own budget, and never shut the same client out of searches."""
    from tests.api.test_downloads import archived
    from tests.support.stores import restore_stores

    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES",
                        {"anon": "3/minute", "anon_ranges": "6/minute"})
    archive.config.configure({"primary": (tmp_path / "store").as_uri()})
    try:
        url = f"/api/v1/swaths/{archived(archive.config.get_store('primary')).uuid}/download"
        client = APIClient()
        ranges = [client.get(url, HTTP_RANGE=f"bytes={i}-{i + 9}").status_code
                  for i in range(8)]
        assert ranges == [206] * 6 + [429] * 2
        others = [client.get("/stac/conformance").status_code, client.get(url).status_code,
                  client.get("/stac/conformance").status_code,
                  client.get("/stac/conformance").status_code]
        assert others == [200, 200, 200, 429]  # a whole download counts with the others
    finally:
        restore_stores()

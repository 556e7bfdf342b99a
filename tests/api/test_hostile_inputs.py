"""Inputs that once answered 500 (issue 25), sent to gunicorn on PostGIS: each gets a JSON
4xx naming the parameter at fault, within a second; an unexpected error answers JSON too.

The requests themselves live in tests/api/hostile.py, shared with the embedded tests.
"""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from rest_framework.authtoken.models import Token

from tests.api import hostile
from tests.api.live import LiveServer
from tests.catalog.factories import box, collection, swath
from tests.support.liveserver import live_server

# serial: answers are asserted to come within a second (make test runs these alone).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.serial]
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def warm_server(api_server: LiveServer) -> LiveServer:
    """The module's server, past its workers' first (slow) requests."""
    hostile.warm_up(api_server.url)
    return api_server


@pytest.fixture
def world(warm_server: LiveServer) -> dict[str, Any]:
    """Three swaths (one downloadable) and a staff member's token (ingest runs are staff's)."""
    coll = collection("modis-aqua-l2")
    rows = [swath(box(-10 + i, -10, 10 + i, 10), start=T0 + timedelta(hours=i), coll=coll,
                  platform="aqua", orbit=10 + i) for i in range(3)]
    hostile.store_bytes(warm_server.store, rows[0], b"swath bytes " * 1000)
    token = Token.objects.create(user=User.objects.create_user("prober", is_staff=True)).key
    return {"swaths": rows, "token": token}


def assert_refused(answer: hostile.Answer, names: str, within: float = 1.0) -> None:
    """A 4xx with {"error": ...} naming `names`, in time."""
    assert 400 <= answer.status < 500, (answer.status, answer.raw[:300])
    assert "json" in answer.content_type, answer.content_type
    assert isinstance(answer.body, dict) and names in answer.body["error"], answer.body
    assert answer.seconds < within, f"{answer.seconds:.2f} s"


def test_every_hostile_input_gets_a_json_4xx_naming_the_parameter_within_a_second(
        warm_server: LiveServer, world: dict[str, Any]) -> None:
    # One test over all cases (each case's own test would spend more on emptying the
    # tables than on its request); the failure lists every case that went wrong.
    failures = []
    for case in hostile.cases():
        headers = {"Authorization": f"Token {world['token']}"} if case.auth else {}
        answer = hostile.send(warm_server.url, case.method, case.path, case.body, headers)
        try:
            assert_refused(answer, case.names)
        except AssertionError as e:
            failures.append(f"{case.name}: {e}")
    assert not failures, "\n".join(failures)


def edited_tokens(base: str) -> list[str]:
    """A real next token of a STAC search, edited as the probe did."""
    first = hostile.send(base, "GET", "/stac/search?limit=1").body
    href = next(link["href"] for link in first["links"] if link["rel"] == "next")
    token = parse_qs(urlparse(href).query)["token"][0]
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    texts = [json.dumps({**payload, "id": 0}).replace('"id": 0', edit)
             for edit in ('"id": Infinity', '"id": 1e400', '"id": true', '"id": "7"')]
    texts += [json.dumps({**payload, "v": [v]})
              for v in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", 10**30)]
    texts.append(json.dumps({**payload, "s": "0001-01-01T00:00:00+14:00"}))
    return [base64.urlsafe_b64encode(t.encode()).decode().rstrip("=") for t in texts]


def test_an_edited_stac_next_token_gets_a_json_400(api_server: LiveServer,
                                                   world: dict[str, Any]) -> None:
    for token in edited_tokens(api_server.url):
        answer = hostile.send(api_server.url, "GET", "/stac/search" + hostile.q(
            limit="1", token=token))
        assert_refused(answer, "next token")


def test_a_range_of_5000_digits_gets_a_json_416_naming_the_range(
        api_server: LiveServer, world: dict[str, Any]) -> None:
    uid = world["swaths"][0].uuid
    answer = hostile.send(api_server.url, "GET", f"/api/v1/swaths/{uid}/download",
                          headers={"Range": "bytes=" + "9" * 5000 + "-"})
    assert answer.status == 416
    assert_refused(answer, "Range")
    whole = hostile.send(api_server.url, "GET", f"/api/v1/swaths/{uid}/download",
                         headers={"Range": "bytes=0-" + "9" * 5000})
    assert whole.status == 206 and whole.raw == b"swath bytes " * 1000


def test_cql2_like_is_case_sensitive_and_honours_escapes(api_server: LiveServer) -> None:
    for name in hostile.LIKE_NAMES:
        swath(box(0, 0, 1, 1), coll=collection(name))

    def matching(pattern: str) -> set[str]:
        answer = hostile.send(api_server.url, "POST", "/stac/search",
                              hostile.text_filter(f"collection LIKE '{pattern}'"))
        assert answer.status == 200, answer.body
        return {f["collection"] for f in answer.body["features"]}

    hostile.assert_like_rules(matching)
    answer = hostile.send(api_server.url, "POST", "/stac/search",
                          hostile.text_filter("NOT collection LIKE 'a%'"))
    assert {f["collection"] for f in answer.body["features"]} == {"Aqua"}


def test_like_on_a_property_no_index_answers_is_refused_by_name(api_server: LiveServer) -> None:
    answer = hostile.send(api_server.url, "GET", "/stac/search" + hostile.q(
        filter="platform LIKE '%zz%'"))
    assert_refused(answer, "'platform' has no index")


def test_a_like_filter_of_15_percent_signs_answers_at_once(api_server: LiveServer,
                                                           world: dict[str, Any]) -> None:
    answer = hostile.send(api_server.url, "GET", "/stac/search" + hostile.q(
        filter="collection LIKE '" + "%" * 15 + "x'"))
    assert answer.status == 200 and answer.body["features"] == []
    assert answer.seconds < 1.0
    found = hostile.send(api_server.url, "GET", "/stac/search" + hostile.q(
        filter="collection LIKE '%%%%aqua%%'"))
    assert found.body["numberMatched"] == 3


def test_a_like_pattern_over_200_characters_is_refused_by_name(api_server: LiveServer) -> None:
    answer = hostile.send(api_server.url, "POST", "/stac/search",
                          hostile.text_filter("collection LIKE '" + "a_" * 101 + "'"))
    assert_refused(answer, "LIKE pattern")


def test_concurrent_first_requests_for_the_schema_all_get_it(tmp_path: Path) -> None:
    # drf-spectacular loads its extensions lazily and not thread-safely: on a fresh
    # server, eight first requests at once used to earn several 500s.
    with live_server(tmp_path) as fresh, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: hostile.send(
            fresh.url, "GET", "/api/schema/?format=json"), range(8)))
    assert [a.status for a in answers] == [200] * 8
    assert all("openapi" in a.body for a in answers)


def _boom(request: object) -> None:
    raise RuntimeError("an error nobody planned for")


urlpatterns: list = []  # filled below: config.urls plus routes that fail


@override_settings(ROOT_URLCONF="tests.api.test_hostile_inputs", DEBUG=False)
def test_an_unexpected_error_answers_json_on_the_api_and_is_logged_as_a_500(
        caplog: pytest.LogCaptureFixture) -> None:
    client = Client(raise_request_exception=False)
    with caplog.at_level("ERROR", logger="django.request"):
        answer = client.get("/api/v1/boom/")
    assert answer.status_code == 500
    assert answer["Content-Type"] == "application/json"
    assert "error" in answer.json()
    assert any("an error nobody planned for" in str(r.exc_info) for r in caplog.records)
    # Off the API, Django's own page.
    assert "text/html" in client.get("/boom/")["Content-Type"]
    missing = client.get("/stac/no/such/page")
    assert missing.status_code == 404 and "no such URL" in missing.json()["error"]


def _urls() -> None:
    from django.urls import path

    from config import urls

    globals().update({k: getattr(urls, k) for k in ("handler400", "handler404", "handler500")})
    urlpatterns.extend([path("api/v1/boom/", _boom), path("boom/", _boom), *urls.urlpatterns])


_urls()


def _ring(vertices: int) -> dict[str, Any]:
    """A polygon of `vertices` points on a 5-degree circle around (10, 10)."""
    import math

    pts = [[round(10 + 5 * math.cos(2 * math.pi * i / vertices), 4),
            round(10 + 5 * math.sin(2 * math.pi * i / vertices), 4)] for i in range(vertices)]
    return {"type": "Polygon", "coordinates": [[*pts, pts[0]]]}


def test_a_get_search_with_a_long_polygon_is_served_and_a_longer_one_is_sent_to_post(
        api_server: LiveServer) -> None:
    """A GET request line up to 8,190 bytes (config/gunicorn.conf.py) carries an
    `intersects` of about 200 vertices (gunicorn's default, 4,094, refused it); past
    that gunicorn refuses the line, and POST carries any polygon."""
    inside = str(swath(box(9, 9, 11, 11), coll=collection("long-polygons")).uuid)
    swath(box(40, 40, 41, 41), coll=collection("long-polygons"))
    for vertices, get_ok in ((200, True), (400, False)):
        ring = _ring(vertices)
        path = "/stac/search" + hostile.q(intersects=json.dumps(ring, separators=(",", ":")))
        request_line = len(f"GET {path} HTTP/1.1")
        assert (4094 < request_line <= 8190) if get_ok else request_line > 8190, request_line
        got = hostile.send(api_server.url, "GET", path)
        if get_ok:
            assert got.status == 200, got.raw[:300]
            assert [f["id"] for f in got.body["features"]] == [inside]
        else:
            assert got.status == 414 and b"Request Line is too large" in got.raw, got.raw[:300]
        posted = hostile.send(api_server.url, "POST", "/stac/search",
                              hostile.post({"intersects": ring}))
        assert posted.status == 200, posted.raw[:300]
        assert [f["id"] for f in posted.body["features"]] == [inside]

"""Page 1 written by api.searchsql gives what the querysets of api.search give."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

import api.search
from api import paging, searchsql
from api.geometry import parse_geojson
from api.search import SearchPage, SwathSearch, run_search
from api.stac import storeditems
from catalog.models import Swath, SwathState
from tests.catalog.factories import box, collection, swath

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL renders items"),
]
T0 = datetime(2024, 3, 1, tzinfo=UTC)
RENDER = storeditems.render("http://testserver")


@pytest.fixture
def rows() -> list[Swath]:
    """Two collections, both sides of +-180, NULL orbits and sizes, ties in start time."""
    aqua, terra = collection("modis-aqua-l2"), collection("modis-terra-l2")
    out = []
    for i in range(24):
        west = -175 + 15 * i
        footprint = box(west, -20 + i, west + 12, i) if west + 12 <= 180 else box(
            west, -5, west + 12 - 360, 5)
        out.append(swath(
            footprint, start=T0 + timedelta(hours=6 * (i // 2)), minutes=5 + i % 3,
            coll=aqua if i % 3 else terra, platform="Aqua" if i % 2 else "terra",
            orbit=None if i % 5 == 0 else 1000 + i,
            state=SwathState.PENDING if i % 7 == 3 else SwathState.VERIFIED))
    Swath.objects.filter(pk__in=[out[2].pk, out[9].pk]).update(size=None)
    return out


def orm_page(search: SwathSearch) -> SearchPage:
    # A base queryset makes run_search build the querysets, as it does for later pages.
    return run_search(search, base=Swath.objects.all(), render=RENDER)


def token_fields(token: str | None) -> dict[str, Any] | None:
    if token is None:
        return None
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    del payload["s"]  # page 1's snapshot time: each run has its own
    return payload


def assert_same(search: SwathSearch) -> SearchPage:
    assert searchsql.covers(search)
    fast, slow = run_search(search, render=RENDER), orm_page(search)
    assert fast.rows == slow.rows
    assert (fast.matched, fast.exact) == (slow.matched, slow.exact)
    assert token_fields(fast.next_token) == token_fields(slow.next_token)
    return fast


SEARCHES = [
    {},
    {"bbox": (-20.0, -30.0, 60.0, 30.0)},
    {"bbox": (170.0, -10.0, -170.0, 10.0)},
    {"start": T0 + timedelta(days=1)},
    {"end": T0 + timedelta(days=2)},
    {"start": T0 + timedelta(days=1, minutes=3), "end": T0 + timedelta(days=3)},
    {"collections": ["modis-terra-l2"]},
    {"collections": ["modis-terra-l2", "modis-aqua-l2", "no-such"]},
    {"collections": ["no-such"]},
    {"platform": "AQUA"},
    {"platform": "EOS-Aqua"},  # another spelling of aqua
    {"bbox": (170.0, -10.0, 200.0, 10.0)},  # partly beyond +-180: only the part inside
    {"bbox": (181.0, 91.0, 182.0, 92.0)},  # wholly outside: nothing
    {"orbit": (1005, None)},
    {"orbit": (None, 1010)},
    {"orbit": (1003, 1012)},
    {"states": [SwathState.VERIFIED, SwathState.PENDING]},
    {"states": [SwathState.PENDING]},
    {"bbox": (-180.0, -90.0, 180.0, 90.0), "start": T0, "end": T0 + timedelta(days=4),
     "collections": ["modis-aqua-l2"], "platform": "aqua", "orbit": (1001, 1020)},
]
ORDERS = ["", "datetime", "-sat:absolute_orbit,id", "size,-datetime", "-end_datetime"]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("fields", SEARCHES)
def test_page_1_is_the_same_whichever_way_its_statement_is_built(
        rows: list[Swath], fields: dict[str, Any], order: str) -> None:
    for limit in (5, 100):
        assert_same(SwathSearch(limit=limit, order=paging.parse_sortby(order), **fields))


def test_ids_match_the_same_rows_including_ids_that_are_no_uuid(rows: list[Swath]) -> None:
    wanted = [str(rows[0].uuid), str(rows[5].uuid), "not-a-uuid", str(rows[3].uuid)]
    page = assert_same(SwathSearch(ids=wanted, limit=10))
    assert {r["id"] for r in page.rows} == {rows[0].pk, rows[5].pk}  # rows[3] is PENDING
    page = assert_same(SwathSearch(ids=["not-a-uuid"], limit=10))
    assert (page.rows, page.matched) == ([], 0)


def test_a_page_without_the_count_is_the_same(rows: list[Swath]) -> None:
    page = assert_same(SwathSearch(limit=4, count=False))
    assert page.matched is None and page.next_token


def test_the_next_token_of_a_written_page_leads_to_the_querysets_page_2(
        rows: list[Swath]) -> None:
    search = SwathSearch(limit=4, order=paging.parse_sortby("-sat:absolute_orbit"))
    first = run_search(search, render=RENDER)
    search.token = first.next_token
    assert not searchsql.covers(search)
    second = run_search(search, render=RENDER)
    everything = run_search(SwathSearch(limit=8, order=search.order), render=RENDER)
    assert [r["id"] for r in first.rows + second.rows] == [r["id"] for r in everything.rows]
    assert second.matched == first.matched


def test_page_1_is_one_statement_without_querysets(rows: list[Swath]) -> None:
    with CaptureQueriesContext(connection) as ctx:
        run_search(SwathSearch(bbox=(-20.0, -30.0, 60.0, 30.0), start=T0, limit=3),
                   render=RENDER)
    assert len(ctx.captured_queries) == 1
    assert '"catalog_swath"' not in ctx.captured_queries[0]["sql"]  # the ORM quotes names


def test_an_estimated_count_still_asks_the_planner(
        rows: list[Swath], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.search, "COUNT_CAP", 5)
    fast, slow = run_search(SwathSearch(limit=3), render=RENDER), orm_page(SwathSearch(limit=3))
    assert not fast.exact and fast.matched == slow.matched and fast.matched >= 6


def test_searches_it_cannot_write_take_the_querysets() -> None:
    area = parse_geojson({"type": "Point", "coordinates": [1, 2]})
    for search in (SwathSearch(token="x"), SwathSearch(area=area), SwathSearch(region="r"),
                   SwathSearch(filter_q=Q(orbit=1)),
                   SwathSearch(ids=[]), SwathSearch(collections=[])):
        assert not searchsql.covers(search)
    assert searchsql.covers(SwathSearch(bbox=(0.0, 0.0, 1.0, 1.0), platform="x"))

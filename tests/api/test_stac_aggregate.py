"""/stac/aggregate and /stac/aggregations (STAC API Aggregation extension), on PostGIS.

Every count is checked against a brute-force count in Python over the same rows: the
13 shared granules ingested, and synthetic swaths with missing values. A filtered
aggregate is checked against /stac/search's matches for the same filters. The
embedded default (SpatiaLite) is checked in tests/test_embedded_aggregate.py.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from catalog.models import Swath, SwathState
from tests.catalog.factories import box, collection, swath

pytestmark = pytest.mark.django_db
T0 = datetime(2023, 11, 20, tzinfo=UTC)
ALL = ("total_count,datetime_frequency,collection_frequency,platform_frequency,"
       "orbit_state_frequency,centroid_geohash_grid_frequency")
_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"


def geohash(lon: float, lat: float, precision: int) -> str:
    """The textbook geohash (interleaved lon/lat bisection), for the brute-force counts."""
    lo = [-180.0, 180.0]
    la = [-90.0, 90.0]
    bits, out, even = 0, [], True
    for i in range(precision * 5):
        rng, v = (lo, lon) if even else (la, lat)
        mid = (rng[0] + rng[1]) / 2
        if v >= mid:
            bits, rng[0] = bits * 2 + 1, mid
        else:
            bits, rng[1] = bits * 2, mid
        even = not even
        if i % 5 == 4:
            out.append(_BASE32[bits])
            bits = 0
    return "".join(out)


Record = tuple[str | None, str, str, str, tuple[float, float] | None]


def record(s: Swath) -> Record:
    """(start time ISO, collection, platform, orbit direction, footprint centroid) of a row."""
    c = s.footprint.centroid if s.footprint is not None else None
    return (s.start_time.astimezone(UTC).isoformat() if s.start_time else None,
            s.collection.slug, s.platform, s.orbit_direction, (c.x, c.y) if c else None)


def brute_force(rows: list[Record], interval: str, precision: int) -> dict[str, Any]:
    """What each aggregation must say about `rows`, counted one swath at a time."""
    cut = {"day": 10, "month": 7, "year": 4}[interval]

    def bucket(start: str) -> str:
        return (start[:cut] + "-01-01"[: 10 - cut]) + "T00:00:00Z"

    return {
        "total_count": len(rows),
        "datetime_frequency": Counter(bucket(r[0]) for r in rows if r[0]),
        "collection_frequency": Counter(r[1] for r in rows),
        "platform_frequency": Counter(r[2] for r in rows if r[2]),
        "orbit_state_frequency": Counter(r[3].lower() for r in rows if r[3]),
        "centroid_geohash_grid_frequency": Counter(
            geohash(*r[4], precision) for r in rows if r[4]),
    }


def as_counts(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for agg in body["aggregations"]:
        if "value" in agg:
            out[agg["name"]] = agg["value"]
        else:
            out[agg["name"]] = Counter({b["key"]: b["frequency"] for b in agg["buckets"]})
            assert agg["overflow"] == body_total(body) - sum(out[agg["name"]].values())
    return out


def body_total(body: dict[str, Any]) -> int:
    return next(a["value"] for a in body["aggregations"] if a["name"] == "total_count")


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def synthetic() -> list[Swath]:
    """300 swaths over two years in three collections; some lack a platform, a direction,
    a footprint; some are not VERIFIED (never counted)."""
    rnd = random.Random(23)
    colls = [collection(s) for s in ("modis-aqua-l2", "viirs-npp-l2", "ascat-metopb")]
    for i in range(300):
        west = rnd.uniform(-180, 170)
        south = rnd.uniform(-85, 75)
        swath(None if i % 37 == 0 else box(west, south, west + rnd.uniform(1, 10),
                                           south + rnd.uniform(1, 10)),
              start=T0 + timedelta(hours=rnd.uniform(0, 2 * 365 * 24)),
              coll=colls[i % 3], platform=rnd.choice(["aqua", "Aqua", "suomi-npp", ""]),
              orbit_direction=rnd.choice(["ascending", "Descending", "descending", ""]),
              state=SwathState.PENDING if i % 29 == 0 else SwathState.VERIFIED)
    return list(Swath.objects.filter(state=SwathState.VERIFIED).select_related("collection"))


@pytest.mark.parametrize(("interval", "precision"), [("day", 3), ("month", 1), ("year", 2)])
def test_counts_equal_brute_force_counts_over_synthetic_swaths(
        client: APIClient, synthetic: list[Swath], interval: str, precision: int) -> None:
    r = client.get("/stac/aggregate", {"aggregations": ALL,
                                       "datetime_frequency_interval": interval,
                                       "centroid_geohash_grid_frequency_precision": precision})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["type"] == "AggregationCollection"
    assert [a["name"] for a in body["aggregations"]] == ALL.split(",")
    assert as_counts(body) == brute_force([record(r) for r in synthetic], interval, precision)


def test_a_filtered_aggregate_counts_the_swaths_item_search_matches(
        client: APIClient, synthetic: list[Swath]) -> None:
    filters = {"collections": "modis-aqua-l2,viirs-npp-l2", "bbox": "-100,-60,120,60",
               "datetime": "2024-01-01T00:00:00Z/2024-12-31T23:59:59Z",
               "filter": "platform = 'aqua' OR \"sat:orbit_state\" = 'descending'"}
    found = client.get("/stac/search", {**filters, "limit": 10_000}).json()
    assert 0 < found["numberMatched"] < len(synthetic)
    ids = {f["id"] for f in found["features"]}
    rows = [s for s in synthetic if str(s.uuid) in ids]
    body = client.get("/stac/aggregate", {**filters, "aggregations": ALL,
                                          "datetime_frequency_interval": "month"}).json()
    assert as_counts(body) == brute_force([record(r) for r in rows], "month", 1)


def test_post_and_get_give_the_same_aggregations(client: APIClient,
                                                 synthetic: list[Swath]) -> None:
    get = client.get("/stac/aggregate", {
        "aggregations": ALL, "collections": "ascat-metopb", "bbox": "-180,-90,0,90",
        "datetime": "2024-03-01T00:00:00Z/..", "datetime_frequency_interval": "day",
        "centroid_geohash_grid_frequency_precision": "2",
        "filter": "\"sat:orbit_state\" = 'ascending'"}).json()
    post = client.post("/stac/aggregate", {
        "aggregations": ALL.split(","), "collections": ["ascat-metopb"],
        "bbox": [-180, -90, 0, 90], "datetime": "2024-03-01T00:00:00Z/..",
        "datetime_frequency_interval": "day", "centroid_geohash_grid_frequency_precision": 2,
        "filter": {"op": "=", "args": [{"property": "sat:orbit_state"}, "ascending"]}},
        format="json").json()
    assert body_total(get) > 0
    assert get["aggregations"] == post["aggregations"]


def test_a_collection_aggregate_counts_that_collection_only(client: APIClient,
                                                           synthetic: list[Swath]) -> None:
    body = client.get("/stac/collections/viirs-npp-l2/aggregate",
                      {"aggregations": "total_count,collection_frequency"}).json()
    n = sum(1 for s in synthetic if s.collection.slug == "viirs-npp-l2")
    assert body_total(body) == n
    assert body["aggregations"][1]["buckets"] == [
        {"key": "viirs-npp-l2", "data_type": "string", "frequency": n}]
    assert client.get("/stac/collections/nope/aggregate").status_code == 404
    post = client.post("/stac/collections/viirs-npp-l2/aggregate",
                       {"aggregations": ["total_count"]}, format="json").json()
    assert body_total(post) == n
    for r in (client.get("/stac/collections/viirs-npp-l2/aggregate", {"collections": "x"}),
              client.post("/stac/collections/viirs-npp-l2/aggregate", {"collections": ["x"]},
                          format="json")):
        assert r.status_code == 400
        assert "collections" in r.json()["error"]


def test_without_aggregations_every_one_is_computed(client: APIClient,
                                                    synthetic: list[Swath]) -> None:
    body = client.get("/stac/aggregate").json()
    assert [a["name"] for a in body["aggregations"]] == ALL.split(",")
    month = next(a for a in body["aggregations"] if a["name"] == "datetime_frequency")
    assert month["interval"] == "month"


def test_counts_equal_brute_force_counts_over_the_shared_granules(
        client: APIClient, shared_swaths: Path) -> None:
    from catalog.services import get_or_create_collection
    from ingest.pipeline import ingest_file

    coll, _ = get_or_create_collection("shared-granules")
    outcomes = [ingest_file(p, coll.pk) for p in sorted(shared_swaths.iterdir())
                if p.name != "README.md"]
    assert [o for o in outcomes if o.status != "new"] == []
    rows = list(Swath.objects.filter(state=SwathState.VERIFIED).select_related("collection"))
    assert len(rows) == 13
    for interval, precision in (("day", 4), ("year", 1)):
        body = client.post("/stac/aggregate", {
            "aggregations": ALL.split(","), "datetime_frequency_interval": interval,
            "centroid_geohash_grid_frequency_precision": precision}, format="json").json()
        assert as_counts(body) == brute_force([record(r) for r in rows], interval, precision)


@pytest.mark.parametrize(("params", "says"), [
    ({"aggregations": "total_count,cloud_cover_frequency"},
     "unknown 'cloud_cover_frequency'; allowed: total_count, datetime_frequency"),
    ({"datetime_frequency_interval": "week"},
     "datetime_frequency_interval='week' is not allowed; allowed: day, month, year"),
    ({"centroid_geohash_grid_frequency_precision": "9"}, "allowed: a whole number 1 to 8"),
    ({"centroid_geohash_grid_frequency_precision": "0"}, "allowed: a whole number 1 to 8"),
    ({"centroid_geohash_grid_frequency_precision": "two"}, "allowed: a whole number 1 to 8"),
    ({"limit": "5"}, "limit: not a parameter of an aggregation"),
    ({"sortby": "-datetime"}, "sortby: not a parameter of an aggregation"),
    ({"colections": "a"}, "unknown parameter(s): colections; allowed: aggregations, bbox,"),
    ({"bbox": "1,2,3"}, "bbox"),
    ({"filter": "nonsense ="}, "filter"),
])
def test_bad_input_gets_a_400_that_says_what_is_allowed(client: APIClient, params: dict,
                                                        says: str) -> None:
    for r in (client.get("/stac/aggregate", params),
              client.post("/stac/aggregate", params, format="json")):
        assert r.status_code == 400, r.content
        assert says in r.json()["error"]


def test_post_refuses_a_precision_that_is_not_a_number(client: APIClient) -> None:
    r = client.post("/stac/aggregate", {"centroid_geohash_grid_frequency_precision": [3]},
                    format="json")
    assert r.status_code == 400
    assert "allowed: a whole number 1 to 8" in r.json()["error"]


def test_an_aggregate_over_more_rows_than_the_limit_answers_400_with_the_estimate(
        client: APIClient, synthetic: list[Swath], settings: Settings) -> None:
    with connection.cursor() as cur:  # as autovacuum would have: the planner knows the rows
        cur.execute("ANALYZE catalog_swath")
    settings.STAC_AGGREGATE_MAX_ROWS = 50
    r = client.get("/stac/aggregate", {"aggregations": "total_count"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert "would scan too many rows: the planner estimates" in error
    assert "(STAC_AGGREGATE_MAX_ROWS is 50)" in error
    estimate = int(error.split("estimates ")[1].split(" ")[0].replace(",", ""))
    assert estimate > 50
    # A narrower request under the limit is answered.
    r = client.get("/stac/aggregate", {"aggregations": "total_count", "bbox": "0,0,1,1"})
    assert r.status_code == 200


def test_aggregations_lists_every_aggregation_and_conformance_says_so(
        client: APIClient) -> None:
    for r in (client.get("/stac/aggregations"), client.post("/stac/aggregations"),
              client.get("/stac/collections/modis-aqua-l2/aggregations")
              if collection("modis-aqua-l2") else None):
        assert r is not None and r.status_code == 200
        assert [a["name"] for a in r.json()["aggregations"]] == ALL.split(",")
    assert client.get("/stac/collections/nope/aggregations").status_code == 404
    conforms = client.get("/stac/conformance").json()["conformsTo"]
    assert "https://api.stacspec.org/v0.3.0/aggregation" in conforms
    assert "https://api.stacspec.org/v0.3.0/aggregation#filter" in conforms
    landing = client.get("/stac/").json()
    rels = {(link["rel"], link.get("method")) for link in landing["links"]}
    assert {("aggregate", "GET"), ("aggregate", "POST"), ("aggregations", None)} <= rels
    coll = client.get("/stac/collections/modis-aqua-l2").json()
    assert any(link["rel"] == "aggregate" and link["href"].endswith(
        "/stac/collections/modis-aqua-l2/aggregate") for link in coll["links"])


def test_openapi_describes_the_aggregation_endpoints(client: APIClient) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()
    get = schema["paths"]["/stac/aggregate"]["get"]
    names = {p["name"] for p in get["parameters"]}
    assert {"aggregations", "datetime_frequency_interval",
            "centroid_geohash_grid_frequency_precision", "bbox", "filter"} <= names
    assert not names & {"limit", "token", "sortby", "fields"}
    assert "AggregationCollection" in str(get["responses"]["200"])
    assert "requestBody" in schema["paths"]["/stac/aggregate"]["post"]
    assert "get" in schema["paths"]["/stac/aggregations"]


def test_a_filter_that_matches_nothing_counts_zero(client: APIClient,
                                                    synthetic: list[Swath]) -> None:
    for params in ({"ids": "not-a-uuid"},
                   {"datetime": "1990-01-01T00:00:00Z/1990-12-31T00:00:00Z"}):
        body = client.get("/stac/aggregate", params).json()
        assert as_counts(body)["total_count"] == 0
        assert all(a.get("buckets", []) == [] for a in body["aggregations"])
        assert all(a.get("overflow", 0) == 0 for a in body["aggregations"])


def test_an_aggregate_slower_than_the_statement_timeout_answers_400(
        client: APIClient, synthetic: list[Swath], monkeypatch: pytest.MonkeyPatch) -> None:
    # An estimate under the limit can be wrong; the timeout is the last bound. 1 ms is
    # less than planning the statement and the geohash grid of 5,300 footprints take.
    import api.search
    import api.stac.aggregation

    coll = synthetic[0].collection
    Swath.objects.bulk_create([Swath(
        collection=coll, granule_id=f"bulk{i}", filename=f"bulk{i}.nc", state="VERIFIED",
        footprint=box(i % 350 - 175, -40, i % 350 - 170, 40), start_time=T0,
        end_time=T0 + timedelta(minutes=5), sha256=f"{i:064x}", size=i) for i in range(5000)])

    monkeypatch.setattr(api.search, "STATEMENT_TIMEOUT_MS", 1)
    monkeypatch.setattr(api.stac.aggregation, "STATEMENT_TIMEOUT_MS", 1)
    r = client.get("/stac/aggregate", {"aggregations": ALL,
                                       "centroid_geohash_grid_frequency_precision": "8"})
    assert r.status_code == 400, r.content
    assert r.json()["error"].startswith("the aggregation took longer than 0.001 s")

"""/stac/: landing page, collections, items, item search (GET and POST), fields, sort, filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from tests.catalog.factories import box, collection, swath

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def archive() -> dict:
    """Three swaths in two collections, one PENDING."""
    aqua, terra = collection("modis-aqua-l2"), collection("modis-terra-l2")
    return {
        "a1": swath(box(10, 10, 20, 20), start=T0, coll=aqua, platform="aqua", orbit=100,
                    orbit_direction="ascending"),
        "a2": swath(box(172, -5, -178, 5), start=T0 + timedelta(days=1), coll=aqua,
                    platform="aqua", orbit=115, orbit_direction="descending"),
        "t1": swath(box(10, 10, 20, 20), start=T0 + timedelta(days=2), coll=terra,
                    platform="terra", orbit=200),
        "pending": swath(box(10, 10, 20, 20), start=T0, coll=aqua, state="PENDING"),
    }


def ids(body: dict) -> list[str]:
    return [f["id"] for f in body["features"]]


def test_landing_page_links_to_conformance_collections_and_search(client: APIClient,
                                                                    archive: dict) -> None:
    body = client.get("/stac/").json()
    rels = {(link["rel"], link.get("method")) for link in body["links"]}
    assert {("conformance", None), ("data", None), ("search", "GET"), ("search", "POST"),
            ("service-desc", None)} <= rels
    assert "https://api.stacspec.org/v1.0.0/item-search" in body["conformsTo"]
    assert client.get("/stac/conformance").json()["conformsTo"] == body["conformsTo"]
    children = [link["href"] for link in body["links"] if link["rel"] == "child"]
    assert any(h.endswith("/stac/collections/modis-aqua-l2") for h in children)


def test_collection_has_extent_of_its_verified_swaths(client: APIClient, archive: dict) -> None:
    body = client.get("/stac/collections/modis-aqua-l2").json()
    assert body["type"] == "Collection"
    assert body["extent"]["temporal"]["interval"][0][0] == "2024-03-01T00:00:00Z"
    assert client.get("/stac/collections/nope").status_code == 404
    listed = [c["id"] for c in client.get("/stac/collections").json()["collections"]]
    assert listed == ["modis-aqua-l2", "modis-terra-l2"]


def test_item_has_sat_and_file_fields_and_a_download_asset(client: APIClient,
                                                            archive: dict) -> None:
    s = archive["a2"]
    item = client.get(f"/stac/collections/modis-aqua-l2/items/{s.uuid}").json()
    assert item["properties"]["sat:absolute_orbit"] == 115
    assert item["properties"]["sat:orbit_state"] == "descending"
    assert item["bbox"] == [172.0, -5.0, -178.0, 5.0]  # crosses the antimeridian
    data = item["assets"]["data"]
    assert data["href"].endswith(f"/api/v1/swaths/{s.uuid}/download")
    assert data["file:size"] == s.size
    assert data["file:checksum"] == "1220" + s.sha256
    pending = archive["pending"]
    assert client.get(
        f"/stac/collections/modis-aqua-l2/items/{pending.uuid}").status_code == 404
    assert client.get("/stac/collections/modis-aqua-l2/items/not-a-uuid").status_code == 404


def test_search_by_bbox_crossing_the_antimeridian(client: APIClient, archive: dict) -> None:
    body = client.get("/stac/search", {"bbox": "179,-1,-179,1"}).json()
    assert ids(body) == [str(archive["a2"].uuid)]
    assert body["numberMatched"] == 1


def test_search_post_with_intersects_datetime_and_collections(client: APIClient,
                                                              archive: dict) -> None:
    body = client.post("/stac/search", {
        "intersects": {"type": "Polygon",
                       "coordinates": [[[12, 12], [14, 12], [14, 14], [12, 14], [12, 12]]]},
        "datetime": "2024-03-01T00:00:00Z/..",
        "collections": ["modis-aqua-l2", "modis-terra-l2"],
    }, format="json").json()
    assert ids(body) == [str(archive["t1"].uuid), str(archive["a1"].uuid)]


def test_pages_follow_next_links_without_repeats(client: APIClient) -> None:
    made = {str(swath(box(0, 0, 1, 1), start=T0 + timedelta(minutes=i % 4)).uuid)
            for i in range(11)}
    seen: list[str] = []
    body = client.get("/stac/search", {"limit": 3}).json()
    while True:
        seen += ids(body)
        nxt = [link for link in body["links"] if link["rel"] == "next"]
        if not nxt:
            break
        body = client.get(nxt[0]["href"]).json()
    assert sorted(seen) == sorted(made)
    seen = []
    body = client.post("/stac/search", {"limit": 4}, format="json").json()
    while True:
        seen += ids(body)
        nxt = [link for link in body["links"] if link["rel"] == "next"]
        if not nxt:
            break
        body = client.post("/stac/search", nxt[0]["body"], format="json").json()
    assert sorted(seen) == sorted(made)


def test_sortby_ascending_and_by_orbit(client: APIClient, archive: dict) -> None:
    body = client.get("/stac/search", {"sortby": "+properties.datetime"}).json()
    times = [f["properties"]["datetime"] for f in body["features"]]
    assert times == sorted(times)
    body = client.post("/stac/search", {"sortby": [
        {"field": "sat:absolute_orbit", "direction": "desc"}]}, format="json").json()
    assert [f["properties"]["sat:absolute_orbit"] for f in body["features"]] == [200, 115, 100]


def test_fields_include_and_exclude(client: APIClient, archive: dict) -> None:
    item = client.get("/stac/search", {"fields": "id,properties.platform"}).json()["features"][0]
    assert item["properties"] == {"platform": "terra"}
    assert set(item) == {"type", "stac_version", "id", "collection", "properties"}
    item = client.get("/stac/search", {"fields": "-geometry"}).json()["features"][0]
    assert "geometry" not in item and "assets" in item
    item = client.post("/stac/search", {"fields": {}}, format="json").json()["features"][0]
    assert set(item) >= {"type", "id", "geometry", "bbox", "links", "assets"}
    assert set(item["properties"]) == {"datetime"}
    assert client.post("/stac/search", {"fields": None}, format="json").status_code == 400


@pytest.mark.parametrize("text", [
    "collection = 'modis-aqua-l2' AND sat:absolute_orbit > 105",
    "NOT collection <> 'modis-aqua-l2' AND (platform = 'aqua' OR platform = 'x') "
    "AND S_INTERSECTS(geometry, POLYGON((170 -1, 179 -1, 179 1, 170 1, 170 -1)))",
    "T_INTERSECTS(datetime, INTERVAL('2024-03-02T00:00:00Z', '2024-03-02T00:01:00Z')) "
    "AND collection IN ('modis-aqua-l2')",
    "datetime >= TIMESTAMP('2024-03-01T12:00:00Z') AND datetime < DATE('2024-03-03') "
    "AND eo:cloud_cover IS NULL AND collection LIKE 'modis-a%'",
])
def test_cql2_text_filters(client: APIClient, archive: dict, text: str) -> None:
    body = client.get("/stac/search", {"filter": text, "filter-lang": "cql2-text"}).json()
    assert ids(body) == [str(archive["a2"].uuid)], body


def test_cql2_json_filter(client: APIClient, archive: dict) -> None:
    body = client.post("/stac/search", {"filter-lang": "cql2-json", "filter": {
        "op": "and", "args": [
            {"op": "=", "args": [{"property": "collection"}, "modis-aqua-l2"]},
            {"op": "s_intersects", "args": [{"property": "geometry"},
                                            {"type": "Point", "coordinates": [15, 15]}]},
            {"op": "t_intersects", "args": [{"property": "datetime"},
                                            {"interval": ["2024-02-01T00:00:00Z", ".."]}]},
        ]}}, format="json").json()
    assert ids(body) == [str(archive["a1"].uuid)]


@pytest.mark.parametrize(("params", "message"), [
    ({"filter": "password = 'x'"}, "'password' is not a queryable"),
    ({"filter": "collection = "}, "at line 1, column 14"),
    ({"filter": "1=1; DROP TABLE catalog_swath"}, "filter"),
    ({"filter": "collection = 'x' OR 1=1--"}, "filter"),
    ({"filter": "{\"op\": \"=\"}", "filter-lang": "cql2-json"}, "args"),
    ({"filter-lang": "sql", "filter": "x"}, "filter-lang"),
    ({"bbox": "0,0,1,1", "intersects": '{"type":"Point","coordinates":[0,0]}'}, "together"),
    ({"ids": ",".join(str(i) for i in range(1000))}, "at most 100"),
    ({"datetime": "2024-01-01T00:00:00"}, "no time zone"),
    ({"limit": "-5"}, "between 1 and"),
    ({"sortby": "footprint"}, "not sortable"),
    ({"token": "x" * 50}, "token"),
    ({"query": '{"eo:cloud_cover": {"lt": 5}}'}, "unknown parameter"),
])
def test_bad_search_input_is_a_400_with_a_reason(client: APIClient, params: dict,
                                                 message: str) -> None:
    response = client.get("/stac/search", params)
    assert response.status_code == 400, response.content
    assert message in response.json()["error"]


def test_queryables_is_a_json_schema(client: APIClient, archive: dict) -> None:
    body = client.get("/stac/queryables", HTTP_ACCEPT="application/schema+json").json()
    assert body["$id"].endswith("/stac/queryables")
    assert {"id", "collection", "datetime", "geometry", "sat:absolute_orbit"} <= set(
        body["properties"])
    assert client.get("/stac/collections/modis-aqua-l2/queryables").status_code == 200


def test_an_estimate_is_labelled_when_counting_would_be_expensive(
        client: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import api.search

    monkeypatch.setattr(api.search, "COUNT_CAP", 3)
    for i in range(5):
        swath(box(0, 0, 1, 1), start=T0 + timedelta(minutes=i))
    body = client.get("/stac/search", {"limit": 2}).json()
    assert "numberMatched" not in body
    assert body["swathstore:numberMatchedEstimate"] >= 4


def test_a_limit_over_the_maximum_pages_at_the_maximum(client: APIClient, archive: dict) -> None:
    response = client.get("/stac/search", {"limit": "100000"})
    assert response.status_code == 200 and len(response.json()["features"]) == 3

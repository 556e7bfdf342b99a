"""What clients see of a swath's identity (platform, levels, orbits), its coordinates, and
how every search face treats a box reaching beyond the world."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from rest_framework.test import APIClient

from catalog.models import Swath
from tests.catalog.factories import box, collection, swath

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def fine_box() -> MultiPolygon:
    """A footprint at far more decimals than 1 cm."""
    west, south, east, north = 10.123456789012, -5.987654321098, 20.000000049, 4.55555555555
    return MultiPolygon(Polygon([(west, south), (east, south), (east, north), (west, south)]),
                        srid=4326)


@pytest.fixture
def granules() -> dict[str, Swath]:
    s6 = collection("sentinel-6")
    return {
        "s6": swath(fine_box(), start=T0, coll=s6, platform="sentinel-6a",
                    constellation="sentinel-6", instrument="poseidon-4", processing_level="L2",
                    orbit=1696, orbit_direction="ascending", orbit_cycle=14, pass_number=191),
        "cs": swath(box(-60, 74, -40, 86), start=T0 + timedelta(hours=1), coll=s6,
                    platform="cryosat-2", instrument="siral", processing_level="L2",
                    orbit=50315, relative_orbit=3832, orbit_cycle=11),
        "old": swath(box(100, 0, 110, 10), start=T0 + timedelta(hours=2), coll=s6,
                     platform="MetOp-B"),  # a row stored before names were normalised
        "empty": swath(None, start=T0 + timedelta(hours=3), coll=s6, platform="metop-b",
                       is_empty=True),
    }


def item(client: APIClient, s: Swath, python: bool = False) -> dict[str, Any]:
    if python:  # the single item's page is rendered in Python, searches by PostgreSQL
        return client.get(f"/stac/collections/{s.collection.slug}/items/{s.uuid}").json()
    body = client.get("/stac/search", {"ids": str(s.uuid)}).json()
    assert len(body["features"]) == 1
    return body["features"][0]


@pytest.mark.parametrize("python", [False, True], ids=["sql", "python"])
def test_items_carry_platform_constellation_level_and_orbit_numbers(
        client: APIClient, granules: dict, python: bool) -> None:
    props = item(client, granules["s6"], python)["properties"]
    assert {k: props.get(k) for k in (
        "platform", "constellation", "instruments", "processing:level", "sat:absolute_orbit",
        "sat:orbit_state", "sat:orbit_cycle", "swathstore:pass", "sat:relative_orbit")} == {
        "platform": "sentinel-6a", "constellation": "sentinel-6", "instruments": ["poseidon-4"],
        "processing:level": "L2", "sat:absolute_orbit": 1696, "sat:orbit_state": "ascending",
        "sat:orbit_cycle": 14, "swathstore:pass": 191, "sat:relative_orbit": None}
    cs = item(client, granules["cs"], python)
    assert cs["properties"]["sat:relative_orbit"] == 3832
    assert "constellation" not in cs["properties"]
    assert "https://stac-extensions.github.io/processing/v1.2.0/schema.json" in cs[
        "stac_extensions"]


@pytest.mark.parametrize("python", [False, True], ids=["sql", "python"])
def test_an_item_without_a_footprint_has_no_bbox_rather_than_a_null_one(
        client: APIClient, granules: dict, python: bool) -> None:
    empty = item(client, granules["empty"], python)
    assert empty["geometry"] is None
    assert "bbox" not in empty


def test_the_rest_api_shows_the_values_the_stac_items_show(client: APIClient,
                                                           granules: dict) -> None:
    listed = {f["id"]: f["properties"] for f in client.get("/api/v1/swaths/").json()["features"]}
    for s in granules.values():
        stac = item(client, s)["properties"]
        detail = client.get(f"/api/v1/swaths/{s.uuid}/").json()["properties"]
        for rest in (listed[str(s.uuid)], detail):
            assert rest["platform"] == stac.get("platform", "")
            assert rest["constellation"] == stac.get("constellation", "")
            assert [rest["instrument"]] == stac.get("instruments", [""])
            assert rest["processing_level"] == stac.get("processing:level", "")
            assert rest["orbit"] == stac.get("sat:absolute_orbit")
            assert rest["relative_orbit"] == stac.get("sat:relative_orbit")
            assert rest["orbit_cycle"] == stac.get("sat:orbit_cycle")
            assert rest["pass_number"] == stac.get("swathstore:pass")


def decimals(value: Any) -> int:
    """The most decimals any number in a JSON value is written with."""
    text = json.dumps(value)
    return max((len(m) for m in re.findall(r"\.(\d+)", text)), default=0)


def test_every_geojson_answer_rounds_coordinates_to_seven_decimals(client: APIClient,
                                                                   granules: dict) -> None:
    from catalog.models import Region

    Region.objects.create(slug="fine", name="fine", geometry=fine_box())
    s6 = granules["s6"]
    answers = {
        "regions": client.get("/api/v1/regions/").json()["features"][0]["geometry"],
        "stac search": item(client, s6)["geometry"],
        "stac item": item(client, s6, python=True)["geometry"],
        "stac bbox": item(client, s6)["bbox"],
        "stac item bbox": item(client, s6, python=True)["bbox"],
        "rest list": next(f["geometry"] for f in client.get("/api/v1/swaths/").json()["features"]
                          if f["id"] == str(s6.uuid)),
        "rest detail": client.get(f"/api/v1/swaths/{s6.uuid}/").json()["geometry"],
    }
    for where, value in answers.items():
        assert decimals(value) <= 7, (where, value)
    assert item(client, s6)["bbox"] == [10.1234568, -5.9876543, 20.0000000, 4.5555556]
    ring = answers["rest detail"]["coordinates"][0][0]
    assert ring[0] == [10.1234568, -5.9876543]
    assert answers["rest list"] == answers["rest detail"] == answers["stac search"]


BEYOND = [181, 91, 182, 92]


def _faces(client: APIClient, bbox: list[float], **extra: Any) -> dict[str, dict]:
    text = ",".join(str(v) for v in bbox)
    listed = {k: ",".join(v) if isinstance(v, list) else v for k, v in extra.items()}
    return {
        "stac GET": client.get("/stac/search", {"bbox": text, **listed}),
        "stac POST": client.post("/stac/search", {"bbox": bbox, **extra}, format="json"),
        "stac items": client.get("/stac/collections/sentinel-6/items", {"bbox": text}),
        "stac filter": client.post("/stac/search", {"filter": {"op": "s_intersects", "args": [
            {"property": "geometry"}, {"bbox": bbox}]}, **extra}, format="json"),
        "rest GET": client.get("/api/v1/swaths/", {"bbox": text}),
        "rest POST": client.post("/api/v1/swaths/search/", {"bbox": text}, format="json"),
    }


def test_a_box_wholly_beyond_the_world_answers_an_empty_page_everywhere(
        client: APIClient, granules: dict) -> None:
    swath(box(-180, -90, 180, 90), start=T0, coll=collection("sentinel-6"))  # covers all
    for face, response in _faces(client, BEYOND).items():
        assert response.status_code == 200, (face, response.content[:300])
        assert response.json()["features"] == [], face


def test_ids_with_a_box_elsewhere_match_nothing_as_every_filter_is_anded(
        client: APIClient, granules: dict) -> None:
    uid = str(granules["s6"].uuid)
    for face, response in _faces(client, BEYOND, ids=[uid]).items():
        if face.startswith("stac") and face != "stac items":
            assert response.status_code == 200, (face, response.content[:300])
            assert response.json()["features"] == [], face
    found = client.get("/stac/search", {"ids": uid, "bbox": "0,-10,30,10"}).json()
    assert [f["id"] for f in found["features"]] == [uid]


def test_a_box_partly_beyond_the_world_finds_what_lies_inside_it(client: APIClient,
                                                               granules: dict) -> None:
    inside = str(granules["cs"].uuid)
    for face, response in _faces(client, [-70, 80, -50, 95]).items():
        assert response.status_code == 200, face
        assert [f["id"] for f in response.json()["features"]] == [inside], face


def test_a_box_that_is_no_box_is_still_refused_with_the_reason(client: APIClient) -> None:
    assert "greater than north" in client.get("/stac/search", {"bbox": "0,10,1,5"}).json()[
        "error"]
    response = client.post("/stac/search", {"bbox": [0, 0, 1]}, format="json")
    assert response.status_code == 400 and "four numbers" in response.json()["error"]


@pytest.mark.parametrize("spelling", ["metop-b", "MetOp-B", "METOPB", "M01", "Metop B"])
def test_a_platform_filter_takes_any_spelling_and_finds_old_and_new_rows(
        client: APIClient, granules: dict, spelling: str) -> None:
    wanted = {str(granules["old"].uuid), str(granules["empty"].uuid)}
    rest = client.get("/api/v1/swaths/", {"platform": spelling}).json()
    assert {f["id"] for f in rest["features"]} == wanted
    for filter_ in (f"platform = '{spelling}'", f"platform IN ('{spelling}', 'zzz')"):
        stac = client.get("/stac/search", {"filter": filter_}).json()
        assert {f["id"] for f in stac["features"]} == wanted, filter_
    other = client.get("/stac/search", {"filter": f"platform <> '{spelling}'"}).json()
    assert wanted.isdisjoint(f["id"] for f in other["features"])


def test_new_properties_are_queryable(client: APIClient, granules: dict) -> None:
    queryables = client.get("/stac/queryables").json()["properties"]
    assert {"constellation", "processing:level", "sat:relative_orbit", "sat:orbit_cycle",
            "swathstore:pass"} <= set(queryables)
    body = client.get("/stac/search", {
        "filter": "\"processing:level\" = 'L2' AND \"sat:orbit_cycle\" > 12"}).json()
    assert [f["id"] for f in body["features"]] == [str(granules["s6"].uuid)]

"""/api/v1/swaths: GeoJSON, filters, keyset paging, and 400s that say what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from tests.catalog.factories import box, swath

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def test_list_is_a_geojson_feature_collection(client: APIClient) -> None:
    s = swath(box(10, 10, 20, 20), start=T0)
    body = client.get("/api/v1/swaths/").json()
    assert body["type"] == "FeatureCollection"
    (feature,) = body["features"]
    assert feature["id"] == str(s.uuid)
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["collection"] == "modis-aqua-l2"
    assert feature["properties"]["start_time"] == "2024-03-01T00:00:00Z"


def test_bbox_and_datetime_filters(client: APIClient) -> None:
    hit = swath(box(172, -5, 178, 5), start=T0)
    swath(box(172, -5, 178, 5), start=T0 + timedelta(days=40))  # outside the window
    swath(box(0, -5, 5, 5), start=T0)  # outside the box
    body = client.get("/api/v1/swaths/", {
        "bbox": "170,-10,-170,10", "datetime": "2024-03-01T00:00:00Z/2024-03-31T00:00:00Z",
    }).json()
    assert [f["id"] for f in body["features"]] == [str(hit.uuid)]


def test_only_verified_swaths_are_listed_by_default(client: APIClient) -> None:
    swath(box(0, 0, 1, 1), state="PENDING")
    assert client.get("/api/v1/swaths/").json()["features"] == []
    assert len(client.get("/api/v1/swaths/", {"state": "PENDING"}).json()["features"]) == 1


def test_keyset_pages_return_every_swath_once(client: APIClient) -> None:
    made = {str(swath(box(0, 0, 1, 1), start=T0 + timedelta(minutes=i % 7)).uuid)
            for i in range(23)}
    seen: list[str] = []
    params: dict[str, str] = {"limit": "5"}
    while True:
        body = client.get("/api/v1/swaths/", params).json()
        seen += [f["id"] for f in body["features"]]
        if "next" not in body:
            break
        params["next"] = body["next"]
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == made


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"bbox": "1,2,3"}, "four numbers"),
        ({"bbox": "0,50,10,40"}, "bbox south=50 is greater than north=40"),
        ({"bbox": "0,nan,10,40"}, "must be a finite number"),
        ({"datetime": "2024-01-01T00:00:00"}, "no time zone"),
        ({"datetime": "yesterday"}, "not an RFC 3339"),
        ({"datetime": "2024-02-01T00:00:00Z/2024-01-01T00:00:00Z"}, "ends before it starts"),
        ({"limit": "0"}, "between 1 and"),
        ({"limit": "ten"}, "not an integer"),
        ({"next": "garbage!"}, "next token is not valid"),
        ({"state": "GOOD"}, "state='GOOD'"),
        ({"footprint__contains": "x"}, "unknown parameter(s): footprint__contains"),
    ],
)
def test_bad_parameters_get_400_with_a_reason(client: APIClient, params: dict,
                                               message: str) -> None:
    response = client.get("/api/v1/swaths/", params)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_detail_by_uuid(client: APIClient) -> None:
    s = swath(box(0, 0, 1, 1))
    body = client.get(f"/api/v1/swaths/{s.uuid}/").json()
    assert body["properties"]["sha256"] == s.sha256
    assert client.get("/api/v1/swaths/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_openapi_schema_is_served(client: APIClient) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/v1/swaths/" in response.json()["paths"]


# --- more filters ----------------------------------------------------------------

def test_intersects_wkt_point_radius_platform_and_orbit(client: APIClient) -> None:
    a = swath(box(10, 10, 20, 20), start=T0, platform="aqua", orbit=500)
    t = swath(box(30, 10, 40, 20), start=T0, platform="terra", orbit=900)

    def got(params: dict) -> list[str]:
        return [f["id"] for f in client.get("/api/v1/swaths/", params).json()["features"]]

    assert got({"intersects": "POLYGON((12 12, 14 12, 14 14, 12 14, 12 12))"}) == [str(a.uuid)]
    assert got({"point": "35,15", "radius_km": "50"}) == [str(t.uuid)]
    assert got({"platform": "AQUA"}) == [str(a.uuid)]
    assert got({"orbit": "800..1000"}) == [str(t.uuid)]
    assert got({"orbit": "500"}) == [str(a.uuid)]


def test_region_filter_and_regions_endpoint(client: APIClient) -> None:
    from catalog.models import Region

    Region.objects.create(slug="agulhas", name="Agulhas Bank", geometry=box(19, -37, 24, -33))
    hit = swath(box(20, -36, 22, -34), start=T0)
    swath(box(0, 0, 1, 1), start=T0)
    body = client.get("/api/v1/swaths/", {"region": "agulhas"}).json()
    assert [f["id"] for f in body["features"]] == [str(hit.uuid)]
    response = client.get("/api/v1/swaths/", {"region": "nowhere"})
    assert response.status_code == 400 and "not a known region" in response.json()["error"]
    regions = client.get("/api/v1/regions/").json()
    assert regions["features"][0]["id"] == "agulhas"


def test_a_private_orders_region_filters_only_for_its_owner_and_staff() -> None:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from catalog.models import Region

    def signed_in(name: str, staff: bool = False) -> APIClient:
        user = User.objects.create_user(name, is_staff=staff)
        return APIClient(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    alice, bob, staff = signed_in("alice"), signed_in("bob"), signed_in("staff", staff=True)
    Region.objects.create(slug="aral", name="Aral", geometry=box(58, 43, 62, 47),
                          order_active=True, order_owner=User.objects.get(username="alice"))
    hit = swath(box(59, 44, 61, 46), start=T0)
    swath(box(0, 0, 1, 1), start=T0)
    for who in (alice, staff):
        body = who.get("/api/v1/swaths/", {"region": "aral"}).json()
        assert [f["id"] for f in body["features"]] == [str(hit.uuid)]
        body = who.post("/api/v1/swaths/search/", {"region": "aral"}, format="json").json()
        assert [f["id"] for f in body["features"]] == [str(hit.uuid)]
    # Anyone else is told what a slug no region has gets: the order's name is not revealed.
    unknown = APIClient().get("/api/v1/swaths/", {"region": "aralx"})
    assert unknown.status_code == 400
    for who in (bob, APIClient()):
        for response in (who.get("/api/v1/swaths/", {"region": "aral"}),
                         who.post("/api/v1/swaths/search/", {"region": "aral"}, format="json")):
            assert response.status_code == 400
            assert response.json() == {**unknown.json(), "error": unknown.json()["error"]
                                       .replace("aralx", "aral")}


def test_post_search_takes_a_geojson_body_and_reports_repairs(client: APIClient) -> None:
    hit = swath(box(0, 0, 2, 2), start=T0)
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}
    response = client.post("/api/v1/swaths/search/", {"intersects": bowtie}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert [f["id"] for f in body["features"]] == [str(hit.uuid)]
    assert "repaired" in body["repairs"][0] and "Self-intersection" in body["repairs"][0]


def test_clockwise_rings_are_accepted(client: APIClient) -> None:
    hit = swath(box(0, 0, 2, 2), start=T0)
    clockwise = {"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]]}
    body = client.post("/api/v1/swaths/search/", {"intersects": clockwise}, format="json").json()
    assert [f["id"] for f in body["features"]] == [str(hit.uuid)]


def test_sortby_fields_and_number_matched(client: APIClient) -> None:
    for i, orbit in enumerate((3, 1, 2)):
        swath(box(0, 0, 1, 1), start=T0 + timedelta(hours=i), orbit=orbit)
    body = client.get("/api/v1/swaths/", {"sortby": "orbit", "fields": "orbit",
                                          "limit": "2"}).json()
    assert [f["properties"] for f in body["features"]] == [{"orbit": 1}, {"orbit": 2}]
    assert body["numberMatched"] == 3 and body["numberMatchedEstimated"] is False
    rest = client.get("/api/v1/swaths/", {"sortby": "orbit", "fields": "orbit",
                                          "next": body["next"]}).json()
    assert [f["properties"] for f in rest["features"]] == [{"orbit": 3}]
    assert rest["numberMatched"] == 3


def test_collections_are_public_and_products_list_none_to_anonymous_callers(
        client: APIClient) -> None:
    swath(box(0, 0, 1, 1))
    assert client.get("/api/v1/collections/").json()[0]["slug"] == "modis-aqua-l2"
    assert client.get("/api/v1/collections/modis-aqua-l2/").json()["slug"] == "modis-aqua-l2"
    assert client.get("/api/v1/products/").json()["results"] == []


# --- bad input (RELIABILITY D5-D7, M5) ---------------------------------------------

INJECTIONS = ["' OR 1=1--", "1; DROP TABLE catalog_swath", "x' UNION SELECT password FROM "
              "auth_user--", "\x00", "%00", "../../etc/passwd", "{\"$gt\": \"\"}"]


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("name", ["bbox", "intersects", "point", "region", "datetime",
                                  "collection", "platform", "orbit", "state", "sortby",
                                  "limit", "next", "fields"])
def test_injection_strings_never_reach_the_database(client: APIClient, name: str,
                                                    value: str) -> None:
    swath(box(0, 0, 1, 1))
    response = client.get("/api/v1/swaths/", {name: value})
    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:  # a harmless text filter that matched nothing
        assert response.json()["features"] == []


@pytest.mark.parametrize("name", ["_connector", "_negated", "password__startswith",
                                  "collection__slug__in", "footprint__contains", "id__gt"])
def test_only_allow_listed_parameters_are_read(client: APIClient, name: str) -> None:
    response = client.get("/api/v1/swaths/", {name: "OR"})
    assert response.status_code == 400
    assert f"unknown parameter(s): {name}" in response.json()["error"]


@pytest.mark.parametrize(("geometry", "message"), [
    ({"type": "Point", "coordinates": [10, 95]}, "latitude 95 is outside"),
    ({"type": "Point", "coordinates": [400, 0]}, "longitude 400 is outside -360..360"),
    ({"type": "Point", "coordinates": ["a", 0]}, "is not a number"),
    ({"type": "Point", "coordinates": [0, 0, 10, 20]}, "a position must be [lon, lat]"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "end where"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "at least 4"),
    ({"type": "Circle", "coordinates": [0, 0]}, "is not one of"),
])
def test_bad_geometries_get_400_before_the_database(client: APIClient, geometry: dict,
                                                    message: str) -> None:
    response = client.post("/api/v1/swaths/search/", {"intersects": geometry}, format="json")
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_nan_coordinates_are_refused(client: APIClient) -> None:
    body = '{"intersects": {"type": "Point", "coordinates": [NaN, 0]}}'
    response = client.post("/api/v1/swaths/search/", body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.serial  # asserts a time bound
def test_too_many_vertices_are_refused_quickly(client: APIClient, settings) -> None:
    import math
    import time

    settings.API_MAX_QUERY_VERTICES = 10_000
    ring = [[5 * math.cos(a / 1e4), 5 * math.sin(a / 1e4)] for a in range(0, 62832, 1)]
    ring.append(ring[0])
    t = time.perf_counter()
    response = client.post("/api/v1/swaths/search/",
                           {"intersects": {"type": "Polygon", "coordinates": [ring]}},
                           format="json")
    assert response.status_code in (400, 413)
    assert time.perf_counter() - t < 1.0


def test_inverted_bbox_and_timezone_free_datetimes_say_what_to_fix(client: APIClient) -> None:
    response = client.get("/api/v1/swaths/", {"bbox": "10,20,20,10"})
    assert "the order is W,S,E,N" in response.json()["error"]
    response = client.get("/api/v1/swaths/", {"datetime": "2024-01-01T00:00:00/.."})
    assert "add Z or an offset" in response.json()["error"]


def test_huge_lists_are_refused(client: APIClient) -> None:
    response = client.get("/api/v1/swaths/", {"collection": ",".join(["x"] * 5000)})
    assert response.status_code == 400 and "at most 100" in response.json()["error"]

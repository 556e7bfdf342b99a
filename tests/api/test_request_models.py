"""Each endpoint's OpenAPI description is its request model: what the schema lists is what
the API takes, and a name the schema lacks is refused (400, naming it), as documented by
additionalProperties: false (api/requests.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.catalog.factories import box, collection, swath

pytestmark = pytest.mark.django_db

STAC_BODY = {"bbox", "datetime", "intersects", "collections", "ids", "limit", "filter",
             "filter-lang", "filter-crs", "sortby", "fields", "token"}
AGGREGATE = STAC_BODY - {"limit", "sortby", "fields", "token"} | {
    "aggregations", "datetime_frequency_interval", "centroid_geohash_grid_frequency_precision"}
QUERIES = {  # path -> the query parameters it documents and takes
    "/stac/search": STAC_BODY,
    "/stac/aggregate": AGGREGATE,
    "/stac/collections/{collection_id}/aggregate": AGGREGATE - {"collections"},
    "/stac/collections/{collection_id}/items": STAC_BODY - {"collections"},
    "/api/v1/swaths/": {"bbox", "intersects", "point", "radius_km", "region", "datetime",
                        "collection", "platform", "orbit", "relative_orbit", "orbit_cycle",
                        "pass_number", "orbit_direction", "equator_crossing", "valid_fraction",
                        "valid_fraction_min", "state", "sortby", "limit", "next",
                        "fields", "format"},
}
BODIES = {  # path -> (its body component, a body using every documented name)
    "/stac/search": ("SearchBody", {
        "bbox": [0, 0, 10, 10], "datetime": "2024-01-01T00:00:00Z/..",
        "collections": ["c"], "ids": [], "limit": 5, "token": None,
        "filter": {"op": "=", "args": [{"property": "platform"}, "aqua"]},
        "filter-lang": "cql2-json", "filter-crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "sortby": [{"field": "datetime", "direction": "desc"}],
        "fields": {"include": ["id"], "exclude": ["geometry"]}, "intersects": None}),
    "/stac/aggregate": ("AggregateBody", {
        "bbox": [0, 0, 10, 10], "datetime": "2024-01-01T00:00:00Z/..",
        "collections": ["c"], "ids": [],
        "filter": {"op": "=", "args": [{"property": "platform"}, "aqua"]},
        "filter-lang": "cql2-json", "filter-crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "intersects": None, "aggregations": ["total_count", "datetime_frequency"],
        "datetime_frequency_interval": "day", "centroid_geohash_grid_frequency_precision": 4}),
    "/api/v1/swaths/search/": ("SwathBody", {
        "intersects": {"type": "Point", "coordinates": [5, 5]}, "region": "", "point": "",
        "radius_km": None, "bbox": None, "datetime": "2024-01-01/2024-12-31",
        "collection": ["c"], "platform": "aqua", "orbit": "1..100", "relative_orbit": "..9",
        "orbit_cycle": 3, "pass_number": "1..500", "orbit_direction": "ascending",
        "equator_crossing": "170,-170", "valid_fraction": "0..1", "valid_fraction_min": 0,
        "state": "VERIFIED", "sortby": "-start_time", "limit": 5, "next": None,
        "fields": ["uuid"]}),
    "/api/v1/subsets/": ("SubsetRequest", {
        "bbox": [0, 0, 1, 1], "geometry": None, "region": None, "variables": [],
        "datetime": "2024-01-01/..", "fill_outside": False, "swath": None,
        "search": {"bbox": None, "intersects": None, "datetime": None,
                   "collections": ["nothing-here"]}}),
}


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/?format=json").json()


@pytest.fixture
def client() -> APIClient:
    c = APIClient()
    c.force_authenticate(User.objects.create_user("modeller"))
    return c


@pytest.mark.parametrize("path", QUERIES)
def test_the_schema_lists_exactly_the_query_parameters_an_endpoint_takes(
        schema: dict[str, Any], path: str) -> None:
    documented = {p["name"] for p in schema["paths"][path]["get"]["parameters"]
                  if p["in"] == "query"}
    assert documented == QUERIES[path]


@pytest.mark.parametrize("path", BODIES)
def test_the_schema_describes_each_body_and_refuses_other_names(
        schema: dict[str, Any], path: str) -> None:
    name, example = BODIES[path]
    ref = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert ref == {"$ref": f"#/components/schemas/{name}"}
    body = schema["components"]["schemas"][name]
    assert set(body["properties"]) == set(example)
    assert body["additionalProperties"] is False


def test_the_stac_search_body_names_the_search_extensions_it_speaks(
        schema: dict[str, Any]) -> None:
    props = schema["components"]["schemas"]["SearchBody"]["properties"]
    assert set(props) == STAC_BODY
    assert set(schema["components"]["schemas"]["Filter-langEnum"]["enum"]) == {
        "cql2-text", "cql2-json"}
    assert props["sortby"]["items"] == {"$ref": "#/components/schemas/Sort"}
    sortable = schema["components"]["schemas"]["FieldEnum"]["enum"]
    assert {"datetime", "properties.datetime", "id", "sat:absolute_orbit"} <= set(sortable)


@pytest.mark.parametrize("path", BODIES)
def test_a_body_using_every_documented_name_is_taken(client: APIClient, path: str) -> None:
    swath(box(0, 0, 10, 10), coll=collection("c"), platform="aqua", orbit=7)
    response = client.post(path, BODIES[path][1], format="json")
    # The subset search matches no swath: its refusal is about the data, not the body.
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert "no VERIFIED swath" in response.json()["error"]


@pytest.mark.parametrize("path", [*BODIES, *QUERIES])
def test_a_name_the_schema_lacks_is_refused_and_named(client: APIClient, path: str) -> None:
    path = path.replace("{collection_id}", "c")
    collection("c")
    if path in BODIES:
        response = client.post(path, {**BODIES[path][1], "colour": "red"}, format="json")
    else:
        response = client.get(path, {"colour": "red"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("unknown parameter(s): colour")


@pytest.mark.parametrize(("method", "path", "data"), [
    ("get", "/stac/search", {"sortby": "", "limit": "", "fields": "id"}),
    ("post", "/stac/search", {"sortby": None, "limit": None, "token": None}),
    ("get", "/api/v1/swaths/", {"sortby": "", "state": "", "limit": ""}),
    ("post", "/api/v1/swaths/search/", {"sortby": None, "state": [], "limit": None}),
])
def test_an_empty_or_null_value_takes_the_documented_default(
        client: APIClient, method: str, path: str, data: dict[str, Any]) -> None:
    swath(box(0, 0, 10, 10), coll=collection("c"))
    response = getattr(client, method)(path, data, format="json" if method == "post" else None)
    assert response.status_code == 200, response.content[:300]
    assert len(response.json()["features"]) == 1

"""/api/v1/regions/: standing orders placed, listed, backfilled and deleted by their owner."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from rest_framework.test import APIClient

from catalog.models import Product, Region
from subset.orders import ORDER_MAX_VERTICES
from subset.services import create_order_products
from tests.catalog.factories import box, collection, swath
from tests.support.clients import client_of

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 3, 1, tzinfo=UTC)
ARAL = {"slug": "aral", "name": "Aral Sea", "bbox": "58,43,62,47"}


@pytest.fixture
def alice() -> APIClient:
    return client_of("alice")


@pytest.fixture
def bob() -> APIClient:
    return client_of("bob")


def slugs(client: APIClient) -> list[str]:
    response = client.get("/api/v1/regions/")
    assert response.status_code == 200
    return [f["id"] for f in response.json()["features"]]


def test_an_order_is_placed_listed_and_deleted_by_its_owner_only(
        alice: APIClient, bob: APIClient) -> None:
    Region.objects.create(slug="shared", name="Shared", geometry=box(0, 0, 1, 1))
    response = alice.post("/api/v1/regions/", {**ARAL, "variables": ["sst"]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["id"] == "aral" and body["properties"]["owner"] == "alice"
    assert body["properties"]["order_active"] is True
    assert body["properties"]["order_variables"] == ["sst"]
    order = Region.objects.get(slug="aral")
    assert order.order_owner.username == "alice" and order.geometry.extent == (58, 43, 62, 47)

    assert slugs(alice) == ["aral", "shared"]
    assert slugs(bob) == ["shared"]  # another user's order is not listed
    assert slugs(APIClient()) == ["shared"]
    assert slugs(client_of("staff", is_staff=True)) == ["aral", "shared"]
    assert bob.get("/api/v1/regions/aral/").status_code == 404

    assert bob.delete("/api/v1/regions/aral/").status_code == 404
    assert bob.delete("/api/v1/regions/shared/").status_code == 403
    assert APIClient().delete("/api/v1/regions/shared/").status_code == 401
    response = alice.delete("/api/v1/regions/aral/")
    assert response.status_code == 200 and response.json() == {"deleted": "aral", "dropped": 0}
    assert slugs(alice) == ["shared"]


def test_staff_may_delete_any_order(alice: APIClient) -> None:
    assert alice.post("/api/v1/regions/", ARAL, format="json").status_code == 201
    staff = client_of("staff", is_staff=True)
    assert staff.delete("/api/v1/regions/aral/").status_code == 200
    assert not Region.objects.exists()


def test_a_slug_is_made_from_the_name_when_none_is_given(alice: APIClient) -> None:
    response = alice.post("/api/v1/regions/", {"name": "Gulf of Gabès", "geometry":
                          "POLYGON((10 33, 12 33, 12 35, 10 35, 10 33))"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["id"] == "gulf-of-gabes"


def many_vertices(n: int) -> dict:
    """A polygon of n + 1 vertices on a 1-degree circle (small in area)."""
    import math

    ring = [[20 + math.cos(2 * math.pi * i / n), 40 + math.sin(2 * math.pi * i / n)]
            for i in range(n)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


@pytest.mark.parametrize(("body", "field"), [
    ({"slug": "x", "bbox": "-180,-90,180,90"}, "bbox: "),  # the whole world
    ({"slug": "x", "bbox": "0,0,60,60"}, "bbox: "),  # about 40 million km2
    ({"slug": "x", "geometry": many_vertices(ORDER_MAX_VERTICES + 10)}, "geometry: "),
    ({"slug": "x", "geometry": "POLYGON((0 0, 1 1))"}, "geometry"),
    ({"slug": "x", "bbox": "10,10,5"}, "bbox"),
    ({"slug": "x"}, "exactly one of bbox or geometry"),
    ({"slug": "x", "bbox": "1,1,2,2", "geometry": "POLYGON((0 0,1 0,1 1,0 0))"},
     "exactly one of bbox or geometry"),
    ({"slug": "Not A Slug", "bbox": "1,1,2,2"}, "slug="),
    ({"bbox": "1,1,2,2"}, "slug: give a slug"),
    ({"slug": "x", "bbox": "1,1,2,2", "collections": ["nope"]}, "collections: no collection"),
    ({"slug": "x", "bbox": "1,1,2,2", "variables": "a" * 300}, "variables"),
    ({"slug": "x", "bbox": "1,1,2,2", "cut_everything": True}, "unknown parameter"),
])
def test_bad_orders_are_refused_naming_the_field(alice: APIClient, body: dict,
                                                 field: str) -> None:
    response = alice.post("/api/v1/regions/", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"].startswith(field) or field in response.json()["error"]
    assert not Region.objects.exists()


def test_the_area_and_vertex_limits_are_in_the_message(alice: APIClient) -> None:
    error = alice.post("/api/v1/regions/", {"slug": "x", "bbox": "0,0,60,60"},
                       format="json").json()["error"]
    assert "36,810,816 km2" in error and "20,000,000" in error
    error = alice.post("/api/v1/regions/", {"slug": "x", "geometry": many_vertices(1200)},
                       format="json").json()["error"]
    assert "1201 vertices" in error and "1000" in error


def test_a_taken_slug_is_refused_and_writes_need_a_user(alice: APIClient,
                                                        bob: APIClient) -> None:
    assert alice.post("/api/v1/regions/", ARAL, format="json").status_code == 201
    response = bob.post("/api/v1/regions/", ARAL, format="json")
    assert response.status_code == 400 and response.json()["error"].startswith("slug: ")
    assert APIClient().post("/api/v1/regions/", {**ARAL, "slug": "y"},
                            format="json").status_code == 401


def test_the_orders_products_are_listed_in_its_owners_subsets(
        alice: APIClient, bob: APIClient) -> None:
    collection("modis-aqua-l2")
    assert alice.post("/api/v1/regions/", {**ARAL, "collections": ["modis-aqua-l2"]},
                      format="json").status_code == 201
    over = swath(box(59, 44, 61, 46), start=T0)
    (product,) = create_order_products(over.pk)  # what the swath_verified signal runs
    listed = alice.get("/api/v1/subsets/").json()["products"]
    assert [(p["id"], p["region"], p["state"]) for p in listed] == [
        (product.pk, "aral", "QUEUED")]
    assert bob.get("/api/v1/subsets/").json()["products"] == []


def test_backfill_makes_the_products_of_archived_swaths_in_the_window(
        alice: APIClient, bob: APIClient) -> None:
    inside = swath(box(59, 44, 61, 46), start=T0)
    swath(box(59, 44, 61, 46), start=datetime(2023, 1, 1, tzinfo=UTC))  # before the window
    swath(box(0, 0, 1, 1), start=T0)  # elsewhere
    assert alice.post("/api/v1/regions/", ARAL, format="json").status_code == 201
    url = "/api/v1/regions/aral/backfill/"
    assert bob.post(url, {}, format="json").status_code == 404
    response = alice.post(url, {"datetime": "2024-01-01T00:00:00Z/.."}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 1 and response.json()["existing"] == 0
    assert list(Product.objects.values_list("swath", flat=True)) == [inside.pk]
    again = alice.post(url, {"datetime": "2024-01-01T00:00:00Z/.."}, format="json").json()
    assert (again["created"], again["existing"]) == (0, 1)
    assert alice.post(url, {"datetime": "yesterday"}, format="json").json()["error"] \
        .startswith("datetime")
    # Deleting the order drops what no worker started; its products are gone from the list.
    assert alice.delete("/api/v1/regions/aral/").json()["dropped"] == 1
    assert not Product.objects.exists()


def test_an_order_that_cannot_be_cut_says_why(alice: APIClient) -> None:
    assert alice.post("/api/v1/regions/", ARAL, format="json").status_code == 201
    Region.objects.filter(slug="aral").update(order_problem="geometry: WKT too long")
    body = alice.get("/api/v1/regions/aral/").json()
    assert body["properties"]["order_problem"] == "geometry: WKT too long"
    response = alice.post("/api/v1/regions/aral/backfill/", {}, format="json")
    assert response.status_code == 400 and "cannot be cut" in response.json()["error"]


def test_the_schema_describes_the_order_body() -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    post = schema["paths"]["/api/v1/regions/"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert {"slug", "name", "bbox", "geometry", "collections", "variables"} <= set(
        body["properties"])
    assert body.get("additionalProperties") is False
    assert "km2" in body["properties"]["bbox"]["description"]
    assert "delete" in schema["paths"]["/api/v1/regions/{slug}/"]
    assert "/api/v1/regions/{slug}/backfill/" in schema["paths"]


def test_a_shared_region_an_order_is_placed_on_keeps_the_old_shape(alice: APIClient) -> None:
    Region.objects.create(slug="agulhas", name="Agulhas", geometry=MultiPolygon(
        Polygon.from_bbox((19, -37, 24, -33)), srid=4326))
    (feature,) = APIClient().get("/api/v1/regions/").json()["features"]
    assert feature["type"] == "Feature" and feature["id"] == "agulhas"
    assert feature["properties"]["owner"] is None
    assert {"name", "description", "order_active", "order_collections", "order_variables",
            "created_at"} <= set(feature["properties"])


def uncuttable_ring() -> MultiPolygon:
    """A region the kernel refuses: over eo's 10,000 vertices."""
    n = 12_000
    ring = [(60 + 2 * math.cos(2 * math.pi * i / n), 45 + 2 * math.sin(2 * math.pi * i / n))
            for i in range(n)]
    return MultiPolygon(Polygon([*ring, ring[0]]), srid=4326)


def test_the_owner_resumes_a_stopped_order_once_its_region_can_be_cut(
        alice: APIClient, bob: APIClient) -> None:
    assert alice.post("/api/v1/regions/", ARAL, format="json").status_code == 201
    url = "/api/v1/regions/aral/resume/"
    body = alice.post(url).json()
    assert body["resumed"] is False and body["stopped_since"] is None  # it was running
    Region.objects.filter(slug="aral").update(geometry=uncuttable_ring())
    response = alice.post("/api/v1/regions/aral/backfill/", {}, format="json")
    assert response.status_code == 400  # the backfill finds the problem: the order stops
    stopped = Region.objects.get(slug="aral").order_problem_at
    assert stopped is not None
    response = alice.post(url)
    assert response.status_code == 400
    assert response.json()["error"].startswith("order aral still cannot be cut: ")
    assert Region.objects.get(slug="aral").order_problem  # still stopped
    assert bob.post(url).status_code == 404  # another user's order: not even its name
    assert APIClient().post(url).status_code == 401
    Region.objects.filter(slug="aral").update(geometry=box(58, 43, 62, 47))  # staff fix it
    response = alice.post(url)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["resumed"] is True
    assert datetime.fromisoformat(body["stopped_since"].replace("Z", "+00:00")) == stopped
    assert body["order"]["id"] == "aral" and body["order"]["properties"]["order_problem"] == ""
    inside = swath(box(59, 44, 61, 46), start=T0)
    assert len(create_order_products(inside.pk)) == 1  # the next swath gets its product


def test_staff_may_resume_any_order_and_the_schema_lists_resume(alice: APIClient) -> None:
    assert alice.post("/api/v1/regions/", ARAL, format="json").status_code == 201
    Region.objects.filter(slug="aral").update(order_problem="geometry: WKT too long")
    staff = client_of("staff", is_staff=True)
    body = staff.post("/api/v1/regions/aral/resume/").json()
    assert body["resumed"] is True and body["order"]["properties"]["owner"] == "alice"
    schema = APIClient().get("/api/schema/?format=json").json()
    assert "/api/v1/regions/{slug}/resume/" in schema["paths"]


def test_another_users_order_is_an_unknown_region_to_a_subset_request(
        alice: APIClient, bob: APIClient) -> None:
    assert alice.post("/api/v1/regions/", ARAL, format="json").status_code == 201
    missing = "00000000-0000-0000-0000-000000000000"
    for url in ("/api/v1/subsets/", "/api/v1/subsets/estimate"):
        # The owner's region is taken: what fails is the swath, which does not exist.
        response = alice.post(url, {"region": "aral", "swath": missing}, format="json")
        assert response.status_code == 404, response.json()
        for region in ("aral", "nowhere"):
            response = bob.post(url, {"region": region, "swath": missing}, format="json")
            assert response.status_code == 400
            assert response.json()["error"] == f"no region named {region!r}"

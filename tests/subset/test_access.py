"""Products are private: their owner (and staff) read them, everyone else gets 404.

Ingest runs are staff only. Public reads (catalog, swaths, collections, STAC) are
tested in tests/api/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import MultiPolygon, Polygon
from rest_framework.test import APIClient

from catalog.models import IngestRun, Product, Region, Swath
from catalog.signals import swath_verified
from tests.subset.test_jobs import BBOX, MODIS, archived
from tests.support.clients import client_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def modis(shared_swaths: Path) -> Swath:
    return archived(shared_swaths / MODIS)


@pytest.fixture
def done(modis: Swath, django_capture_on_commit_callbacks) -> tuple[APIClient, int]:  # type: ignore[no-untyped-def]
    """Alice's product, cut (inline, on commit, as a command would) and DONE."""
    alice = client_of("alice")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post("/api/v1/subsets/", {"swath": str(modis.uuid), "bbox": BBOX,
                                                   "variables": ["sea_surface_temperature"]},
                              format="json")
    assert response.status_code == 202, response.json()
    pk = response.json()["products"][0]["id"]
    assert Product.objects.get(pk=pk).state == "DONE"
    return alice, pk


def read_paths(pk: int) -> list[str]:
    return [f"/api/v1/subsets/{pk}", f"/api/v1/subsets/{pk}/download",
            f"/api/v1/products/{pk}/"]


def listed(client: APIClient) -> set[int]:
    """The product ids both product lists show this client."""
    products = {p["id"] for p in client.get("/api/v1/products/").json()["results"]}
    subsets = {p["id"] for p in client.get("/api/v1/subsets/").json()["products"]}
    return products | subsets


@pytest.mark.parametrize("who", ["anonymous", "another user"])
def test_another_users_product_is_404_on_every_read_path(
        done: tuple[APIClient, int], who: str) -> None:
    _, pk = done
    stranger = APIClient() if who == "anonymous" else client_of("mallory")
    for url in read_paths(pk):
        response = stranger.get(url)
        assert response.status_code == 404, (url, response.status_code)
        assert "sea_surface_temperature" not in response.content.decode()
        assert stranger.head(url).status_code == 404, url
    assert pk not in listed(stranger)


def test_the_owner_and_staff_read_and_download_the_product(
        done: tuple[APIClient, int]) -> None:
    alice, pk = done
    staff = client_of("operator", is_staff=True)
    for client in (alice, staff):
        for url in read_paths(pk):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        data = b"".join(client.get(f"/api/v1/subsets/{pk}/download").streaming_content)
        assert data[:4] == b"\x89HDF"
    assert pk in listed(alice)
    assert pk in {p["id"] for p in staff.get("/api/v1/products/").json()["results"]}


def test_a_second_user_posting_the_same_body_gets_a_product_of_their_own(
        modis: Swath, django_capture_on_commit_callbacks) -> None:
    body = {"swath": str(modis.uuid), "bbox": BBOX}
    alice, bob = client_of("alice"), client_of("bob")
    with django_capture_on_commit_callbacks():  # queued only: identities are the point
        first = alice.post("/api/v1/subsets/", body, format="json")
        second = bob.post("/api/v1/subsets/", body, format="json")
        again = alice.post("/api/v1/subsets/", body, format="json")
    assert (first.status_code, second.status_code, again.status_code) == (202, 202, 200)
    mine, theirs = first.json()["products"][0]["id"], second.json()["products"][0]["id"]
    assert mine != theirs and again.json()["products"][0]["id"] == mine
    assert {p.owner.username for p in Product.objects.all()} == {"alice", "bob"}
    assert bob.get(f"/api/v1/subsets/{mine}").status_code == 404


def test_standing_order_products_belong_to_the_orders_owner(
        modis: Swath, django_capture_on_commit_callbacks) -> None:
    owner = client_of("oceanographer")
    region = Region.objects.create(
        slug="aral", name="Aral", order_active=True,
        order_owner=User.objects.get(username="oceanographer"),
        geometry=MultiPolygon(Polygon.from_bbox((70, 42, 80, 48)), srid=4326),
        order_variables=["sea_surface_temperature"])
    with django_capture_on_commit_callbacks(execute=True):
        swath_verified.send(sender=Swath, swath_id=modis.pk)
    (product,) = Product.objects.filter(region=region)
    assert product.owner == region.order_owner and product.state == "DONE", product.error
    assert owner.get(f"/api/v1/subsets/{product.pk}/download").status_code == 200
    assert client_of("someone").get(f"/api/v1/subsets/{product.pk}").status_code == 404
    assert APIClient().get(f"/api/v1/products/{product.pk}/").status_code == 404


def test_ingest_runs_are_for_staff_only(modis: Swath) -> None:
    run = IngestRun.objects.get()
    assert run.paths  # server paths: what a stranger must not see
    assert APIClient().get("/api/v1/ingest-runs/").status_code == 401
    assert client_of("reader").get("/api/v1/ingest-runs/").status_code == 403
    assert client_of("reader2").get(f"/api/v1/ingest-runs/{run.pk}/").status_code == 403
    staff = client_of("operator", is_staff=True)
    (listed_run,) = staff.get("/api/v1/ingest-runs/").json()["results"]
    assert listed_run["id"] == run.pk and listed_run["paths"] == run.paths

"""/api/v1/swaths/{uuid}/quicklook.png, the STAC "quicklook" asset, and `copies` in the
swath detail, for a real granule ingested through the real pipeline into a local store."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image
from rest_framework.test import APIClient

from archive.stores import Store
from catalog.models import Swath
from catalog.services import get_or_create_collection, record_quicklook_error
from ingest.pipeline import ingest_file
from tests.catalog.factories import box, swath
from tests.support.stores import local_primary

pytestmark = pytest.mark.django_db
AMSR2 = "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc"  # 2-D (1064 x 243) SST, 0.9 MB


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A local directory as the primary store."""
    with local_primary(tmp_path / "objects") as primary:
        yield primary


@pytest.fixture
def amsr2(store: Store, shared_swaths: Path) -> Swath:
    """The AMSR2 granule, archived and VERIFIED, with its quicklook."""
    collection, _ = get_or_create_collection("amsr2-l2p")
    outcome = ingest_file(shared_swaths / AMSR2, collection.pk)
    assert outcome.status == "new", outcome.reason
    return Swath.objects.select_related("collection").get(pk=outcome.swath_id)


def stored_bytes(store: Store, key: str) -> bytes:
    with store.open(key) as stream:
        return stream.read()


def test_the_quicklook_is_served_as_png_with_etag_and_cache_control(
        client: APIClient, store: Store, amsr2: Swath) -> None:
    look = amsr2.attrs["quicklook"]
    url = f"/api/v1/swaths/{amsr2.uuid}/quicklook.png"
    response = client.get(url, HTTP_ACCEPT="image/png")  # what an <img> asks for: no 406
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content == stored_bytes(store, look["key"])
    assert Image.open(io.BytesIO(response.content)).size == (81, 355)
    assert response["ETag"] == f'"{look["sha256"]}"'
    assert response["Cache-Control"] == "public, max-age=86400"
    assert response["Content-Length"] == str(look["size"])
    again = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""
    # the router's form with a slash answers too
    assert client.get(url + "/").status_code == 200


def test_the_stac_item_has_a_quicklook_asset_whose_href_answers(
        client: APIClient, amsr2: Swath) -> None:
    item = client.get(f"/stac/collections/{amsr2.collection.slug}/items/{amsr2.uuid}").json()
    asset = item["assets"]["quicklook"]
    assert asset == {
        "href": f"http://testserver/api/v1/swaths/{amsr2.uuid}/quicklook.png",
        "type": "image/png", "roles": ["overview"],
        "title": "Quicklook of /sea_surface_temperature",
    }
    response = client.get(urlsplit(asset["href"]).path)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    # pages of items carry it too
    page = client.get("/stac/search", {"ids": str(amsr2.uuid)}).json()
    assert page["features"][0]["assets"]["quicklook"] == asset


def test_a_swath_without_a_quicklook_answers_404_with_the_reason(
        client: APIClient, store: Store) -> None:
    plain = swath(box(0, 0, 1, 1))
    response = client.get(f"/api/v1/swaths/{plain.uuid}/quicklook.png")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "has no quicklook" in response.json()["error"]
    item = client.get(f"/stac/collections/{plain.collection.slug}/items/{plain.uuid}").json()
    assert set(item["assets"]) == {"data"}

    record_quicklook_error(plain.pk, "QuicklookError: netCDF4 cannot open G.nc")
    response = client.get(f"/api/v1/swaths/{plain.uuid}/quicklook.png")
    assert response.status_code == 404
    assert response.json()["error"].endswith("netCDF4 cannot open G.nc")

    pending = swath(box(0, 0, 1, 1), state="PENDING")
    response = client.get(f"/api/v1/swaths/{pending.uuid}/quicklook.png")
    assert response.status_code == 404 and "is PENDING" in response.json()["error"]
    unknown = client.get("/api/v1/swaths/00000000-0000-0000-0000-000000000000/quicklook.png")
    assert unknown.status_code == 404


def test_a_quicklook_gone_from_the_store_answers_410(
        client: APIClient, store: Store, amsr2: Swath) -> None:
    store.delete(amsr2.attrs["quicklook"]["key"])
    response = client.get(f"/api/v1/swaths/{amsr2.uuid}/quicklook.png")
    assert response.status_code == 410
    assert "cannot be read" in response.json()["error"]


def test_the_swath_detail_lists_its_stored_copies(client: APIClient, amsr2: Swath) -> None:
    (copy,) = amsr2.copies.all()
    props = client.get(f"/api/v1/swaths/{amsr2.uuid}/").json()["properties"]
    assert props["copies"] == [{
        "store": "primary", "key": copy.key, "codec": "none", "state": "VERIFIED",
        "problem": "", "size": amsr2.size, "stored_size": copy.stored_size, "sha256": amsr2.sha256,
        "verified_at": copy.verified_at.isoformat().replace("+00:00", "Z"),
    }]
    assert copy.key.startswith(f"swaths/{amsr2.uuid.hex}/")
    # search pages stay one query: no copies there
    page = client.get("/api/v1/swaths/", {"collection": amsr2.collection.slug}).json()
    assert "copies" not in page["features"][0]["properties"]

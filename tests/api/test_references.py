"""/api/v1/swaths/{uuid}/references.json, the STAC "references" asset and the REST links,
for a real granule's bytes archived in a store with chunk references beside them.

Reading the references with xarray over HTTP, for every shared granule, is
tests/test_xarray_over_http.py; these are the endpoint's own rules, in-process.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

import archive.config
from archive.stores import Store
from catalog.models import StoredObject, Swath
from tests.catalog.factories import box, swath
from tests.support.refindex import index_document, store_document
from tests.support.stores import local_primary, restore_stores

pytestmark = pytest.mark.django_db
AMSR2 = "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc"  # NetCDF4, 15 chunks, 0.9 MB
REFS_TYPE = 'application/json; profile="https://fsspec.github.io/kerchunk/spec.html"'


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with local_primary(tmp_path / "objects") as primary:
        yield primary


def archive_bytes(store: Store, source: Path, store_name: str = "primary") -> Swath:
    """A VERIFIED swath row whose object is ``source``'s bytes, with one VERIFIED copy."""
    data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    s = swath(box(0, 0, 1, 1), sha256=digest, format="netcdf4")
    Swath.objects.filter(pk=s.pk).update(size=len(data), verified_at=timezone.now())
    key = f"swaths/{s.uuid.hex}/a1.nc"
    store.put(key, io.BytesIO(data), size=len(data), sha256=digest)
    StoredObject.objects.create(swath=s, store=store_name, key=key, codec="none",
                                size=len(data), stored_size=len(data), sha256=digest,
                                state="VERIFIED")
    s.refresh_from_db()
    return s


@pytest.fixture(scope="module")
def amsr2_doc(shared_swaths: Path) -> dict:
    source = shared_swaths / AMSR2
    return index_document(source, hashlib.sha256(source.read_bytes()).hexdigest())


@pytest.fixture
def indexed(store: Store, shared_swaths: Path, amsr2_doc: dict) -> Swath:
    s = archive_bytes(store, shared_swaths / AMSR2)
    store_document(s, amsr2_doc)
    return s


def url_of(s: Swath) -> str:
    return f"/api/v1/swaths/{s.uuid}/references.json"


def test_the_references_point_every_chunk_at_byte_ranges_of_the_download(
        client: APIClient, indexed: Swath, amsr2_doc: dict, shared_swaths: Path) -> None:
    response = client.get(url_of(indexed))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == REFS_TYPE
    doc = json.loads(response.content)
    download = f"http://testserver/api/v1/swaths/{indexed.uuid}/download"
    assert doc["templates"] == {"u": download}
    assert doc["refs"] == amsr2_doc["refs"]  # as stored
    source = (shared_swaths / AMSR2).read_bytes()
    ranges = [v for v in doc["refs"].values() if isinstance(v, list)]
    assert len(ranges) >= 10 and all(r[0] == "{{u}}" for r in ranges)
    for _, offset, length in ranges:
        part = client.get(urlsplit(download).path,
                          HTTP_RANGE=f"bytes={offset}-{offset + length - 1}")
        assert part.status_code == 206
        assert b"".join(part.streaming_content) == source[offset:offset + length]
    # the router's form with a slash answers too
    assert client.get(url_of(indexed) + "/").status_code == 200


def test_references_without_consolidated_metadata_get_it_when_served(
        client: APIClient, indexed: Swath, amsr2_doc: dict) -> None:
    # zarr 3 lists no nested group through reference:// without it (api.references).
    bare = {**amsr2_doc, "refs": {k: v for k, v in amsr2_doc["refs"].items()
                                  if k != ".zmetadata"}}
    store_document(indexed, bare)
    doc = client.get(url_of(indexed)).json()
    metadata = json.loads(doc["refs"][".zmetadata"])["metadata"]
    assert metadata == {k: json.loads(v) for k, v in bare["refs"].items()
                        if k.rpartition("/")[2] in (".zgroup", ".zarray", ".zattrs")}


def test_a_large_document_is_gzipped_for_clients_that_accept_it(
        client: APIClient, indexed: Swath) -> None:
    plain = client.get(url_of(indexed))
    packed = client.get(url_of(indexed), HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.content) == plain.content
    assert int(packed["Content-Length"]) < len(plain.content) / 2


def test_the_etag_revalidates_for_nothing(client: APIClient, indexed: Swath) -> None:
    first = client.get(url_of(indexed))
    assert first["Cache-Control"] == "public, max-age=3600"
    again = client.get(url_of(indexed), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_the_stac_item_and_the_rest_detail_link_the_references(
        client: APIClient, indexed: Swath) -> None:
    item = client.get(f"/stac/collections/{indexed.collection.slug}/items/{indexed.uuid}").json()
    asset = item["assets"]["references"]
    assert asset == {
        "href": f"http://testserver{url_of(indexed)}", "type": REFS_TYPE, "roles": ["index"],
        "title": "Chunk references (kerchunk, version 1) for xarray and fsspec",
    }
    assert client.get(urlsplit(asset["href"]).path).status_code == 200
    page = client.get("/stac/search", {"ids": str(indexed.uuid)}).json()
    assert page["features"][0]["assets"]["references"] == asset
    links = client.get(f"/api/v1/swaths/{indexed.uuid}/").json()["properties"]["links"]
    assert {"rel": "references", "href": asset["href"], "type": REFS_TYPE} in links
    assert links[0] == {"rel": "data", "type": "application/x-netcdf",
                        "href": f"http://testserver/api/v1/swaths/{indexed.uuid}/download"}


def test_references_whose_object_changed_are_never_served_nor_listed(
        client: APIClient, indexed: Swath) -> None:
    record = indexed.attrs["chunk_index"]
    Swath.objects.filter(pk=indexed.pk).update(
        attrs={**indexed.attrs, "chunk_index": {**record, "object_sha256": "0" * 64}})
    response = client.get(url_of(indexed))
    assert response.status_code == 410
    assert f"not the swath's {indexed.sha256}" in response.json()["error"]
    item = client.get(f"/stac/collections/{indexed.collection.slug}/items/{indexed.uuid}").json()
    assert "references" not in item["assets"]
    page = client.get("/stac/search", {"ids": str(indexed.uuid)}).json()
    assert "references" not in page["features"][0]["assets"]
    links = client.get(f"/api/v1/swaths/{indexed.uuid}/").json()["properties"]["links"]
    assert [link["rel"] for link in links] == ["data"]


def test_a_document_replaced_in_the_store_is_refused(
        client: APIClient, store: Store, indexed: Swath, amsr2_doc: dict) -> None:
    record = indexed.attrs["chunk_index"]
    other = {**amsr2_doc, "refs": {**amsr2_doc["refs"], ".zattrs": "{}"}}
    data = json.dumps(other).encode()
    store.delete(record["key"])
    store.put(record["key"], io.BytesIO(data), size=len(data))
    response = client.get(url_of(indexed))
    assert response.status_code == 410
    assert "changed since they were recorded" in response.json()["error"]
    store.delete(record["key"])
    response = client.get(url_of(indexed))
    assert response.status_code == 410 and "cannot be read" in response.json()["error"]


def test_a_document_describing_other_bytes_is_refused(
        client: APIClient, indexed: Swath, amsr2_doc: dict) -> None:
    # The record names the swath's object, the document it points at another one.
    record = store_document(indexed, {**amsr2_doc, "swathstore": {"object_sha256": "1" * 64}})
    Swath.objects.filter(pk=indexed.pk).update(attrs={
        **indexed.attrs, "chunk_index": {**record, "object_sha256": indexed.sha256}})
    response = client.get(url_of(indexed))
    assert response.status_code == 410
    assert f"describe the object with SHA-256 {'1' * 64}" in response.json()["error"]


def test_a_copy_whose_bytes_differ_from_the_swath_is_not_pointed_at(
        client: APIClient, store: Store, indexed: Swath) -> None:
    copy = indexed.copies.get()
    StoredObject.objects.filter(pk=copy.pk).update(sha256="2" * 64)
    response = client.get(url_of(indexed))
    assert response.status_code == 410
    assert f"has SHA-256 {'2' * 64}" in response.json()["error"]
    store.delete(copy.key)
    response = client.get(url_of(indexed))
    assert response.status_code == 410 and "is missing from store" in response.json()["error"]


def test_no_references_answers_404_with_the_reason(client: APIClient, store: Store) -> None:
    plain = swath(box(0, 0, 1, 1))
    response = client.get(url_of(plain))
    assert response.status_code == 404
    assert "has no chunk references" in response.json()["error"]
    Swath.objects.filter(pk=plain.pk).update(
        attrs={"chunk_index_error": "NotIndexable: NetCDF classic has no chunks"})
    response = client.get(url_of(plain))
    assert response.status_code == 404
    assert response.json()["error"].endswith("NetCDF classic has no chunks")
    item = client.get(f"/stac/collections/{plain.collection.slug}/items/{plain.uuid}").json()
    assert "references" not in item["assets"]
    Swath.objects.filter(pk=plain.pk).update(attrs={"chunk_index": {
        "store": "primary", "key": "indexes/x/y.parquet", "sha256": "3" * 64,
        "object_sha256": plain.sha256, "format": "kerchunk-v1+parquet"}})
    response = client.get(url_of(plain))
    assert response.status_code == 404
    assert "'kerchunk-v1+parquet', which this server does not serve" in response.json()["error"]
    pending = swath(box(0, 0, 1, 1), state="PENDING")
    response = client.get(url_of(pending))
    assert response.status_code == 409 and "is PENDING" in response.json()["error"]
    assert client.get(
        "/api/v1/swaths/00000000-0000-0000-0000-000000000000/references.json"
    ).status_code == 404


def test_private_reads_need_a_token_as_downloads_do(
        settings, client: APIClient, indexed: Swath) -> None:
    settings.API_PUBLIC_READS = False
    assert client.get(url_of(indexed)).status_code == 401
    assert client.get(f"/api/v1/swaths/{indexed.uuid}/download").status_code == 401
    token = Token.objects.create(user=User.objects.create_user("scientist"))
    signed = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = signed.get(url_of(indexed))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, max-age=3600"


def test_where_downloads_are_presigned_the_references_point_at_the_copy_itself(
        client: APIClient, moto_s3, s3_prefix: str, shared_swaths: Path,
        amsr2_doc: dict) -> None:
    options = {"endpoint_url": moto_s3.endpoint_url, "access_key": moto_s3.access_key,
               "secret_key": moto_s3.secret_key, "region": moto_s3.region,
               "presign_max_s": 900}
    archive.config.configure({"primary": (f"s3://{moto_s3.bucket}/{s3_prefix}", options)})
    try:
        s = archive_bytes(archive.config.get_store("primary"), shared_swaths / AMSR2)
        store_document(s, amsr2_doc)
        with override_settings(PRESIGN_DOWNLOADS=True, PRESIGN_MAX_SECONDS=600):
            response = client.get(url_of(s))
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store" and not response.has_header("ETag")
        doc = json.loads(response.content)
        url = urlsplit(doc["templates"]["u"])
        assert url.path.endswith(s.copies.get().key)
        assert 0 < int(parse_qs(url.query)["X-Amz-Expires"][0]) <= 600
        assert doc["swathstore"]["url_expires"].endswith("Z")
        _, offset, length = next(v for v in doc["refs"].values() if isinstance(v, list))
        ask = urllib.request.Request(doc["templates"]["u"],
                                     headers={"Range": f"bytes={offset}-{offset + length - 1}"})
        with urllib.request.urlopen(ask) as fetched:
            source = (shared_swaths / AMSR2).read_bytes()
            assert fetched.read() == source[offset:offset + length]
    finally:
        restore_stores()

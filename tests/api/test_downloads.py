"""/api/v1/swaths/{id}/download: original bytes, Range, ETag, digests, 410, presigned redirects."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings
from django.utils import timezone
from django.utils.http import http_date, parse_http_date
from rest_framework.test import APIClient

import archive.config
from catalog.models import StoredObject, Swath
from tests.catalog.factories import box, swath
from tests.support.stores import restore_stores

pytestmark = pytest.mark.django_db
DATA = os.urandom(300_000) + b"tail"


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def local_primary(tmp_path: Path) -> Iterator[archive.config.Store]:
    archive.config.configure({"primary": (tmp_path / "store").as_uri()})
    yield archive.config.get_store("primary")
    restore_stores()


def archived(store: archive.config.Store, data: bytes = DATA, codec: str = "none",
             state: str = "VERIFIED") -> Swath:
    """A swath row whose bytes sit in the store under a fresh key."""
    digest = hashlib.sha256(data).hexdigest()
    s = swath(box(0, 0, 1, 1), state=state, sha256=digest)
    Swath.objects.filter(pk=s.pk).update(
        size=len(data), verified_at=timezone.now() if state == "VERIFIED" else None)
    key = f"swaths/{s.uuid}/a{codec}.nc"
    result = store.put(key, io.BytesIO(data), size=len(data), codec=codec, sha256=digest)
    StoredObject.objects.create(swath=s, store="primary", key=key, codec=codec, size=len(data),
                                stored_size=result.stored_size, sha256=digest,
                                state="VERIFIED")
    s.refresh_from_db()
    return s


def body(response: object) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_download_streams_the_original_bytes_with_digests(client: APIClient, local_primary,
                                                          codec: str) -> None:
    s = archived(local_primary, codec=codec)
    response = client.get(f"/api/v1/swaths/{s.uuid}/download")
    assert response.status_code == 200
    assert body(response) == DATA
    assert response["Content-Length"] == str(len(DATA))
    assert response["ETag"] == f'"{s.sha256}"'
    b64 = base64.b64encode(hashlib.sha256(DATA).digest()).decode()
    assert response["Repr-Digest"] == f"sha-256=:{b64}:"
    assert response["Digest"] == f"SHA-256={b64}"


@pytest.mark.parametrize("codec", ["none", "zstd"])
def test_range_requests_get_206_and_exactly_those_bytes(client: APIClient, local_primary,
                                                        codec: str) -> None:
    s = archived(local_primary, codec=codec)
    url = f"/api/v1/swaths/{s.uuid}/download"
    response = client.get(url, HTTP_RANGE="bytes=1000-1999")
    assert response.status_code == 206
    assert body(response) == DATA[1000:2000]
    assert response["Content-Range"] == f"bytes 1000-1999/{len(DATA)}"
    assert body(client.get(url, HTTP_RANGE="bytes=-4")) == b"tail"
    assert client.get(url, HTTP_RANGE=f"bytes={len(DATA)}-").status_code == 416


@pytest.mark.parametrize("codec", ["none", "zstd"])
def test_if_range_with_a_stale_validator_gets_200_and_the_whole_file(
        client: APIClient, local_primary, codec: str) -> None:
    s = archived(local_primary, codec=codec)
    url = f"/api/v1/swaths/{s.uuid}/download"
    fresh = client.get(url)
    last_modified = fresh["Last-Modified"]
    assert parse_http_date(last_modified) == int(s.verified_at.timestamp())
    an_hour_earlier = http_date(s.verified_at.timestamp() - 3600)
    for stale in ('"0000000000000000000000000000000000000000000000000000000000000000"',
                  f'W/"{s.sha256}"', an_hour_earlier, "not a validator"):
        response = client.get(url, HTTP_RANGE="bytes=1000-1999", HTTP_IF_RANGE=stale)
        assert response.status_code == 200, stale
        assert body(response) == DATA and "Content-Range" not in response
        assert response["Content-Length"] == str(len(DATA))
    # An unsatisfiable range under a stale If-Range is ignored too: the whole file.
    response = client.get(url, HTTP_RANGE=f"bytes={len(DATA)}-", HTTP_IF_RANGE=an_hour_earlier)
    assert response.status_code == 200 and body(response) == DATA
    for current in (f'"{s.sha256}"', last_modified):
        response = client.get(url, HTTP_RANGE="bytes=1000-1999", HTTP_IF_RANGE=current)
        assert response.status_code == 206, current
        assert body(response) == DATA[1000:2000]


def test_matching_etag_gets_304(client: APIClient, local_primary) -> None:
    s = archived(local_primary)
    response = client.get(f"/api/v1/swaths/{s.uuid}/download", HTTP_IF_NONE_MATCH=f'"{s.sha256}"')
    assert response.status_code == 304


def test_a_missing_object_answers_410_with_the_reason(client: APIClient, local_primary) -> None:
    s = archived(local_primary)
    local_primary.delete(s.copies.get().key)
    response = client.get(f"/api/v1/swaths/{s.uuid}/download")
    assert response.status_code == 410
    assert "missing from store 'primary'" in response.json()["error"]


def test_only_verified_swaths_are_downloadable(client: APIClient, local_primary) -> None:
    s = archived(local_primary, state="STORED")
    response = client.get(f"/api/v1/swaths/{s.uuid}/download")
    assert response.status_code == 409
    assert "only VERIFIED" in response.json()["error"]
    assert client.get("/api/v1/swaths/00000000-0000-0000-0000-000000000000/download"
                      ).status_code == 404


def flip(store: archive.config.Store, key: str, at: int) -> None:
    path = store.root / key
    raw = bytearray(path.read_bytes())
    raw[at] ^= 1
    path.write_bytes(bytes(raw))


def test_corrupt_bytes_are_cut_off_short_of_the_length_and_the_copy_marked(
        client: APIClient, local_primary) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one piece: streamed before the end
    s = archived(local_primary, data=data)
    flip(local_primary, s.copies.get().key, len(data) - 5)
    response = client.get(f"/api/v1/swaths/{s.uuid}/download")
    assert response.status_code == 200 and response["Content-Length"] == str(len(data))
    sent = bytearray()
    with pytest.raises(Exception, match="(?i)sha-?256|checksum"):
        for piece in response.streaming_content:
            sent += piece
    assert 0 < len(sent) < len(data)  # the client sees a short body, never the whole
    copy = s.copies.get()
    assert copy.state == "CORRUPT" and "download" in copy.problem
    again = client.get(f"/api/v1/swaths/{s.uuid}/download")
    assert again.status_code == 410 and "no verified copy" in again.json()["error"]


def test_a_small_corrupt_object_is_refused_before_the_first_byte(client: APIClient,
                                                                  local_primary) -> None:
    s = archived(local_primary)
    flip(local_primary, s.copies.get().key, 5)
    response = client.get(f"/api/v1/swaths/{s.uuid}/download")
    assert response.status_code == 410
    assert "is corrupt" in response.json()["error"]
    assert s.copies.get().state == "CORRUPT"


@pytest.fixture
def two_local_stores(tmp_path: Path) -> Iterator[tuple[archive.config.Store, ...]]:
    archive.config.configure({"primary": (tmp_path / "store").as_uri(),
                              "offsite": (tmp_path / "offsite").as_uri()})
    yield archive.config.get_store("primary"), archive.config.get_store("offsite")
    restore_stores()


def with_replica(s: Swath, offsite: archive.config.Store, data: bytes = DATA) -> None:
    key = s.copies.get().key
    result = offsite.put(key, io.BytesIO(data), size=len(data), sha256=s.sha256)
    StoredObject.objects.create(swath=s, store="offsite", key=key, codec="none",
                                size=len(data), stored_size=result.stored_size,
                                sha256=s.sha256, state="VERIFIED")


@pytest.mark.parametrize("damage", ["deleted", "corrupt"])
def test_a_download_falls_back_to_the_replica_and_marks_the_primary(
        client: APIClient, two_local_stores, damage: str) -> None:
    primary, offsite = two_local_stores
    s = archived(primary)
    with_replica(s, offsite)
    key = s.copies.get(store="primary").key
    if damage == "deleted":
        primary.delete(key)
    else:
        flip(primary, key, 1000)
    response = client.get(f"/api/v1/swaths/{s.uuid}/download")
    assert response.status_code == 200
    assert body(response) == DATA
    bad = s.copies.get(store="primary")
    assert bad.state == ("MISSING" if damage == "deleted" else "CORRUPT")
    assert s.copies.get(store="offsite").state == "VERIFIED"


def test_presigned_redirect_is_short_lived_and_for_the_key_only(client: APIClient,
                                                                moto_s3, s3_prefix: str) -> None:
    options = {"endpoint_url": moto_s3.endpoint_url, "access_key": moto_s3.access_key,
               "secret_key": moto_s3.secret_key, "region": moto_s3.region,
               "presign_max_s": 900}
    archive.config.configure({"primary": (f"s3://{moto_s3.bucket}/{s3_prefix}", options)})
    try:
        s = archived(archive.config.get_store("primary"), data=b"x" * 1000)
        with override_settings(PRESIGN_DOWNLOADS=True, PRESIGN_MAX_SECONDS=600):
            response = client.get(f"/api/v1/swaths/{s.uuid}/download")
        assert response.status_code == 302
        url = urlsplit(response["Location"])
        query = parse_qs(url.query)
        assert 0 < int(query["X-Amz-Expires"][0]) <= 600
        assert url.path.endswith(s.copies.get().key)
        import urllib.request

        with urllib.request.urlopen(response["Location"]) as fetched:
            assert fetched.read() == b"x" * 1000
        archive.config.get_store("primary").delete(s.copies.get().key)
        with override_settings(PRESIGN_DOWNLOADS=True):
            assert client.get(f"/api/v1/swaths/{s.uuid}/download").status_code == 410
    finally:
        restore_stores()

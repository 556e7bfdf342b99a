"""Search exports (api.exports): stac-geoparquet and download manifests, on both item paths."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
import pytest
import shapely
from rest_framework.test import APIClient

from api import exports
from api.stac.geoparquet import SCHEMA
from api.stac.itemdef import iso
from catalog.models import Swath
from tests.api.test_stac_items import T0, varied
from tests.catalog.factories import box, collection, swath

__all__ = ["varied"]
pytestmark = pytest.mark.django_db
TOP_LEVEL = {"stac_version", "stac_extensions", "id", "collection", "geometry", "bbox",
             "links", "assets"}


def body(response: Any) -> bytes:
    assert response.status_code == 200, response.content if not response.streaming else ""
    return b"".join(response.streaming_content)


def _plain(value: Any) -> Any:
    """Tuples (shapely's coordinates) as lists, as JSON has them."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _dropped_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _dropped_nulls(v) for k, v in value.items() if v is not None}
    return value


def items_from_parquet(data: bytes) -> list[dict[str, Any]]:
    """stac-geoparquet rows back as STAC items (pyarrow and shapely only)."""
    out = []
    for row in pq.read_table(io.BytesIO(data)).to_pylist():
        props = {k: (iso(v) if isinstance(v, datetime) else v) for k, v in row.items()
                 if k not in TOP_LEVEL and v is not None}
        geometry = None if row["geometry"] is None else _plain(
            shapely.geometry.mapping(shapely.from_wkb(row["geometry"])))
        item = {"type": "Feature", **{k: row[k] for k in TOP_LEVEL}, "properties": props,
                "geometry": geometry,
                "assets": {k: _dropped_nulls(v) for k, v in row["assets"].items()
                           if v is not None}}
        if row["bbox"] is None:
            del item["bbox"]
        else:
            b = row["bbox"]
            item["bbox"] = [b["xmin"], b["ymin"], b["xmax"], b["ymax"]]
        out.append(item)
    return out


def searched(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every item /stac/search serves for these parameters, following its next links."""
    got, query = [], {"limit": 1000, **(params or {})}
    while True:
        page = APIClient().get("/stac/search", query).json()
        got += page["features"]
        nxt = [link for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            return got
        query = {**query, "token": nxt[0]["href"].split("token=")[1].split("&")[0]}


def with_references(rows: list[Swath]) -> None:
    """Chunk references on one row, so the export meets every asset."""
    row = rows[0]
    attrs = {**row.attrs, "chunk_index": {"key": "refs/a.json", "object_sha256": row.sha256}}
    Swath.objects.filter(pk=row.pk).update(attrs=attrs)


def test_a_parquet_export_reads_back_as_the_items_stac_search_serves(
        varied: list[Swath]) -> None:
    with_references(varied)
    served = searched()
    response = APIClient().get("/stac/search/export", {"format": "parquet"})
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    assert "attachment" in response["Content-Disposition"]
    exported = items_from_parquet(body(response))
    assert [it["id"] for it in exported] == [it["id"] for it in served]  # the search's order
    assert exported == served
    assert any("references" in it["assets"] for it in exported)


def test_a_parquet_export_is_geoparquet_with_native_timestamps(varied: list[Swath]) -> None:
    data = body(APIClient().post("/stac/search/export?format=parquet", {}, format="json"))
    parquet = pq.ParquetFile(io.BytesIO(data))
    meta = parquet.schema_arrow.metadata
    geo = json.loads(meta[b"geo"])
    assert geo["primary_column"] == "geometry"
    assert geo["columns"]["geometry"]["encoding"] == "WKB"
    assert geo["columns"]["geometry"]["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
    assert str(parquet.schema_arrow.field("datetime").type) == "timestamp[us, tz=UTC]"
    assert parquet.schema_arrow.remove_metadata() == SCHEMA
    assert parquet.metadata.num_rows == len(varied)


def test_an_export_of_nothing_is_an_empty_file_of_its_format() -> None:
    for fmt in ("urls", "sha256"):
        assert body(APIClient().get("/stac/search/export", {"format": fmt})) == b""
    tsv = body(APIClient().get("/stac/search/export", {"format": "tsv"}))
    assert tsv == b"url\tfilename\tsize\tsha256\n"
    data = body(APIClient().get("/stac/search/export", {"format": "parquet"}))
    assert pq.ParquetFile(io.BytesIO(data)).metadata.num_rows == 0


def test_manifests_list_each_match_with_its_named_url_size_and_sha256() -> None:
    rows = [swath(box(i, 0, i + 1, 1), start=T0 + timedelta(hours=i)) for i in range(3)]
    newest_first = sorted(rows, key=lambda s: s.start_time, reverse=True)
    urls = body(APIClient().get("/stac/search/export", {"format": "urls"})).decode()
    assert urls.splitlines() == [
        f"http://testserver/api/v1/swaths/{s.uuid}/download/{s.filename}" for s in newest_first]
    sums = body(APIClient().get("/stac/search/export", {"format": "sha256"})).decode()
    assert sums.splitlines() == [f"{s.sha256}  {s.filename}" for s in newest_first]
    tsv = body(APIClient().get("/api/v1/swaths/export", {"format": "tsv"})).decode()
    header, *lines = tsv.splitlines()
    assert header.split("\t") == ["url", "filename", "size", "sha256"]
    assert [line.split("\t") for line in lines] == [
        [f"http://testserver/api/v1/swaths/{s.uuid}/download/{s.filename}", s.filename,
         str(s.size), s.sha256] for s in newest_first]


def test_a_checksum_line_for_an_awkward_name_is_escaped_as_sha256sum_writes_it() -> None:
    s = swath(box(0, 0, 1, 1))
    Swath.objects.filter(pk=s.pk).update(filename="a b\\c.nc")
    sums = body(APIClient().get("/stac/search/export", {"format": "sha256"})).decode()
    assert sums == f"\\{s.sha256}  a b\\\\c.nc\n"
    urls = body(APIClient().get("/stac/search/export", {"format": "urls"})).decode()
    assert urls.endswith("/download/a%20b%5Cc.nc\n")


def uuids_of(fmt: str, response: Any) -> list[str]:
    data = body(response)
    if fmt == "parquet":
        return [it["id"] for it in items_from_parquet(data)]
    return [line.split("/swaths/")[1].split("/")[0] for line in data.decode().splitlines()]


@pytest.mark.parametrize("fmt", ["parquet", "urls"])
def test_an_export_honours_every_filter_of_the_search(fmt: str) -> None:
    aqua, terra = collection("modis-aqua-l2"), collection("modis-terra-l2")
    inside = swath(box(0, 0, 1, 1), start=T0, coll=aqua, platform="aqua", orbit=10,
                   attrs={"cloud_cover": 5})
    swath(box(50, 50, 51, 51), start=T0, coll=aqua, platform="aqua", orbit=10)  # outside bbox
    swath(box(0, 0, 1, 1), start=T0 + timedelta(days=30), coll=aqua, orbit=10)  # too late
    swath(box(0, 0, 1, 1), start=T0, coll=terra, orbit=10)  # another collection
    swath(box(0, 0, 1, 1), start=T0, coll=aqua, orbit=10, attrs={"cloud_cover": 90})
    swath(box(0, 0, 1, 1), start=T0, coll=aqua, state="PENDING")  # cannot be downloaded
    want = [str(inside.uuid)]
    window = f"{T0.isoformat()}/{(T0 + timedelta(days=1)).isoformat()}"
    get = {"format": fmt, "bbox": "-1,-1,2,2", "datetime": window,
           "collections": "modis-aqua-l2", "filter": "eo:cloud_cover < 50"}
    assert uuids_of(fmt, APIClient().get("/stac/search/export", get)) == want
    post = {"format": fmt, "bbox": [-1, -1, 2, 2], "datetime": window,
            "collections": ["modis-aqua-l2"],
            "filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}, 50]}}
    assert uuids_of(fmt, APIClient().post("/stac/search/export", post, format="json")) == want
    rest = {"format": fmt, "bbox": "-1,-1,2,2", "datetime": window,
            "collection": "modis-aqua-l2", "platform": "aqua", "orbit": "10"}
    assert uuids_of(fmt, APIClient().get("/api/v1/swaths/export", rest)) == want
    # Without platform (the REST search has no cloud filter): the cloudy one too.
    rest_post = {"format": fmt, "bbox": "-1,-1,2,2", "datetime": window,
                 "collection": "modis-aqua-l2", "orbit": "10"}
    assert len(uuids_of(fmt, APIClient().post("/api/v1/swaths/export", rest_post,
                                              format="json"))) == 2


def test_an_export_larger_than_a_batch_has_every_match_once_in_the_search_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "EXPORT_BATCH", 3)
    rows = [swath(box(0, 0, 1, 1), start=T0 + timedelta(minutes=i % 4)) for i in range(11)]
    served = [it["id"] for it in searched({"sortby": "+datetime"})]
    assert sorted(served) == sorted(str(s.uuid) for s in rows)
    for fmt in ("parquet", "urls"):
        got = uuids_of(fmt, APIClient().get("/stac/search/export",
                                            {"format": fmt, "sortby": "+datetime"}))
        assert got == served


def test_exports_need_a_user_when_reads_are_not_public(settings) -> None:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    settings.API_PUBLIC_READS = False
    swath(box(0, 0, 1, 1))
    for url in ("/stac/search/export", "/api/v1/swaths/export"):
        assert APIClient().get(url, {"format": "urls"}).status_code == 401
        assert APIClient().post(url, {"format": "urls"}, format="json").status_code == 401
    token = Token.objects.create(user=User.objects.create_user("scientist"))
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert len(body(client.get("/stac/search/export", {"format": "urls"})).splitlines()) == 1


@pytest.mark.parametrize(("url", "params", "named"), [
    ("/stac/search/export", {}, "format is required"),
    ("/stac/search/export", {"format": "csv"}, "format='csv'"),
    ("/stac/search/export", {"format": "urls", "token": "abc"}, "token"),
    ("/stac/search/export", {"format": "parquet", "fields": "id"}, "fields"),
    ("/stac/search/export", {"format": "urls", "bbox": "10,0,5"}, "bbox"),
    ("/stac/search/export", {"format": "urls", "colour": "red"}, "colour"),
    ("/stac/search/export", {"format": "urls", "filter": "eo:cloud_cover <"}, "filter"),
    ("/api/v1/swaths/export", {"format": "urls", "state": "PENDING"}, "state"),
    ("/api/v1/swaths/export", {"format": "tsv", "orbit": "x"}, "orbit"),
    ("/api/v1/swaths/export", {"format": "tsv", "fields": "uuid"}, "fields"),
])
def test_bad_input_is_a_400_naming_it(url: str, params: dict[str, str], named: str) -> None:
    response = APIClient().get(url, params)
    assert response.status_code == 400
    assert named in response.json()["error"]


def test_a_bad_post_body_is_a_400_naming_it() -> None:
    client = APIClient()
    response = client.post("/stac/search/export", {"format": "zip"}, format="json")
    assert response.status_code == 400 and "format='zip'" in response.json()["error"]
    response = client.post("/stac/search/export", {"format": "urls", "limit": "many"},
                           format="json")
    assert response.status_code == 400 and "limit" in response.json()["error"]
    response = client.post("/stac/search/export", [1, 2], format="json")
    assert response.status_code == 400


def test_the_named_download_url_is_only_for_the_swaths_own_name(tmp_path) -> None:
    import archive.config
    from tests.api.test_downloads import archived
    from tests.support.stores import restore_stores

    archive.config.configure({"primary": (tmp_path / "store").as_uri()})
    try:
        s = archived(archive.config.get_store("primary"), data=b"swath bytes")
        ok = APIClient().get(f"/api/v1/swaths/{s.uuid}/download/{s.filename}")
        assert b"".join(ok.streaming_content) == b"swath bytes"
        assert hashlib.sha256(b"swath bytes").hexdigest() == s.sha256
        wrong = APIClient().get(f"/api/v1/swaths/{s.uuid}/download/other.nc")
        assert wrong.status_code == 404 and "other.nc" in wrong.json()["error"]
    finally:
        restore_stores()


def test_a_later_batch_over_the_time_limit_is_tried_again_and_the_first_is_a_400() -> None:
    from api.exceptions import QueryError
    from api.search import SearchPage, SwathSearch

    calls: list[str | None] = []

    def flaky(search: SwathSearch) -> SearchPage:
        calls.append(search.token)
        if search.token == "2" and calls.count("2") < 3:
            raise QueryError("the search took longer than 5 s")
        nxt = {None: "2", "2": None}[search.token]
        return SearchPage(rows=[search.token or "1"], next_token=nxt, matched=None, exact=True)

    search = exports.export_search(SwathSearch())
    assert list(exports.batches(search, flaky)) == [["1"], ["2"]]
    assert calls == [None, "2", "2", "2"]

    def slow_first(search: SwathSearch) -> SearchPage:
        raise QueryError("the search took longer than 5 s")

    with pytest.raises(QueryError):
        list(exports.batches(search, slow_first))
    calls.clear()

    def always_slow_later(search: SwathSearch) -> SearchPage:
        return flaky(search) if search.token is None else slow_first(search)

    with pytest.raises(QueryError):
        list(exports.batches(search, always_slow_later))

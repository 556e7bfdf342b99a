"""A swath's geolocation bounds come from its chunk index document, checked (subset.indexgeo):
cuts of archived swaths read fewer bytes with them and are the same; a record or document
that cannot be used is logged and passed over, never a failed cut."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Any

import h5py
import pytest

from archive.local import LocalStore
from ingest.chunkgeo import chunk_geo_bounds
from ingest.synth import write_swath
from subset.indexgeo import load_geo_bounds
from tests.subset.conftest import rechunk

SHA = "ab" * 32


@pytest.fixture(scope="module")
def chunky_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 9 MB swath (lat 9..31, lon 38..63) in chunks of 128 x 100 pixels."""
    tmp = tmp_path_factory.mktemp("indexgeo")
    write_swath(tmp / "plain.nc", seed=3, start="2024-03-01T10:00:00", duration_s=300,
                n_pixels=600)
    rechunk(tmp / "plain.nc", tmp / "chunky-indexed.nc", (128, 100))
    return tmp / "chunky-indexed.nc"


def document(geo: Any, object_sha256: str) -> bytes:
    return json.dumps({"version": 1, "templates": {"u": ""}, "refs": {},
                       "swathstore": {"object_sha256": object_sha256, "geo": geo}}).encode()


def put_document(store: Any, store_name: str, data: bytes, object_sha256: str,
                 key: str = "indexes/doc.json") -> dict[str, Any]:
    """Store a document and return its catalog record (ingest's shape)."""
    store.put(key, io.BytesIO(data), size=len(data))
    return {"store": store_name, "key": key, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "object_sha256": object_sha256,
            "format": "kerchunk-v1+json", "builder": "h5py", "chunks": 0}


def test_the_bounds_of_a_good_record_are_returned_and_every_bad_one_is_logged_and_none(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = LocalStore(tmp_path / "objects", name="local")
    geo = {"version": 1, "pairs": []}
    record = put_document(store, "local", document(geo, SHA), SHA)
    assert load_geo_bounds(record, SHA, lambda r: store) == geo
    assert load_geo_bounds(None, SHA, lambda r: store) is None
    caplog.set_level(logging.INFO, logger="subset.indexgeo")
    bad = {
        "another object's record": ({**record, "object_sha256": "cd" * 32}, "describes"),
        "a document changed since": ({**record, "sha256": "0" * 64}, "not the recorded"),
        "a document gone": ({**record, "key": "indexes/gone.json"}, "cannot be read"),
        "a record missing fields": ({"store": "local"}, "without"),
        "a document naming another object inside": (
            put_document(store, "local", document(geo, "ef" * 32), SHA, "indexes/b.json"),
            "inside"),
        "a document that is not JSON": (
            put_document(store, "local", b"\x89HDF", SHA, "indexes/c.json"), "not a JSON"),
        "a store that is not configured": (record, "cannot be read"),
    }
    for what, (rec, words) in bad.items():
        caplog.clear()

        def store_of(r: Any, what: str = what) -> Any:
            if what == "a store that is not configured":
                raise LookupError("no store named 'local'")
            return store

        assert load_geo_bounds(rec, SHA, store_of, what="swath x") is None, what
        assert words in caplog.text and "swath x" in caplog.text, (what, caplog.text)
    # A document that would cost more than the search it saves is not read.
    caplog.clear()
    large = {**record, "size": 3 * 2**20}
    assert load_geo_bounds(large, SHA, lambda r: store, object_size=100 * 2**20) is None
    assert "more than reading the geolocation" in caplog.text
    assert load_geo_bounds(record, SHA, lambda r: store, object_size=100 * 2**20) == geo


@pytest.mark.django_db
def test_a_cut_of_an_archived_swath_reads_fewer_bytes_with_its_index_and_the_same_without(
        chunky_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import archive.config
    from catalog.models import Swath
    from subset.region import parse_bbox
    from subset.services import SubsetSpec, cut_swath_to
    from tests.subset.test_chunkgeo import _same_file
    from tests.subset.test_jobs import archived

    swath = archived(chunky_file)
    with h5py.File(chunky_file, "r") as f:
        geo = chunk_geo_bounds(f)
    store = archive.config.get_store("primary")
    good = put_document(store, "primary", document(geo, swath.sha256), swath.sha256,
                        f"indexes/{swath.uuid.hex}/good.json")
    spec = SubsetSpec(parse_bbox("44,12,48,15"))
    results = {}
    for name, record in (("none", None), ("good", good),
                         ("forged", {**good, "sha256": "0" * 64})):
        attrs = {k: v for k, v in swath.attrs.items() if k != "chunk_index"}
        Swath.objects.filter(pk=swath.pk).update(
            attrs={**attrs, **({"chunk_index": record} if record else {})})
        swath.refresh_from_db()
        results[name] = cut_swath_to(swath, spec, tmp_path / f"{name}.nc")
    _same_file(tmp_path / "none.nc", tmp_path / "good.nc")
    _same_file(tmp_path / "none.nc", tmp_path / "forged.nc")
    assert results["good"].bytes_read < 0.9 * results["none"].bytes_read
    assert results["forged"].bytes_read == results["none"].bytes_read
    assert "not the recorded" in caplog.text

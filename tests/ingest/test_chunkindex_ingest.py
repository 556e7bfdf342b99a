"""Chunk indexes in the archive: real granules through the real pipeline into a local store
get their index beside them, recorded with its SHA-256 and the object's; what cannot be
indexed records why and is VERIFIED all the same; `manage.py index` backfills an existing
archive from the stored objects, in batches, and resumes where it stopped."""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr
from django.core.management import call_command

from archive.stores import Store
from catalog.models import Swath
from catalog.services import get_or_create_collection
from ingest.chunkindex import FORMAT, build_references, count_refs
from ingest.indexes import Outcome, index_swaths
from ingest.pipeline import ingest_file
from tests.support.stores import local_primary

pytestmark = pytest.mark.django_db
AMSR2 = "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc"  # NetCDF4, 0.9 MB
S6A = "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc"  # groups
JASON = "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc"  # NetCDF classic: zstd


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A local directory as the primary store."""
    with local_primary(tmp_path / "objects") as primary:
        yield primary


def ingested(shared_swaths: Path, name: str) -> Swath:
    collection, _ = get_or_create_collection("indexes")
    outcome = ingest_file(shared_swaths / name, collection.pk)
    assert outcome.status == "new", outcome.reason
    return Swath.objects.get(pk=outcome.swath_id)


def stored_document(store: Store, record: dict) -> tuple[bytes, dict]:
    with store.open(record["key"]) as stream:
        data = stream.read()
    return data, json.loads(data)


def test_an_ingested_netcdf4_swath_gets_its_chunk_index_beside_it_with_both_sha256s(
        store: Store, shared_swaths: Path) -> None:
    swath = ingested(shared_swaths, AMSR2)
    assert swath.state == "VERIFIED"
    record = swath.attrs["chunk_index"]
    assert "chunk_index_error" not in swath.attrs
    assert record["store"] == "primary"
    assert record["key"].startswith(f"indexes/{swath.uuid.hex}/")
    assert record["key"].endswith(".json")
    data, doc = stored_document(store, record)
    assert (record["size"], record["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert record["object_sha256"] == swath.sha256 == doc["swathstore"]["object_sha256"]
    assert (record["format"], record["builder"]) == (FORMAT, "h5py")
    assert record["chunks"] == count_refs(doc) > 0
    # per-chunk bounds of the geolocation pair the footprint was made of
    geo = doc["swathstore"]["geo"]
    assert [(p["lat"], p["lon"]) for p in geo["pairs"]] == [
        (p["lat"], p["lon"]) for p in swath.attrs["geolocation"]["pairs"]]
    # an index is no copy of the swath
    assert [c.key.split("/")[0] for c in swath.copies.all()] == ["swaths"]
    # the stored object, read through the stored references, gives the file's values
    obj = Path(store.root) / swath.copies.get().key  # type: ignore[attr-defined]
    served = {**doc, "templates": {"u": str(obj)}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with xr.open_dataset("reference://", engine="zarr", mask_and_scale=False, backend_kwargs={
                "consolidated": True, "storage_options": {"fo": served}}) as ds, \
                netCDF4.Dataset(shared_swaths / AMSR2) as nc:
            nc.set_auto_maskandscale(False)
            sst = nc["sea_surface_temperature"][...]
            assert np.array_equal(ds["sea_surface_temperature"].values, np.ma.getdata(sst))


def test_a_netcdf_classic_swath_stored_compressed_is_verified_with_the_reason(
        store: Store, shared_swaths: Path) -> None:
    swath = ingested(shared_swaths, JASON)
    assert swath.state == "VERIFIED"
    assert "chunk_index" not in swath.attrs
    assert "zstd-compressed" in swath.attrs["chunk_index_error"]
    assert list(store.list("indexes/")) == []


def test_chunk_indexes_can_be_switched_off(store: Store, shared_swaths: Path,
                                           settings: object) -> None:
    settings.INGEST_CHUNK_INDEX = False  # type: ignore[attr-defined]
    swath = ingested(shared_swaths, AMSR2)
    assert swath.state == "VERIFIED"
    assert "chunk_index" not in swath.attrs and "chunk_index_error" not in swath.attrs
    assert list(store.list("indexes/")) == []


def test_index_backfills_an_archive_in_batches_and_resumes_where_it_stopped(
        store: Store, shared_swaths: Path, settings: object) -> None:
    settings.INGEST_CHUNK_INDEX = False  # type: ignore[attr-defined]
    settings.INGEST_QUICKLOOKS = False  # type: ignore[attr-defined]
    swaths = [ingested(shared_swaths, name) for name in (AMSR2, S6A, JASON)]
    done: list[Outcome] = []
    first = index_swaths(batch=1, on_outcome=done.append, should_stop=lambda: len(done) >= 1)
    assert first.stopped and [o.uuid for o in first.outcomes] == [str(swaths[0].uuid)]

    out = io.StringIO()
    call_command("index", "--batch", "2", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("index: 2 swaths, 1 indexed, 1 not indexable"), lines
    assert str(swaths[0].uuid) not in out.getvalue()  # done in the first run: not again
    for swath in swaths:
        swath.refresh_from_db()
    for swath, name in zip(swaths[:2], (AMSR2, S6A), strict=True):
        # built from the stored object by byte ranges, the same references as from the file
        _, doc = stored_document(store, swath.attrs["chunk_index"])
        assert doc["refs"] == build_references(shared_swaths / name)["refs"]
        assert swath.attrs["chunk_index"]["object_sha256"] == swath.sha256
    assert "zstd-compressed" in swaths[2].attrs["chunk_index_error"]

    again = io.StringIO()
    call_command("index", stdout=again)
    assert again.getvalue().strip() == ("index: 0 swaths, 0 indexed, 0 not indexable (reason "
                                        "recorded), 0 failed (left for the next run)")

    old = swaths[1].attrs["chunk_index"]["key"]
    call_command("index", "--rebuild", "--swath", str(swaths[1].uuid), stdout=io.StringIO())
    swaths[1].refresh_from_db()
    new = swaths[1].attrs["chunk_index"]["key"]
    assert new != old  # a key is never written twice, and the old document is gone
    assert sorted(i.key for i in store.list("indexes/")) == sorted(
        [swaths[0].attrs["chunk_index"]["key"], new])


# Ranged reads on each real server are reinspect's tests' subject; one server here.
@pytest.mark.s3_servers("rclone")
def test_index_on_s3_builds_from_byte_ranges_of_the_stored_object(
        s3_primary: Store, shared_swaths: Path, settings: object) -> None:
    settings.INGEST_CHUNK_INDEX = False  # type: ignore[attr-defined]
    settings.INGEST_QUICKLOOKS = False  # type: ignore[attr-defined]
    swath = ingested(shared_swaths, S6A)
    report = index_swaths()
    [outcome] = report.outcomes
    assert outcome.status == "indexed", outcome.message
    # read through the store's ranged reads (a 0.4 MB object: within one 1 MiB block)
    assert outcome.bytes_read == swath.size
    swath.refresh_from_db()
    record = swath.attrs["chunk_index"]
    data, doc = stored_document(s3_primary, record)
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert doc["refs"] == build_references(shared_swaths / S6A)["refs"]
    assert doc["swathstore"]["geo"]["pairs"]

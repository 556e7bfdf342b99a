"""Through the published references, xarray opens every NetCDF4/HDF5 shared granule over
HTTP, and every variable of every group holds what netCDF4 reads from the source file.

The client side is a Pangeo user's: xarray, zarr and fsspec's reference:// filesystem
over aiohttp, the references fetched from /api/v1/swaths/{uuid}/references.json of a
live gunicorn and every chunk read by a Range request on the swath's download URL. No
HDF5 library is used on that side; netCDF4 reads the source files to compare. Values are
compared raw on both sides (no mask, no scale, no time decoding), with their dtypes.
The granules are ingested (and their references made) once for the module.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import fsspec
import h5py
import netCDF4
import numpy as np
import pytest
import requests
import xarray as xr
import zarr
from django.test import override_settings

from eo.formats import recognise_path
from tests.support.liveserver import LiveServer, live_server

# The tests only read, over HTTP: rows are committed once for the module, removed after.
# About 60 s on a loaded 2-core machine: 11 ingests, then ~1,000 chunk requests.
pytestmark = [pytest.mark.django_db, pytest.mark.slow]
COLLECTION = "xarray-references"
GPM = "GPM_test_file.HDF5"  # groups within groups: FS/SLV, FS/navigation, HS/...


def hdf5_granules(folder: Path) -> list[Path]:
    """The shared granules stored as NetCDF4/HDF5 (the ones that have chunks to index)."""
    return [p for p in sorted(folder.iterdir())
            if p.name != "README.md" and recognise_path(p) == "hdf5"]


@pytest.fixture(scope="module")
def served(django_db_setup: None, django_db_blocker: Any, shared_swaths: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict]]:
    """A live server and, for each NetCDF4/HDF5 shared granule, its swath's uuid."""
    from catalog.models import Collection, IngestItem, Swath
    from catalog.services import get_or_create_collection
    from ingest.pipeline import ingest_file

    # Quicklooks are not what is tested here: drawing them would only add time.
    with live_server(tmp_path_factory.mktemp("live-xarray")) as server, \
            override_settings(INGEST_QUICKLOOKS=False):
        with django_db_blocker.unblock():
            coll, _ = get_or_create_collection(COLLECTION)
            outcomes = {path.name: ingest_file(path, coll.pk)
                        for path in hdf5_granules(shared_swaths)}
            swaths = {s.pk: s for s in Swath.objects.filter(collection=coll)}
        try:
            uuids = {}
            for name, outcome in outcomes.items():
                assert outcome.status == "new", f"{name}: {outcome.reason}"
                attrs = swaths[outcome.swath_id].attrs
                assert "chunk_index" in attrs, (
                    f"{name}: ingest made no chunk references: {attrs.get('chunk_index_error')}")
                uuids[name] = str(swaths[outcome.swath_id].uuid)
            yield server, uuids
        finally:
            with django_db_blocker.unblock():
                ids = list(swaths)
                IngestItem.objects.filter(swath_id__in=ids).delete()
                Swath.objects.filter(pk__in=ids).delete()
                Collection.objects.filter(pk=coll.pk).delete()


def open_references(url: str) -> xr.DataTree:
    """The README's lines: the whole granule as a DataTree, lazily, over HTTP."""
    with warnings.catch_warnings():
        # zarr warns that the NetCDF4 attributes it keeps are not in the zarr v2 spec.
        warnings.simplefilter("ignore")
        refs = {"fo": url, "remote_options": {"asynchronous": True}}
        return xr.open_datatree("reference://", engine="zarr", storage_options=refs)


def reference_store(url: str) -> zarr.storage.FsspecStore:
    """One granule's references fetched once, as a zarr store each group is opened from.

    Opening only the groups that hold variables costs 0.2 s for the TROPOMI granule,
    whose 1,300 metadata groups take xarray's DataTree 5 s to build."""
    fs = fsspec.filesystem("reference", fo=url, remote_options={"asynchronous": True},
                           asynchronous=True, skip_instance_cache=True)
    return zarr.storage.FsspecStore(fs, read_only=True, path="")


def source_variables(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """{group path: {name: raw values}} of every variable of every group, as netCDF4 reads
    them unmasked and unscaled; h5py for a file netCDF4 cannot open (ATL03: netCDF4
    1.7 fails on a group it cannot map), every dataset."""
    found: dict[str, dict[str, np.ndarray]] = {}
    try:
        nc = netCDF4.Dataset(path)
    except (OSError, AttributeError):
        with h5py.File(path) as f:
            def visit(name: str, obj: object) -> None:
                if isinstance(obj, h5py.Dataset):
                    group, _, var = name.rpartition("/")
                    found.setdefault("/" + group, {})[var] = obj[()]
            f.visititems(visit)
        return found
    with nc:
        nc.set_auto_maskandscale(False)
        nc.set_auto_chartostring(False)
        groups = [nc]
        while groups:
            group = groups.pop(0)
            for name, var in group.variables.items():
                found.setdefault(group.path, {})[name] = np.ma.getdata(var[...])
            groups.extend(group.groups.values())
    return found


def differences(url: str, path: Path) -> list[str]:
    """Every variable of the source that xarray cannot open through the references, or
    whose values or dtype differ there."""
    store = reference_store(url)
    found: list[str] = []
    checks = []
    for group, variables in source_variables(path).items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = xr.open_dataset(store, engine="zarr", group=group.strip("/") or None,
                                     decode_cf=False, consolidated=True)
        except (KeyError, ValueError) as e:  # a group missing, dimensions xarray refuses
            found.append(f"{path.name}:{group}: xarray cannot open it: {e}")
            continue
        for name, expected in variables.items():
            where = f"{path.name}:{group.rstrip('/')}/{name}"
            if name not in ds.variables:
                found.append(f"{where}: missing")
            else:
                checks.append((where, ds.variables[name], expected))

    def compare(where: str, variable: xr.Variable, expected: np.ndarray) -> str | None:
        try:
            got = variable.values  # its chunks, each a Range request on the download URL
        except (ValueError, TypeError, KeyError) as e:  # what the references say is unreadable
            return f"{where}: cannot be read: {type(e).__name__}: {e}"
        if got.dtype.kind in "OSU" and expected.dtype.kind in "OSU":
            # Strings as text: netCDF4 gives str objects, zarr fixed-width bytes or str.
            if got.shape != expected.shape or text(got) != text(expected):
                return f"{where}: text differs"
            return None
        if got.dtype != expected.dtype:
            return f"{where}: dtype {got.dtype}, source {expected.dtype}"
        if got.shape != expected.shape or not np.array_equal(
                got, expected, equal_nan=got.dtype.kind in "fc"):
            return f"{where}: values differ"
        return None

    # The server runs 8 threads: read the variables side by side, as dask would.
    with ThreadPoolExecutor(8) as pool:
        found += [r for r in pool.map(lambda c: compare(*c), checks) if r]
    return found


def text(values: np.ndarray) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values.reshape(-1)]


def test_xarray_opens_every_granule_over_http_with_the_source_values(
        served: tuple[LiveServer, dict], shared_swaths: Path) -> None:
    server, uuids = served
    assert len(uuids) == len(hdf5_granules(shared_swaths)) >= 10
    problems = []
    for name, uuid in uuids.items():
        problems += differences(f"{server.url}/api/v1/swaths/{uuid}/references.json",
                                shared_swaths / name)
    assert problems == [], "\n".join(problems)


def test_the_readme_lines_open_a_granule_with_nested_groups(
        served: tuple[LiveServer, dict], shared_swaths: Path) -> None:
    server, uuids = served
    tree = open_references(f"{server.url}/api/v1/swaths/{uuids[GPM]}/references.json")
    assert tree["FS/SLV"]["precipWater"].shape == (621, 49, 176)
    with netCDF4.Dataset(shared_swaths / GPM) as nc:
        expected = nc["FS/navigation/timeMidScan"][...]  # masked and scaled, as xarray does
    got = tree["FS/navigation"]["timeMidScan"].values
    assert np.array_equal(got, np.ma.filled(expected.astype(float), np.nan), equal_nan=True)


def test_every_chunk_is_read_through_the_download_url(
        served: tuple[LiveServer, dict], shared_swaths: Path) -> None:
    server, uuids = served
    name, uuid = next(iter(uuids.items()))
    doc = requests.get(f"{server.url}/api/v1/swaths/{uuid}/references.json", timeout=30).json()
    assert doc["templates"]["u"] == f"{server.url}/api/v1/swaths/{uuid}/download"
    ranged = [v for v in doc["refs"].values() if isinstance(v, list)]
    assert ranged and {v[0] for v in ranged} == {"{{u}}"}
    fs = fsspec.filesystem("reference", fo=doc)
    key = next(k for k, v in doc["refs"].items() if isinstance(v, list))
    _, offset, length = doc["refs"][key]
    assert fs.cat(key) == (shared_swaths / name).read_bytes()[offset:offset + length]


def test_references_whose_document_was_replaced_are_refused_over_http(
        served: tuple[LiveServer, dict], django_db_blocker: Any) -> None:
    from catalog.models import Swath

    server, uuids = served
    uuid = next(iter(uuids.values()))
    with django_db_blocker.unblock():
        swath = Swath.objects.get(uuid=uuid)
        record = swath.attrs["chunk_index"]
        original = server.store.open(record["key"]).read()
        doc = json.loads(original)
        doc["refs"][".zattrs"] = json.dumps({"title": "not what was indexed"})
        forged = json.dumps(doc).encode()
        assert hashlib.sha256(forged).hexdigest() != record["sha256"]
        server.store.delete(record["key"])
        server.store.put(record["key"], io.BytesIO(forged))
    try:
        response = requests.get(f"{server.url}/api/v1/swaths/{uuid}/references.json",
                                timeout=30)
        assert response.status_code == 410
        assert "changed since they were recorded" in response.json()["error"]
        with pytest.raises(FileNotFoundError):  # fsspec's word for a refused URL
            open_references(f"{server.url}/api/v1/swaths/{uuid}/references.json")
    finally:
        server.store.delete(record["key"])
        server.store.put(record["key"], io.BytesIO(original))

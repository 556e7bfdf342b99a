"""Chunk indexes (ingest.chunkindex): through the references alone, xarray reads every
variable of every real NetCDF4/HDF5 granule exactly as netCDF4 reads it from the file; odd
layouts (user block, compact, strings, unlimited dimensions) too; what cannot be indexed
says why, in the sandboxed child as well, without taking the child down."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import h5py
import netCDF4
import numpy as np
import pytest
import xarray as xr

from eo.formats import recognise
from ingest.chunkindex import (
    INLINE_MAX,
    NotIndexable,
    build_references,
    build_with_kerchunk,
    count_refs,
    dumps,
)
from ingest.inspector import Inspector
from tests.conftest import SHARED_SWATHS

ATL03 = "ATL03_gt1l.h5"  # HDF5 netCDF4 cannot open: h5py is the reference there
VIIRS = "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc"
MODIS = "SS_MODIS_A-JPL-L2P-v2014.0.nc"
JASON = "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc"  # NetCDF classic


def hdf5_granules() -> list[str]:
    """The shared granules that are HDF5 inside (NetCDF4, HDF5, HDF-EOS5), by magic bytes."""
    names = []
    for path in sorted(SHARED_SWATHS.iterdir()):
        if path.name != "README.md":
            with open(path, "rb") as f:
                if recognise(f) == "hdf5":
                    names.append(path.name)
    return names


@pytest.fixture(scope="module")
def documents(shared_swaths: Path) -> dict[str, dict]:
    """Every shared HDF5-based granule's index, built once for the module (without the
    per-chunk geolocation bounds, which tests/subset/test_chunkgeo.py checks)."""
    return {name: build_references(shared_swaths / name, geo=False)
            for name in hdf5_granules()}


def with_url(doc: dict, path: Path) -> dict:
    """The document as a server would serve it, its object URL filled in (here: the file)."""
    return {**doc, "templates": {"u": str(path)}}


def through_references(doc: dict) -> dict[str, np.ndarray]:
    """Every array of the document read through xarray, by path.

    Group by group costs a second of opening per ten groups: ATL07's 70 groups with
    arrays are read as one tree instead (one pass); TROPOMI's 1300 groups, all but one
    without arrays, group by group (the tree would open each of them)."""
    options: dict[str, Any] = {
        "decode_cf": False, "mask_and_scale": False, "decode_times": False,
        "backend_kwargs": {"consolidated": True, "storage_options": {"fo": doc}}}
    groups: dict[str, list[str]] = {}
    for key in doc["refs"]:
        if key.endswith("/.zarray"):
            group, _, name = key[: -len("/.zarray")].rpartition("/")
            groups.setdefault(group, []).append(name)
    values = {}
    if len(groups) > 10 and sum(k.endswith(".zgroup") for k in doc["refs"]) < 4 * len(groups):
        with xr.open_datatree("reference://", engine="zarr", **options) as tree:
            for node in tree.subtree:
                prefix = node.path.strip("/")
                for name, var in node.to_dataset(inherit=False).variables.items():
                    values[f"{prefix}/{name}".lstrip("/")] = var.values
        return values
    for group, names in groups.items():
        with xr.open_dataset("reference://", engine="zarr", group=group or None,
                             **options) as ds:
            for name in names:
                values[f"{group}/{name}".lstrip("/")] = ds[name].values
    return values


def netcdf4_values(path: Path) -> dict[str, Any] | None:
    """Every variable of every group as netCDF4 reads it raw; None if netCDF4 cannot open it."""
    try:
        nc = netCDF4.Dataset(path)
    # netCDF-C fails on some HDF5 dimension-scale layouts (ATL03) with an AttributeError
    except (OSError, AttributeError):
        return None
    values: dict[str, Any] = {}

    def walk(group: Any, prefix: str) -> None:
        for name, var in group.variables.items():
            var.set_auto_maskandscale(False)
            var.set_auto_chartostring(False)
            values[prefix + name] = var[...]
        for name, sub in group.groups.items():
            walk(sub, f"{prefix}{name}/")

    with nc:
        walk(nc, "")
    return values


def h5py_values(path: Path) -> dict[str, Any]:
    values: dict[str, Any] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: values.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return values


def same(expected: Any, got: np.ndarray) -> bool:
    """Raw values identical (NaN equal to NaN); strings compared as text."""
    expected = np.ma.getdata(expected)
    expected = np.asarray(expected)
    if expected.dtype.kind in "OU" or got.dtype.kind in "OUT":
        def text(a: np.ndarray) -> list[str]:
            return [v.decode() if isinstance(v, bytes) else str(v) for v in a.reshape(-1)]
        return expected.shape == got.shape and text(expected) == text(np.asarray(got))
    # byte order aside: zarr hands big-endian data over in the machine's order
    return (expected.shape == got.shape
            and expected.dtype.newbyteorder("=") == got.dtype.newbyteorder("=")
            and np.array_equal(expected, got, equal_nan=expected.dtype.kind == "f"))


@pytest.mark.parametrize("name", hdf5_granules(), ids=lambda name: name[:24])
def test_xarray_reads_every_variable_through_the_references_as_netcdf4_reads_the_file(
        documents: dict[str, dict], shared_swaths: Path, name: str) -> None:
    path = shared_swaths / name
    doc = documents[name]
    expected = netcdf4_values(path)
    if expected is None:
        assert name == ATL03
        expected = h5py_values(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr's notes on v2 codecs and string dtypes
        got = through_references(with_url(doc, path))
    assert expected, f"{name}: no variables to compare"
    missing = sorted(set(expected) - set(got))
    assert not missing, f"{name}: variables not in the index: {missing}"
    differ = [k for k, v in expected.items() if not same(v, got[k])]
    assert not differ, f"{name}: values differ from the file's: {differ}"
    assert doc["swathstore"]["skipped"] == {}


def test_every_reference_is_a_templated_byte_range_inside_the_object_or_inlined(
        documents: dict[str, dict], shared_swaths: Path) -> None:
    for name, doc in documents.items():
        size = (shared_swaths / name).stat().st_size
        assert doc["version"] == 1 and doc["templates"] == {"u": ""}
        assert json.loads(dumps(doc)) == doc  # JSON all through
        for key, value in doc["refs"].items():
            if isinstance(value, list):
                url, offset, length = value
                assert url == "{{u}}" and length > INLINE_MAX, (name, key)
                assert offset >= 0 and offset + length <= size, (name, key)
            else:
                assert isinstance(value, str), (name, key)
        assert len(doc["swathstore"]["object_sha256"]) == 64
    assert all(count_refs(doc) > 0 for name, doc in documents.items() if "20211220" not in name)


def test_netcdf_classic_is_not_indexable_and_says_why(shared_swaths: Path) -> None:
    with pytest.raises(NotIndexable, match="NetCDF classic"):
        build_references(shared_swaths / JASON)


def test_an_hdf5_file_behind_a_user_block_is_read_at_the_right_offsets(tmp_path: Path) -> None:
    path = tmp_path / "userblock.h5"
    rng = np.random.default_rng(22)
    with h5py.File(path, "w", userblock_size=1024) as f:
        f.create_dataset("chunked", data=rng.normal(size=(300, 40)), chunks=(64, 40),
                         compression="gzip", shuffle=True, fletcher32=True)
        f.create_dataset("contiguous", data=rng.integers(0, 1000, size=(5000, 300),
                                                          dtype=np.int32))
        f.create_dataset("names", data=["alpha", "β", ""], dtype=h5py.string_dtype())
        f.create_dataset("fixed", data=np.array([b"ab", b"cde"]))
        f.create_dataset("scalar", data=2.5)
        group = f.create_group("nested/deeper")
        group.create_dataset("counts", data=np.arange(1000, dtype=">u2"), chunks=(100,))
        compact = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        compact.set_layout(h5py.h5d.COMPACT)
        h5py.h5d.create(f.id, b"compact", h5py.h5t.STD_I32LE,
                        h5py.h5s.create_simple((16,)), dcpl=compact)
        f["compact"][...] = np.arange(16)
    with open(path, "r+b") as f:
        f.write(b"not HDF5: a user block")
    doc = build_references(path)
    got = through_references(with_url(doc, path))
    expected = h5py_values(path)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert same(value, got[key]), key
    # the 5.7 MB contiguous array is split into byte ranges a client may read one by one
    assert json.loads(doc["refs"]["contiguous/.zarray"])["chunks"][0] < 5000


def test_a_variable_shorter_than_its_unlimited_dimension_reads_its_fill_beyond(
        tmp_path: Path) -> None:
    path = tmp_path / "unlimited.nc"
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", None)
        full = nc.createVariable("full", "f4", ("time",), fill_value=-1.0)
        short = nc.createVariable("short", "i2", ("time",), fill_value=-9)
        full[:10] = np.arange(10)
        short[:3] = [7, 8, 9]
        # named like a dimension it does not stand for: "_nc4_non_coord_time" in HDF5
        nc.createDimension("pixel", 2)
        other = nc.createVariable("pixel", "i4", ("time", "pixel"))
        other[:4] = np.arange(8).reshape(4, 2)
    doc = build_references(path)
    got = through_references(with_url(doc, path))
    expected = netcdf4_values(path)
    assert expected is not None
    for key, value in expected.items():
        assert same(value, got[key]), key
    # and xarray's CF decoding masks the fill as it would from the file
    with xr.open_dataset("reference://", engine="zarr", backend_kwargs={
            "consolidated": True, "storage_options": {"fo": with_url(doc, path)}}) as ds:
        assert np.isnan(ds["short"].values[3:]).all() and ds["short"].values[2] == 9


def corrupt_btree(source: Path, target: Path) -> Path:
    """A copy of ``source`` whose second B-tree node lost its signature."""
    data = bytearray(source.read_bytes())
    second = data.find(b"TREE", data.find(b"TREE") + 4)
    assert second > 0
    data[second:second + 4] = b"XXXX"
    target.write_bytes(bytes(data))
    return target


def truncated(source: Path, target: Path) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


def test_a_corrupt_or_truncated_file_is_not_indexable_and_says_why(
        shared_swaths: Path, tmp_path: Path) -> None:
    with pytest.raises(NotIndexable, match="B-tree signature"):
        build_references(corrupt_btree(shared_swaths / MODIS, tmp_path / "corrupt.nc"))
    with pytest.raises(NotIndexable, match="truncated"):
        build_references(truncated(shared_swaths / MODIS, tmp_path / "truncated.nc"))


def test_the_inspection_child_reports_bad_files_and_goes_on_indexing(
        shared_swaths: Path, tmp_path: Path) -> None:
    inspector = Inspector()
    try:
        with pytest.raises(NotIndexable, match="B-tree signature"):
            inspector.chunk_index(corrupt_btree(shared_swaths / MODIS, tmp_path / "bad.nc"),
                                  timeout_s=30)
        doc = inspector.chunk_index(shared_swaths / MODIS, timeout_s=30, object_sha256="ab" * 32)
        assert doc["swathstore"]["object_sha256"] == "ab" * 32
        assert count_refs(doc) > 0
    finally:
        inspector.close()


def test_compound_enum_and_empty_variables_are_described_or_skipped_with_a_reason(
        tmp_path: Path) -> None:
    path = tmp_path / "odd.h5"
    record = np.dtype([("count", "<i4"), ("height", "<f8"), ("flag", "S2")])
    with h5py.File(path, "w") as f:
        f.create_dataset("records", data=np.array([(1, 2.5, b"ok"), (3, -1.0, b"no")],
                                                  dtype=record), chunks=(1,))
        f.create_dataset("colour", data=np.array([0, 1, 1], dtype="i1"),
                         dtype=h5py.enum_dtype({"RED": 0, "GREEN": 1}, basetype="i1"))
        f.create_dataset("nothing", data=h5py.Empty("f4"))
        f.create_dataset("ragged", (2,), dtype=h5py.vlen_dtype(np.int32))
    doc = build_references(path)
    assert set(doc["swathstore"]["skipped"]) == {"nothing", "ragged"}
    assert "null dataspace" in doc["swathstore"]["skipped"]["nothing"]
    assert doc["swathstore"]["builder"] == "h5py"
    got = through_references(with_url(doc, path))
    expected = h5py_values(path)
    for key in ("records", "colour"):
        assert same(expected[key], got[key]), key


def test_kerchunks_references_the_fallback_read_the_same_values(shared_swaths: Path) -> None:
    path = shared_swaths / MODIS
    with open(path, "rb") as f:
        doc = build_with_kerchunk(f, path.stat().st_size)
    assert doc["swathstore"]["builder"].startswith("kerchunk ")
    got = through_references(with_url(doc, path))
    expected = netcdf4_values(path)
    assert expected is not None
    for key, value in expected.items():
        assert same(value, got[key]), key

"""Chunk references of NetCDF classic files: xarray reads through them what netCDF4 reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fsspec
import netCDF4
import numpy as np
import pytest
import xarray as xr

from ingest import chunkindex_nc3
from ingest.chunkindex_nc3 import Nc3IndexError, build_nc3_references

CLASSIC = ("JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc",
           "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc")


def open_through(doc: dict[str, Any], path: Path) -> xr.Dataset:
    """Open the document as a client would, its template pointing at the local file."""
    doc = json.loads(json.dumps(doc))  # what is stored is JSON: read back what JSON keeps
    doc["templates"]["u"] = str(path)
    fs = fsspec.filesystem("reference", fo=doc, remote_protocol="file")
    return xr.open_dataset(fs.get_mapper(""), engine="zarr", consolidated=True,
                           mask_and_scale=False, decode_times=False, decode_coords=False,
                           concat_characters=False)


def assert_same_as_netcdf4(path: Path, ds: xr.Dataset) -> None:
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_maskandscale(False)
        nc.set_auto_chartostring(False)
        assert set(ds.variables) == set(nc.variables)
        assert set(nc.ncattrs()) == set(ds.attrs)
        for key in nc.ncattrs():
            assert np.array_equal(np.asarray(nc.getncattr(key)), np.asarray(ds.attrs[key])), key
        for name, v in nc.variables.items():
            want, got = np.asarray(v[...]), ds[name].values
            assert got.dtype == want.dtype and got.shape == want.shape, name
            assert got.tobytes() == want.tobytes(), name
            for key in v.ncattrs():
                if key != "_FillValue":
                    assert np.array_equal(np.asarray(v.getncattr(key)),
                                          np.asarray(ds[name].attrs[key])), (name, key)
            if "_FillValue" in v.ncattrs():
                fill = ds[name].encoding.get("_FillValue", ds[name].attrs.get("_FillValue"))
                assert np.array_equal(v.getncattr("_FillValue"), fill, equal_nan=True), name


@pytest.mark.parametrize("name", CLASSIC)
def test_every_variable_of_a_real_classic_granule_reads_the_same_through_references(
    shared_swaths: Path, name: str
) -> None:
    path = shared_swaths / name
    doc = build_nc3_references(path)
    assert doc["version"] == 1 and doc["templates"] == {"u": ""}
    chunks = [ref for ref in doc["refs"].values() if isinstance(ref, list)]
    assert chunks and all(ref[0] == "{{u}}" for ref in chunks)
    assert_same_as_netcdf4(path, open_through(doc, path))


def test_the_document_names_the_sha256_of_the_object_it_describes(shared_swaths: Path) -> None:
    import hashlib

    path = shared_swaths / CLASSIC[1]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert build_nc3_references(path)["swathstore"] == {
        "builder": "netcdf3-header", "skipped": {}, "object_sha256": digest}
    given = build_nc3_references(path, object_sha256="ab" * 32)
    assert given["swathstore"]["object_sha256"] == "ab" * 32


@pytest.mark.parametrize("fmt", ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET",
                                 "NETCDF3_64BIT_DATA"])
def test_each_classic_flavour_with_records_scalars_text_and_large_arrays_reads_the_same(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks, so the 2-D arrays here are cut into many, the last one partial.
    monkeypatch.setattr(chunkindex_nc3, "CHUNK_TARGET", 4000)
    path = tmp_path / "f.nc"
    rng = np.random.default_rng(3)
    with netCDF4.Dataset(path, "w", format=fmt) as nc:
        nc.title = "classic"
        nc.setncattr("factors", np.array([1.5, 2.5], dtype="f8"))
        nc.createDimension("time", None)
        nc.createDimension("row", 203)  # prime: no divisor makes equal chunks
        nc.createDimension("col", 7)
        nc.createDimension("nchar", 5)
        t = nc.createVariable("time", "f8", ("time",))
        t[:] = np.arange(1000, dtype="f8")
        sst = nc.createVariable("sst", "i2", ("row", "col"), fill_value=np.int16(-32767))
        sst.scale_factor = np.float32(0.01)
        sst[:] = rng.integers(-3000, 3000, size=(203, 7), dtype="i2")
        nan_fill = nc.createVariable("chl", "f4", ("row", "col"), fill_value=np.float32(np.nan))
        nan_fill[:] = rng.random((203, 7), dtype="f4")
        nc.createVariable("orbit", "i4", ()).assignValue(42)
        label = nc.createVariable("label", "S1", ("nchar",))
        label[:] = netCDF4.stringtochar(np.array(["abcde"], dtype="S5"))[0]
        if fmt == "NETCDF3_64BIT_DATA":
            nc.createVariable("big", "u8", ("row",))[:] = np.arange(203, dtype="u8") * 2**40
        # The last variable of the file: its last chunk cannot run past the end.
        nc.createVariable("lat", "f4", ("row", "col"))[:] = rng.random((203, 7), dtype="f4")
    doc = build_nc3_references(path)
    zarray = json.loads(doc["refs"]["lat/.zarray"])
    assert zarray["chunks"][0] < 203 and zarray["compressor"] is None
    assert_same_as_netcdf4(path, open_through(doc, path))


def test_interleaved_records_of_many_small_variables_are_refused_with_the_reason(
    tmp_path: Path
) -> None:
    path = tmp_path / "records.nc"
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as nc:
        nc.createDimension("time", None)
        for name in ("a", "b", "c"):
            nc.createVariable(name, "f8", ("time",))[:] = np.arange(5000.0)
    with pytest.raises(Nc3IndexError, match="3 record variables interleave in 5000 records"):
        build_nc3_references(path)


def test_a_truncated_file_is_refused_and_names_the_variable_cut_off(
    shared_swaths: Path, tmp_path: Path
) -> None:
    path = tmp_path / "cut.nc"
    path.write_bytes((shared_swaths / CLASSIC[1]).read_bytes()[:1_000_000])
    with pytest.raises(Nc3IndexError, match="past the end of the 1000000-byte file"):
        build_nc3_references(path)


@pytest.mark.parametrize("data, reason", [
    (b"\x89HDF\r\n\x1a\n" + bytes(100), "not a NetCDF classic file"),
    (b"CDF\x01" + bytes(4) + b"\x00\x00\x00\x0a\xff\xff\xff\xff" + bytes(64), "cannot fit"),
    (b"CDF\x02" + b"\xff\xff\xff\xff" + bytes(64), "still being written"),
    (b"CDF\x01\x00\x00", "header runs past the end"),
])
def test_a_malformed_header_is_refused_with_a_reason_and_no_huge_allocation(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    path = tmp_path / "bad.nc"
    path.write_bytes(data)
    with pytest.raises(Nc3IndexError, match=reason):
        build_nc3_references(path)


@pytest.mark.parametrize("rows, chunk_rows", [(200, 100), (211, 211)])
def test_the_last_array_of_a_file_gets_whole_chunks_that_end_inside_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int, chunk_rows: int
) -> None:
    # 142 rows of 28 bytes would be the chunk; no byte follows the array, so the chunk
    # becomes a divisor of the rows (200: 100), or with none near (211 is prime) the array.
    monkeypatch.setattr(chunkindex_nc3, "CHUNK_TARGET", 4000)
    path = tmp_path / "last.nc"
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as nc:
        nc.createDimension("row", rows)
        nc.createDimension("col", 7)
        nc.createVariable("lat", "f4", ("row", "col"))[:] = np.arange(rows * 7).reshape(rows, 7)
    doc = build_nc3_references(path)
    assert json.loads(doc["refs"]["lat/.zarray"])["chunks"] == [chunk_rows, 7]
    assert_same_as_netcdf4(path, open_through(doc, path))

"""Chunks compressed in threads and written directly are what HDF5's own filters would store."""

from __future__ import annotations

import zlib
from pathlib import Path

import h5py
import netCDF4
import numpy as np
import pytest

from subset.chunkwrite import Deferred, encode, tiles, write_deferred
from subset.kernel import subset
from subset.region import parse_bbox
from tests.subset.conftest import lonlat


@pytest.mark.parametrize("dtype", ["i1", "<u2", "<i4", "<f4", "<f8"])
def test_an_encoded_chunk_holds_the_bytes_hdf5s_shuffle_and_deflate_hold(
        dtype: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    data = (rng.random((20, 30)) * 1000).astype(dtype)
    with h5py.File(tmp_path / "ref.h5", "w") as f:
        ref = f.create_dataset("v", data=data, chunks=(20, 30), shuffle=True,
                               compression="gzip", compression_opts=1)
        mask, stored = ref.id.read_direct_chunk((0, 0))
    assert mask == 0
    # zlib builds may differ in their compressed bytes, never in what they decompress to.
    assert zlib.decompress(encode(data, 1)) == zlib.decompress(stored)


def test_edge_chunks_are_padded_and_every_value_reads_back(tmp_path: Path) -> None:
    data = np.arange(7 * 11 * 5, dtype="<i2").reshape(7, 11, 5)
    path = tmp_path / "v.nc"
    with netCDF4.Dataset(path, "w") as ds:
        for name, n in zip("abc", data.shape, strict=True):
            ds.createDimension(name, n)
        ds.createVariable("v", "i2", ("a", "b", "c"), compression="zlib", complevel=1,
                          shuffle=True, chunksizes=(3, 4, 5), fill_value=-1)
    pieces = [((slice(0, 6), slice(0, 11), slice(0, 5)), data[:6]),
              ((slice(6, 7), slice(0, 11), slice(0, 5)), data[6:])]
    assert len(list(tiles(*pieces[0], (3, 4, 5)))) == 2 * 3 * 1
    write_deferred(str(path), [Deferred("/v", pieces)], threads=3)
    with netCDF4.Dataset(path) as ds:
        v = ds["v"]
        assert np.array_equal(v[:].data, data) and v.filters()["shuffle"]


def test_a_dataset_with_another_pipeline_gets_the_plain_write(tmp_path: Path) -> None:
    data = np.linspace(0, 1, 60, dtype="<f4").reshape(6, 10)
    path = tmp_path / "v.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("a", 6)
        ds.createDimension("b", 10)
        ds.createVariable("v", "f4", ("a", "b"), compression="zlib", complevel=1,
                          shuffle=False, chunksizes=(3, 10))
    write_deferred(str(path), [Deferred("/v", [((slice(0, 6), slice(0, 10)), data)])],
                   threads=2)
    with netCDF4.Dataset(path) as ds:
        assert np.array_equal(ds["v"][:].data, data)


def test_a_subset_is_the_same_file_whatever_the_thread_count(chunky_swath: Path,
                                                              tmp_path: Path) -> None:
    region = parse_bbox("44,12,52,17")
    outs = {n: subset(chunky_swath, region, tmp_path / f"t{n}.nc", threads=n,
                      fill_outside=True) for n in (1, 3)}
    # The files differ only in their time of writing (history): the stored chunks match.
    with h5py.File(tmp_path / "t1.nc") as one, h5py.File(tmp_path / "t3.nc") as three:
        names: list[str] = []
        one.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        assert len(names) > 10
        for name in names:
            a, b = one[name], three[name]
            assert a.dtype == b.dtype and np.array_equal(a[()], b[()]), name
            if a.chunks and a.compression:
                first = (0,) * a.ndim
                assert a.id.read_direct_chunk(first) == b.id.read_direct_chunk(first), name
    rows, cols = (slice(*w) for w in outs[3].windows[0]["window"])
    lon, lat = lonlat(chunky_swath, "navigation_data/latitude", "navigation_data/longitude")
    with h5py.File(chunky_swath) as src, h5py.File(tmp_path / "t3.nc") as out:
        for name in ("geophysical_data/sst", "geophysical_data/Rrs_412"):
            got, want = out[name][()], src[name][rows, cols]
            inside = (lon[rows, cols] >= 44) & (lon[rows, cols] <= 52) & \
                     (lat[rows, cols] >= 12) & (lat[rows, cols] <= 17)
            assert np.array_equal(got[inside], want[inside]), name
            assert (got[~inside] == src[name].attrs["_FillValue"]).all(), name

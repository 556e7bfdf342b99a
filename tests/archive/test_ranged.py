"""Ranged reads: open a real NetCDF4/HDF5 swath in place through h5py and netCDF4."""

from __future__ import annotations

import io
from collections.abc import Callable

import h5py
import netCDF4
import numpy as np
import pytest

from archive.errors import ArchiveError
from archive.local import LocalStore
from archive.ranged import RangedFile
from archive.s3 import S3Store
from archive.stores import Store
from tests.archive.conftest import MODIS, MiB, payload
from tests.support.fixtures_s3 import REAL_SERVERS
from tests.support.s3servers import S3Server
from tests.support.tcpproxy import TcpProxy

SLICE = (0, slice(100, 110), slice(200, 210))


def expected_sst() -> np.ndarray:
    with h5py.File(MODIS, "r") as f:
        return f["sea_surface_temperature"][SLICE]


@pytest.fixture(params=[*REAL_SERVERS, "local"])
def swath_store(request: pytest.FixtureRequest, local_store: LocalStore, s3_prefix: str
                ) -> Store:
    """A store (on each real S3 server, or local) holding the MODIS granule at key
    swaths/modis/granule.nc."""
    store: Store = local_store
    if request.param in REAL_SERVERS:
        server: S3Server = request.getfixturevalue(REAL_SERVERS[request.param])
        store = server.store(s3_prefix, max_attempts=3, retry_base_s=0.05)
    store.put("swaths/modis/granule.nc", MODIS, content_type="application/x-netcdf")
    return store


def test_h5py_reads_a_small_slice_without_fetching_the_whole_object(swath_store: Store) -> None:
    size = MODIS.stat().st_size
    with swath_store.open_ranged("swaths/modis/granule.nc", block_size=64 * 1024) as ranged:
        with h5py.File(ranged, "r") as f:
            sst = f["sea_surface_temperature"][SLICE]
            assert f["lat"].shape == (1233, 455)
        assert np.array_equal(sst, expected_sst())
        assert ranged.bytes_read < size / 3, (ranged.bytes_read, size)
        assert ranged.requests >= 2


def test_netcdf4_opens_the_object_from_memory_read_through_the_ranged_file(
    swath_store: Store,
) -> None:
    with swath_store.open_ranged("swaths/modis/granule.nc") as ranged:
        with netCDF4.Dataset("granule.nc", memory=ranged.read()) as ds:
            ds.set_auto_maskandscale(False)
            sst = ds.variables["sea_surface_temperature"][SLICE]
            assert "lat" in ds.variables
        assert ranged.bytes_read == MODIS.stat().st_size
    assert np.array_equal(np.asarray(sst), expected_sst())


def test_a_ranged_file_seeks_and_reads_like_a_local_file() -> None:
    data = payload(MiB + 123, seed=1)
    fetches: list[tuple[int, int]] = []

    def fetch(start: int, stop: int) -> bytes:
        fetches.append((start, stop))
        return data[start:stop]

    ranged = RangedFile(
        fetch, len(data), name="k", block_size=4096, cache_blocks=8, readahead_blocks=4
    )
    reference = io.BytesIO(data)
    for offset, whence, n in [
        (0, 0, 10),
        (5000, 0, 9000),
        (-100, 2, 500),
        (-3000, 1, 7),
        (MiB, 0, 4096 * 3),
    ]:
        assert ranged.seek(offset, whence) == reference.seek(offset, whence)
        assert ranged.read(n) == reference.read(n)
        assert ranged.tell() == reference.tell()
    assert ranged.bytes_read == sum(b - a for a, b in fetches)
    ranged.seek(0)
    assert ranged.read() == data  # sequential: read-ahead fetches 4 blocks per request
    assert max(b - a for a, b in fetches) == 4 * 4096


def test_ranged_reads_of_a_compressed_object_are_refused(s3_store: S3Store) -> None:
    s3_store.put("k/packed", io.BytesIO(b"x" * 1000), codec="zstd")
    with pytest.raises(ArchiveError, match="k/packed"):
        s3_store.open_ranged("k/packed")


def test_a_ranged_file_notices_the_object_changing_underneath_it(
    moto_s3: S3Server, moto_store: S3Store
) -> None:
    data = payload(MiB, seed=2)
    moto_store.put("k/moving", io.BytesIO(data))
    with moto_store.open_ranged("k/moving", block_size=64 * 1024) as ranged:
        assert ranged.read(10) == data[:10]
        moto_s3.client().put_object(
            Bucket=moto_s3.bucket, Key=moto_store.prefix + "k/moving", Body=payload(MiB, seed=3)
        )
        ranged.seek(MiB // 2)
        with pytest.raises(ArchiveError, match="k/moving"):
            ranged.read(10)


def test_netcdf4_reads_a_slice_in_place_through_a_presigned_url_with_byte_ranges(
    moto_s3: S3Server, s3_prefix: str, tcp_proxy: Callable[[str], TcpProxy]
) -> None:
    proxy = tcp_proxy(moto_s3.endpoint_url)
    store = moto_s3.store(s3_prefix, endpoint_url=proxy.endpoint_url, probe=False)
    store.put("swaths/modis/granule.nc", MODIS)
    url = store.presign("swaths/modis/granule.nc", 300)
    assert url is not None
    before = proxy.bytes_down
    with netCDF4.Dataset(url + "#mode=bytes") as ds:
        ds.set_auto_maskandscale(False)
        sst = ds.variables["sea_surface_temperature"][SLICE]
    assert np.array_equal(np.asarray(sst), expected_sst())
    assert proxy.bytes_down - before < MODIS.stat().st_size / 2

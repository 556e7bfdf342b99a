"""Subsets of archived objects through S3 with chunk prefetch: same output, fewer requests."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pytest

from archive.errors import ArchiveError
from archive.local import LocalStore
from archive.s3 import S3Store
from ingest.synth import write_swath
from subset.kernel import RANGED_BLOCK, RANGED_CACHE_BLOCKS, subset
from subset.region import parse_bbox
from subset.source import open_source
from tests.subset.conftest import rechunk
from tests.support.s3servers import S3Server

MODIS = "SS_MODIS_A-JPL-L2P-v2014.0.nc"
GPM = "GPM_test_file.HDF5"
SST = "/geophysical_data/sst"


@pytest.fixture(scope="module")
def wide_swath(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 24 MB MODIS-like swath (4 extra bands) in 128 x 512 chunks, 24 per variable."""
    tmp = tmp_path_factory.mktemp("wide")
    write_swath(tmp / "plain.nc", seed=11, start="2024-05-01T12:00:00", target_bytes="24MB",
                extra_bands=4)
    rechunk(tmp / "plain.nc", tmp / "wide.nc", (128, 512))
    return tmp / "wide.nc"


def centre_bbox(path: Path) -> str:
    """Return a bbox around the swath's centre holding about 2 % of its pixels."""
    with netCDF4.Dataset(path) as ds:
        lat = np.asarray(ds["navigation_data/latitude"][...])
        lon = np.asarray(ds["navigation_data/longitude"][...])
    n, m = lat.shape
    r, c = slice(int(n * 0.43), int(n * 0.57)), slice(int(m * 0.43), int(m * 0.57))
    south, north = np.percentile(lat[r, c], [10, 90])
    west, east = np.percentile(lon[r, c], [10, 90])
    return f"{west},{south},{east},{north}"


@pytest.fixture
def s3_store(s3_server: S3Server, s3_prefix: str) -> S3Store:
    """An S3Store on the test's real server (each in turn) with four GETs in flight, as the
    benchmark's."""
    return s3_server.store(s3_prefix, concurrency=4)


def walk(grp: Any) -> Iterator[Any]:
    yield grp
    for sub in grp.groups.values():
        yield from walk(sub)


def variables(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray, dict[str, Any]]]:
    """Return {path: (stored bytes, netCDF4's mask, attributes)} of every variable."""
    out = {}
    with netCDF4.Dataset(path) as ds:
        for grp in walk(ds):
            for name, v in grp.variables.items():
                key = f"{grp.path.rstrip('/')}/{name}"
                masked = np.ma.getmaskarray(v[...])
                v.set_auto_maskandscale(False)
                raw = np.asarray(v[...])
                out[key] = (raw, masked, {a: v.getncattr(a) for a in v.ncattrs()})
    return out


def assert_same_subset(a: Path, b: Path) -> None:
    va, vb = variables(a), variables(b)
    assert va.keys() == vb.keys()
    for key, (raw, mask, attrs) in va.items():
        raw_b, mask_b, attrs_b = vb[key]
        assert raw.dtype == raw_b.dtype and raw.shape == raw_b.shape, key
        if raw.dtype.kind == "O":
            assert raw.tolist() == raw_b.tolist(), key
        else:
            assert raw.tobytes() == raw_b.tobytes(), key  # bit for bit, NaNs included
        assert np.array_equal(mask, mask_b), key
        assert str(attrs) == str(attrs_b), key


def cut_both(store: S3Store, src: Path, bbox: str, tmp_path: Path,
             **options: Any) -> tuple[Any, Any]:
    put = store.put(f"swaths/{src.name}", src)
    region = parse_bbox(bbox)
    with store.open_ranged(put.key, block_size=RANGED_BLOCK,
                           cache_blocks=RANGED_CACHE_BLOCKS) as ranged:
        assert ranged.can_prefetch
        remote = subset(ranged, region, tmp_path / "s3.nc", **options)
        remote.requests = ranged.requests  # type: ignore[attr-defined]
        remote.prefetch_requests = ranged.prefetch_requests  # type: ignore[attr-defined]
    local = subset(src, region, tmp_path / "local.nc", **options)
    return remote, local


@pytest.mark.parametrize("name, bbox", [(MODIS, "70,42,80,48"), (GPM, "-120,-65,-60,-55")])
def test_a_real_granule_cut_through_s3_with_prefetch_equals_the_local_cut(
        s3_store: S3Store, shared_swaths: Path, tmp_path: Path, name: str,
        bbox: str) -> None:
    remote, local = cut_both(s3_store, shared_swaths / name, bbox, tmp_path,
                             fill_outside=True)
    assert remote.windows == local.windows and remote.n_selected == local.n_selected > 0
    assert_same_subset(tmp_path / "s3.nc", tmp_path / "local.nc")


@pytest.mark.parametrize("bbox", ["58,15,62,17", "45,12,50,14", "30,0,70,30"])
def test_a_small_chunked_synthetic_swath_cut_through_s3_equals_the_local_cut(
        s3_store: S3Store, chunky_swath: Path, tmp_path: Path, bbox: str) -> None:
    remote, local = cut_both(s3_store, chunky_swath, bbox, tmp_path)
    assert remote.windows == local.windows
    assert_same_subset(tmp_path / "s3.nc", tmp_path / "local.nc")


@pytest.mark.parametrize("fill_outside", [False, True])
def test_a_wide_chunked_synthetic_swath_cut_through_s3_equals_the_local_cut(
        s3_store: S3Store, wide_swath: Path, tmp_path: Path, fill_outside: bool) -> None:
    remote, local = cut_both(s3_store, wide_swath, centre_bbox(wide_swath), tmp_path,
                             fill_outside=fill_outside)
    assert remote.windows == local.windows
    assert remote.windows[0]["chunks_total"] >= 16  # the pruned chunk search ran
    assert remote.prefetch_requests > 0
    assert_same_subset(tmp_path / "s3.nc", tmp_path / "local.nc")


def test_prefetch_leaves_few_requests_to_wait_on_one_by_one_for_no_more_bytes(
        s3_store: S3Store, wide_swath: Path, tmp_path: Path) -> None:
    bbox = centre_bbox(wide_swath)
    plain = LocalStore(tmp_path / "store")  # the same RangedFile reads, without prefetch
    put = plain.put("swaths/wide.nc", wide_swath)
    with plain.open_ranged(put.key, block_size=RANGED_BLOCK,
                           cache_blocks=RANGED_CACHE_BLOCKS) as ranged:
        assert not ranged.can_prefetch
        subset(ranged, parse_bbox(bbox), tmp_path / "plain.nc")
        before = (ranged.requests, ranged.bytes_read)
    remote, _ = cut_both(s3_store, wide_swath, bbox, tmp_path)
    waited = remote.requests - remote.prefetch_requests  # made by the reading thread
    assert waited <= before[0] / 3, (before, remote.requests, waited)
    assert remote.requests <= 1.25 * before[0], (before, remote.requests)
    assert remote.bytes_read <= 1.1 * before[1], (before, remote.bytes_read)
    assert remote.bytes_read < 0.5 * put.size, (remote.bytes_read, put.size)


def test_an_object_changed_under_a_prefetch_fails_naming_the_object(
        moto_s3: S3Server, s3_prefix: str, wide_swath: Path) -> None:
    store = moto_s3.store(s3_prefix, concurrency=4)
    put = store.put("swaths/wide.nc", wide_swath)
    with store.open_ranged(put.key, block_size=RANGED_BLOCK,
                           cache_blocks=RANGED_CACHE_BLOCKS) as ranged, \
            open_source(ranged) as source:
        sst = source.var(SST)
        sel = tuple(slice(0, n) for n in sst.shape)
        sst.prefetch((slice(0, 1), slice(0, 1)))  # walks the chunk index while it is intact
        source.drop_prefetched()
        moto_s3.client().put_object(Bucket=moto_s3.bucket, Key=store.prefix + put.key,
                                    Body=io.BytesIO(wide_swath.read_bytes()[::-1]))
        assert sst.prefetch(sel) > 0  # chunks not in the block cache: read by prefetch only
        with pytest.raises(ArchiveError, match="swaths/wide.nc"):
            sst.read(sel)

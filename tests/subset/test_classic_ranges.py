"""NetCDF classic objects stored as they are: cut by byte ranges, the same cut as from a file."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest

from archive.local import LocalStore
from subset.kernel import subset
from subset.region import bbox_region
from subset.source import open_source

CLASSIC = ("JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc",
           "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc")
# Boxes holding a small part of each track (lon, lat: west, south, east, north).
BOXES = {CLASSIC[0]: (-89.0, -21.0, -86.0, -15.0), CLASSIC[1]: (-5.0, -5.0, 5.0, 5.0)}


def same_attrs(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        type(a[k]) is type(b[k]) and np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", CLASSIC)
def test_a_classic_file_read_by_ranges_gives_what_netcdf4_gives(
    shared_swaths: Path, name: str
) -> None:
    path = shared_swaths / name
    with open_source(path) as by_path, open(path, "rb") as f, open_source(f) as by_ranges:
        assert by_ranges.format == "netcdf3"
        assert same_attrs(by_path.group_attrs["/"], by_ranges.group_attrs["/"])
        assert [(d.key, d.size) for d in by_path.dims.values()] == \
            [(d.key, d.size) for d in by_ranges.dims.values()]
        for want in by_path.variables:
            got = by_ranges.var(want.path)
            assert (got.shape, got.dtype, got.kind) == (want.shape, want.dtype, want.kind)
            assert same_attrs(want.attrs, got.attrs), want.path
            assert (want.fill is None and got.fill is None) or (
                type(want.fill) is type(got.fill)
                and np.array_equal(want.fill, got.fill, equal_nan=want.dtype.kind == "f"))
            rest = tuple(slice(1, 3) for _ in want.shape[1:])
            for sel in ([None] if not want.shape else
                        [None, (slice(7, 50), *rest), (slice(2, 90, 7), *rest)]):
                a, b = want.read(sel), got.read(sel)
                assert (a.dtype, a.shape, a.tobytes()) == (b.dtype, b.shape, b.tobytes()), \
                    (want.path, sel)


@pytest.mark.parametrize("name", CLASSIC)
def test_a_cut_of_an_archived_classic_object_reads_part_of_it_and_writes_the_same_file(
    shared_swaths: Path, tmp_path: Path, name: str
) -> None:
    path = shared_swaths / name
    store = LocalStore(tmp_path / "store")
    put = store.put(f"swaths/{name}", path, size=path.stat().st_size)
    region = bbox_region(*BOXES[name])
    from_file = subset(path, region, tmp_path / "from-file.nc")
    with store.open_ranged(put.key, block_size=16 * 1024) as ranged:
        from_store = subset(ranged, region, tmp_path / "from-store.nc")
    assert from_store.n_selected == from_file.n_selected > 0
    with netCDF4.Dataset(tmp_path / "from-file.nc") as a, \
            netCDF4.Dataset(tmp_path / "from-store.nc") as b:
        assert set(a.variables) == set(b.variables)
        for var in a.variables:
            assert np.array_equal(a[var][:], b[var][:], equal_nan=True), var
            assert same_attrs({k: a[var].getncattr(k) for k in a[var].ncattrs()},
                              {k: b[var].getncattr(k) for k in b[var].ncattrs()}), var
    # JA1's 147 variables are 9-18 kB each: the blocks of a cut touch all of them. ASCAT's
    # twelve are 274 kB: a cut reads the geolocation and the window's rows of the others.
    share = {CLASSIC[0]: 1.0, CLASSIC[1]: 0.5}[name]
    assert 0 < from_store.bytes_read <= share * path.stat().st_size

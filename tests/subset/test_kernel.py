"""The subset kernel on synthetic and real swaths: windows, values, encodings, errors."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from archive.local import LocalStore
from subset.errors import NoDataInRegion, SubsetTooLarge, VariableNotFound
from subset.kernel import make_plan, subset
from subset.region import parse_bbox, parse_geometry
from subset.source import open_source
from tests.subset.conftest import brute_window, lonlat

LAT, LON = "navigation_data/latitude", "navigation_data/longitude"
ASCAT = "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc"
TROPOMI = ("test_var_subsetting_tropomi_S5P_OFFL_L2__CH4____20190319T110835_20190319T125006_"
           "07407_01_010202_20190325T125810_subset.nc4")


def raw(path: Path, var: str) -> np.ndarray:
    with netCDF4.Dataset(path) as ds:
        v = ds[var]
        v.set_auto_maskandscale(False)
        return np.asarray(v[...])


def test_the_window_is_the_minimal_box_around_every_pixel_in_the_region(
        small_swath: Path, tmp_path: Path) -> None:
    region = parse_bbox("45,12,50,14")
    result = subset(small_swath, region, tmp_path / "out.nc")
    lon, lat = lonlat(small_swath, LAT, LON)
    mask = region.contains(lon, lat)
    window = brute_window(mask)
    assert result.windows[0]["window"] == [[s.start, s.stop] for s in window]
    assert result.n_selected == int(mask.sum())
    w, s, e, n = result.bounds
    assert 45 <= w < e <= 50 and 12 <= s < n <= 14


def test_values_packing_fill_groups_and_attributes_are_kept_bit_for_bit(
        small_swath: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.nc"
    result = subset(small_swath, parse_bbox("45,12,50,14"), out)
    rows, cols = (slice(*w) for w in result.windows[0]["window"])
    for var in ("geophysical_data/sst", "geophysical_data/chlor_a",
                "geophysical_data/quality_level", LAT, LON):
        assert np.array_equal(raw(out, var), raw(small_swath, var)[rows, cols]), var
    assert np.array_equal(raw(out, "scan_line_attributes/time"),
                          raw(small_swath, "scan_line_attributes/time")[rows])
    with netCDF4.Dataset(out) as ds, netCDF4.Dataset(small_swath) as src:
        sst, src_sst = ds["geophysical_data/sst"], src["geophysical_data/sst"]
        assert sst.dtype == np.int16
        for attr in ("scale_factor", "add_offset", "_FillValue", "valid_min", "units"):
            assert sst.getncattr(attr) == src_sst.getncattr(attr)
        assert sst.filters()["zlib"] and sst.filters()["shuffle"]
        assert ds.dimensions["number_of_lines"].size == rows.stop - rows.start
        assert "CF-1.8" in ds.Conventions
        assert "subset region bbox=45,12,50,14" in ds.history.splitlines()[-1]
        assert ds.geospatial_lat_min == pytest.approx(result.bounds[1])


def test_chunk_pruned_search_selects_exactly_what_a_full_read_selects(
        chunky_swath: Path) -> None:
    regions = [parse_bbox("45,12,50,14"), parse_bbox("40,10,42,11"),
               parse_geometry("POLYGON ((50 13, 55 16, 58 12, 50 13))"),
               parse_bbox("60.5,16.2,70,20"), parse_bbox("58,15,62,17"),
               parse_bbox("52,15.5,53,16")]
    with open_source(chunky_swath) as src:
        for region in regions:
            full = make_plan(src, region, strategy="full").windows[0]
            pruned = make_plan(src, region).windows[0]
            assert pruned.slices == full.slices
            assert np.array_equal(pruned.mask, full.mask)
        small = make_plan(src, parse_bbox("58,15,62,17")).windows[0]
        assert small.chunks_read < small.chunks_total / 2


def test_an_archived_object_is_read_by_ranges_not_whole(chunky_swath: Path,
                                                       tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    put = store.put("swaths/x/chunky.nc", chunky_swath)
    region = parse_bbox("58,15,62,17")
    with store.open_ranged(put.key, block_size=8 * 1024) as ranged:
        result = subset(ranged, region, tmp_path / "out.nc")
        assert result.bytes_read is not None
        assert result.bytes_read < 0.5 * put.size
    local = subset(chunky_swath, region, tmp_path / "local.nc")
    assert local.windows == result.windows
    assert np.array_equal(raw(tmp_path / "out.nc", "geophysical_data/sst"),
                          raw(tmp_path / "local.nc", "geophysical_data/sst"))


@pytest.mark.parametrize("bbox", ["170,-20,-170,0", "-10,-30,10,10", "-180,80,180,90",
                                  "-180,-90,180,-85"])
def test_ascat_across_the_antimeridian_the_0_360_seam_and_both_poles(
        shared_swaths: Path, tmp_path: Path, bbox: str) -> None:
    path = shared_swaths / ASCAT
    region = parse_bbox(bbox)
    result = subset(path, region, tmp_path / "out.nc")
    lon, lat = lonlat(path, "lat", "lon")
    mask = region.contains(lon, lat)
    assert result.n_selected == int(mask.sum()) > 0
    window = brute_window(mask)
    assert result.windows[0]["window"] == [[s.start, s.stop] for s in window]
    assert np.array_equal(raw(tmp_path / "out.nc", "wind_speed"),
                          raw(path, "wind_speed")[window])


def test_fill_outside_masks_data_but_keeps_the_true_geolocation(
        small_swath: Path, tmp_path: Path) -> None:
    region = parse_geometry("POLYGON ((45 12, 50 12, 47.5 14, 45 12))")
    out = tmp_path / "out.nc"
    result = subset(small_swath, region, out, fill_outside=True)
    rows, cols = (slice(*w) for w in result.windows[0]["window"])
    lon, lat = lonlat(small_swath, LAT, LON)
    inside = region.contains(lon, lat)[rows, cols]
    chl = raw(out, "geophysical_data/chlor_a")
    src = raw(small_swath, "geophysical_data/chlor_a")[rows, cols]
    assert np.array_equal(chl[inside], src[inside])
    assert (chl[~inside] == np.float32(-32767.0)).all() and (~inside).any()
    assert np.array_equal(raw(out, LAT), raw(small_swath, LAT)[rows, cols])


def test_a_variable_subset_brings_its_geolocation_and_coordinates(
        small_swath: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.nc"
    result = subset(small_swath, parse_bbox("45,12,50,14"), out, variables=["sst"])
    assert sorted(result.variables) == ["/geophysical_data/sst", "/" + LAT, "/" + LON]
    with netCDF4.Dataset(out) as ds:
        assert "chlor_a" not in ds["geophysical_data"].variables
        coords = ds["geophysical_data/sst"].coordinates.split()
        assert set(coords) == {"/navigation_data/longitude", "/navigation_data/latitude"}


def test_an_unknown_variable_is_refused_by_name(small_swath: Path, tmp_path: Path) -> None:
    with pytest.raises(VariableNotFound, match="'sea_ice'"):
        subset(small_swath, parse_bbox("45,12,50,14"), tmp_path / "o.nc", variables=["sea_ice"])
    assert not list(tmp_path.iterdir())


def test_a_region_without_valid_pixels_is_no_data_not_an_empty_file(
        small_swath: Path, tmp_path: Path) -> None:
    with pytest.raises(NoDataInRegion, match="no valid pixel"):
        subset(small_swath, parse_bbox("-20,-20,-10,-10"), tmp_path / "o.nc")
    assert not list(tmp_path.iterdir())


def test_a_subset_over_the_size_limit_answers_its_estimate_before_writing(
        small_swath: Path, tmp_path: Path) -> None:
    with pytest.raises(SubsetTooLarge) as info:
        subset(small_swath, parse_bbox("30,0,70,30"), tmp_path / "o.nc", max_bytes=10_000)
    assert info.value.estimated_bytes > 10_000
    assert not list(tmp_path.iterdir())


def test_a_per_pixel_time_window_keeps_only_pixels_in_it(shared_swaths: Path,
                                                        tmp_path: Path) -> None:
    path = shared_swaths / ASCAT
    t0, t1 = datetime(2015, 7, 2, 9, 0, tzinfo=UTC), datetime(2015, 7, 2, 9, 10, tzinfo=UTC)
    out = tmp_path / "out.nc"
    subset(path, parse_bbox("-180,-90,180,90"), out, time_range=(t0, t1), fill_outside=True)
    epoch = datetime(1990, 1, 1, tzinfo=UTC)
    lo, hi = ((t - epoch).total_seconds() for t in (t0, t1))
    times = raw(out, "time")
    source_times = raw(path, "time")
    with netCDF4.Dataset(out) as ds:
        wind = ds["wind_speed"][...]
    inside = (times >= lo) & (times <= hi)
    assert np.ma.getmaskarray(wind)[~inside].all()
    assert inside.any()
    # The window holds every pixel of the source in the time window.
    assert int(inside.sum()) == int(((source_times >= lo) & (source_times <= hi)).sum())


def test_a_per_scan_line_offset_time_window_narrows_the_rows(shared_swaths: Path,
                                                             tmp_path: Path) -> None:
    path = shared_swaths / TROPOMI
    region = parse_bbox("-180,-90,180,90")
    t0, t1 = datetime(2019, 3, 19, 12, 0, tzinfo=UTC), datetime(2019, 3, 19, 12, 5, tzinfo=UTC)
    result = subset(path, region, tmp_path / "out.nc", variables=["methane_mixing_ratio"],
                    time_range=(t0, t1))
    rows = result.windows[0]["window"][0]
    # delta_time is milliseconds after 2019-03-19T00:00Z, one value per scan line.
    delta = raw(path, "PRODUCT/delta_time").reshape(-1)
    lo = (t0 - datetime(2019, 3, 19, tzinfo=UTC)).total_seconds() * 1000
    hi = (t1 - datetime(2019, 3, 19, tzinfo=UTC)).total_seconds() * 1000
    inside = np.nonzero((delta >= lo) & (delta <= hi))[0]
    assert rows == [int(inside[0]), int(inside[-1]) + 1]


def test_a_scan_line_time_in_a_sibling_group_narrows_the_rows(small_swath: Path,
                                                            tmp_path: Path) -> None:
    # OBPG L2 layout: time in /scan_line_attributes, geolocation in /navigation_data.
    t0, t1 = datetime(2024, 3, 1, 10, 0, 10, tzinfo=UTC), datetime(2024, 3, 1, 10, 0, 20,
                                                                      tzinfo=UTC)
    result = subset(small_swath, parse_bbox("-180,-90,180,90"), tmp_path / "out.nc",
                    time_range=(t0, t1))
    times = raw(small_swath, "scan_line_attributes/time")
    inside = np.nonzero((times >= t0.timestamp()) & (times <= t1.timestamp()))[0]
    assert 0 < len(inside) < len(times)
    assert result.windows[0]["window"][0] == [int(inside[0]), int(inside[-1]) + 1]


def test_each_swath_of_a_multi_swath_file_gets_its_own_window(shared_swaths: Path,
                                                              tmp_path: Path) -> None:
    path = shared_swaths / "GPM_test_file.HDF5"
    region = parse_bbox("-120,-65,-60,-55")
    result = subset(path, region, tmp_path / "out.nc")
    for window in result.windows:
        lon, lat = lonlat(path, window["lat"], window["lon"])
        assert window["window"] == [[s.start, s.stop] for s in brute_window(
            region.contains(lon, lat))]
    with netCDF4.Dataset(tmp_path / "out.nc") as ds:
        assert ds["FS/SLV/precipWater"].shape[0] == ds["FS/Latitude"].shape[0]
        assert ds["HS/SLV/precipWater"].shape[1:] == (24, 88)


def test_a_1d_track_stored_0_to_360_is_cut_across_the_prime_meridian(
        shared_swaths: Path, tmp_path: Path) -> None:
    path = shared_swaths / "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc"
    region = parse_bbox("-10,55,10,66")
    result = subset(path, region, tmp_path / "out.nc")
    lon, lat = lonlat(path, "data_01/latitude", "data_01/longitude")
    assert result.n_selected == int(region.contains(lon, lat).sum()) > 0
    with netCDF4.Dataset(tmp_path / "out.nc") as ds:
        assert ds["data_01/ku"].variables  # nested group kept


DISK_FULL = """
import sys
from subset.kernel import subset
from subset.region import parse_bbox
subset(sys.argv[1], parse_bbox("30,0,70,30"), sys.argv[2])
"""


def test_a_full_disk_while_writing_leaves_no_partial_result(small_swath: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "out" / "subset.nc"
    out.parent.mkdir()
    proc = subprocess.run(["prlimit", "--fsize=200000", sys.executable, "-c", DISK_FULL,
                           str(small_swath), str(out)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert proc.returncode != 0
    assert "File too large" in proc.stderr or "HDF" in proc.stderr or "Errno" in proc.stderr
    assert list(out.parent.iterdir()) == []

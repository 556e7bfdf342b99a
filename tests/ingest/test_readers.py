"""Readers on tiny files built by code: sniffing, registry, formats, times, geolocation."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import shapely

from ingest.geoloc import choose_pairs, find_pairs, iter_variables, mask_and_scale
from ingest.readers import (
    NoGeolocationError,
    UnsupportedFormatError,
    read_metadata,
    reader_for,
    sniff,
)
from ingest.readers.gdal_reader import GDALReader
from ingest.timeparse import from_gps_seconds, from_tai93_seconds
from tests.fixtures.builders import (
    swath_grid,
    write_hdf5_beams,
    write_hdfeos5_track,
    write_netcdf3_swath,
    write_netcdf4_track,
)

T0 = datetime(2020, 5, 1, 12, 0, tzinfo=UTC)


def _ascat_like(path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    lon, lat = swath_grid(179.0, 10.0, 20.0)
    seconds = (T0 - datetime(1990, 1, 1, tzinfo=UTC)).total_seconds() + np.arange(
        lat.size, dtype="f8").reshape(lat.shape)
    seconds[0, :] = np.nan  # a row of time fill
    write_netcdf3_swath(path, lon, lat, seconds)
    return path, lon, lat


def test_a_netcdf3_swath_in_0_360_is_read_from_the_data(tmp_path: Path) -> None:
    path, lon, lat = _ascat_like(tmp_path / "swath.nc")
    assert type(reader_for(path)).__name__ == "NetCDF3Reader"
    meta = read_metadata(path)
    assert meta.format == "netcdf3" and meta.time_source == "data"
    assert meta.start_time == T0 + timedelta(seconds=lat.shape[1])
    assert meta.end_time == T0 + timedelta(seconds=lat.size - 1)
    assert meta.platform == "testsat-1" and meta.orbit == 1234  # STAC form of "TestSat-1"
    assert meta.orbit_direction == "ascending"
    assert len(meta.footprint.geoms) == 2  # crosses the antimeridian
    assert shapely.covers(meta.footprint, shapely.points(lon.ravel(), lat.ravel())).all()
    assert meta.geolocation["kind"] == "swath2d" and meta.geolocation["lat"] == "/lat"
    assert meta.variables["/lat"]["units"] == "degrees_north"
    assert type(meta).from_json(meta.to_json()).footprint.equals(meta.footprint)


def test_magic_bytes_win_over_the_extension(tmp_path: Path) -> None:
    path, _, _ = _ascat_like(tmp_path / "looks_like.h5")
    assert sniff(path) == "netcdf3"
    assert read_metadata(path).format == "netcdf3"


def test_a_gzipped_granule_is_unwrapped_and_keeps_its_own_path(tmp_path: Path) -> None:
    path, _, _ = _ascat_like(tmp_path / "swath.nc")
    wrapped = tmp_path / "swath.nc.gz"
    wrapped.write_bytes(gzip.compress(path.read_bytes()))
    meta = read_metadata(wrapped)
    assert meta.path == str(wrapped) and meta.format == "netcdf3" and meta.footprint is not None


def test_a_netcdf4_track_in_a_group_with_zstd_is_read(tmp_path: Path) -> None:
    lat = np.linspace(55.0, 66.0, 300)
    lon = np.linspace(350.0, 370.0, 300) % 360.0  # crosses the 0/360 seam
    secs = 670725657.0 + np.arange(300.0)
    path = write_netcdf4_track(tmp_path / "track.nc", lon, lat, secs, compression="zstd")
    meta = read_metadata(path)
    assert meta.format == "netcdf4" and meta.geolocation["kind"] == "track1d"
    assert meta.start_time == datetime(2021, 4, 3, 0, 40, 57, tzinfo=UTC)
    assert len(meta.footprint.geoms) == 1 and meta.footprint.bounds[0] < -9.0


def test_hdf5_behind_a_user_block_with_beams_uses_every_beam(tmp_path: Path) -> None:
    beams = {}
    for i, name in enumerate(("gt1l", "gt2l")):
        lat = np.linspace(69.0, 69.5, 50)
        lon = np.full(50, -51.0 + i * 0.5)
        beams[name] = (lon, lat, 36000000.0 + i * 10 + np.arange(50.0))
    path = write_hdf5_beams(tmp_path / "atl.h5", beams, userblock=512)
    with open(path, "rb") as fh:
        assert fh.read(8) != b"\x89HDF\r\n\x1a\n"
    assert sniff(path) == "hdf5"
    meta = read_metadata(path)
    assert meta.format == "hdf5" and len(meta.geolocation["pairs"]) == 2
    assert meta.start_time == datetime(2018, 1, 1, tzinfo=UTC) + timedelta(seconds=36000000)
    assert meta.end_time == datetime(2018, 1, 1, tzinfo=UTC) + timedelta(seconds=36000059)
    assert len(meta.footprint.geoms) == 2


def test_hdfeos5_units_and_tai93_time(tmp_path: Path) -> None:
    lat = np.linspace(-80.0, 80.0, 100)
    lon = np.linspace(-170.0, 170.0, 100)
    tai = 887241624.0 + np.arange(100.0) * 25
    tai[5] = -999.99
    path = write_hdfeos5_track(tmp_path / "mls.he5", lon, lat, tai)
    meta = read_metadata(path)
    assert meta.format == "hdfeos5"
    # 887241624 s after 1993-01-01 is 00:00:24 on the calendar; 10 leap seconds since.
    assert meta.start_time == datetime(2021, 2, 12, 0, 0, 14, tzinfo=UTC)
    assert meta.end_time == meta.start_time + timedelta(seconds=99 * 25)
    assert meta.geolocation["lat"].endswith("Geolocation Fields/Latitude")


def test_a_file_without_geolocation_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nogeo.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("x", 3)
        ds.createVariable("sst", "f4", ("x",))[:] = [1, 2, 3]
    with pytest.raises(NoGeolocationError) as info:
        read_metadata(path)
    assert info.value.reason == "no_geolocation" and "nogeo.nc" in str(info.value)


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.nc"
    path.write_text("not a granule")
    with pytest.raises(UnsupportedFormatError):
        read_metadata(path)


def write_attribute_timed_grid(path: Path, variables: dict[str, tuple[np.ndarray, str | None]]
                               ) -> None:
    """Write 2-D float variables (name -> values, units or None) timed only by the global
    time_coverage_start and _end attributes."""
    shape = next(iter(variables.values()))[0].shape
    with netCDF4.Dataset(path, "w") as ds:
        ds.time_coverage_start = "2020-01-02T03:04:05Z"
        ds.time_coverage_end = "2020-01-02T03:14:05Z"
        ds.createDimension("y", shape[0])
        ds.createDimension("x", shape[1])
        for name, (data, units) in variables.items():
            var = ds.createVariable(name, "f4", ("y", "x"))
            if units is not None:
                var.units = units
            var[:] = data


def test_time_falls_back_to_attributes_only_without_time_data(tmp_path: Path) -> None:
    path = tmp_path / "attrs.nc"
    lon, lat = swath_grid(10.0, 0.0, 5.0)
    write_attribute_timed_grid(path, {"lat": (lat, "degrees_north"), "lon": (lon, "degrees_east")})
    meta = read_metadata(path)
    assert meta.time_source == "attribute fallback"
    assert meta.start_time == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_the_gdal_reader_reads_lat_lon_subdatasets(tmp_path: Path) -> None:
    pytest.importorskip("osgeo.gdal")
    path = tmp_path / "gdal.nc"
    lon, lat = swath_grid(30.0, 40.0, 45.0)
    # No units: the GDAL reader finds the lat and lon subdatasets by their names.
    write_attribute_timed_grid(path, {"lat": (lat, None), "lon": (lon, None),
                                      "sst": (lat * 0, None)})
    reader = GDALReader()
    assert reader.can_open(path)
    meta = reader.read(path)
    assert meta.format == "gdal" and meta.footprint is not None
    assert shapely.covers(meta.footprint, shapely.points(lon.ravel(), lat.ravel())).all()


def test_mask_and_scale_uses_packed_valid_range_and_fill() -> None:
    raw = np.array([-2147483647, 0, 9000000, 9000001, 4500000], dtype="i4")
    attrs = {"_FillValue": np.int32(-2147483647), "scale_factor": 1e-5,
             "valid_min": np.int32(-9000000), "valid_max": np.int32(9000000)}
    out = mask_and_scale(raw, attrs)
    assert out.mask.tolist() == [True, False, False, True, False]
    assert out[4] == pytest.approx(45.0)


def test_the_finest_pair_of_a_group_is_chosen(tmp_path: Path) -> None:
    path = tmp_path / "two_rates.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", 10)
        ds.createDimension("meas", 20)
        for suffix, dims in (("", ("time",)), ("_20hz", ("time", "meas"))):
            for name, units in (("lat", "degrees_north"), ("lon", "degrees_east")):
                var = ds.createVariable(name + suffix, "f8", dims)
                var.units = units
                var[:] = 1.0
    with netCDF4.Dataset(path) as ds:
        chosen = choose_pairs(find_pairs(list(iter_variables(ds))))
    assert [p.lat.path for p in chosen] == ["/lat_20hz"]


def test_gps_and_tai93_seconds_drop_leap_seconds() -> None:
    assert from_gps_seconds(1297854080.0) == datetime(2021, 2, 20, 11, 1, 2, tzinfo=UTC)
    assert from_tai93_seconds(0.0) == datetime(1993, 1, 1, tzinfo=UTC)
    assert from_tai93_seconds(887241610.0) == datetime(2021, 2, 12, tzinfo=UTC)

"""Footprints come from the geolocation the science data use, not every lat/lon in the file.

Each pattern is a small file built by code (tests/fixtures/geoloc_files.py), written once
with h5py and once with netCDF4, and read by the ingest readers and the subset kernel.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import h5py
import netCDF4  # noqa: F401  (before h5py reads: HDF5 filter plugins)
import numpy as np
import pytest
import shapely

from ingest.geoloc import VarRef
from ingest.geoselect import AUXILIARY_ONLY, resolve, select_geolocation, words
from ingest.readers import read_metadata
from subset.errors import NoDataInRegion
from subset.kernel import subset
from subset.region import parse_bbox
from tests.fixtures.geoloc_files import (
    BEAMS,
    DATA_LAT,
    DATA_LON,
    GRANULE_LAT,
    broken_coordinates,
    coordinates_elsewhere,
    icesat2_subset,
    two_resolutions,
)

LIBS = ["h5py", "netcdf4"]
ATLAS_EPOCH = datetime(2018, 1, 1, tzinfo=UTC)


def _points(path: Path, *pairs: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (lon, lat) of the named pairs, read with h5py."""
    lons, lats = [], []
    with h5py.File(path) as fh:
        for lat, lon in pairs:
            lats.append(fh[lat][...].ravel())
            lons.append(fh[lon][...].ravel())
    return np.concatenate(lons), np.concatenate(lats)


def _covered(geom: shapely.Geometry, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return shapely.covers(geom, shapely.points(lon, lat))


def _beams(group: str = "sea_ice_segments") -> list[tuple[str, str]]:
    return [(f"/{b}/{group}/latitude", f"/{b}/{group}/longitude") for b in BEAMS]


@pytest.mark.parametrize("lib", LIBS)
def test_summary_geolocation_wider_than_the_data_stays_out_of_the_footprint(
        tmp_path: Path, lib: str) -> None:
    path = icesat2_subset(tmp_path / "ATL07_subset.h5", lib)
    meta = read_metadata(path)
    geo = meta.geolocation
    assert geo["rule"] == "science" and geo["warnings"] == []
    assert {p["lat"] for p in geo["pairs"]} == {lat for lat, _ in _beams()}
    aside = {p["lat"]: p["reason"] for p in geo["set_aside"]}
    assert set(aside) == {f"/quality_assessment/{b}/latitude" for b in BEAMS}
    assert all("quality_assessment" in why for why in aside.values())

    lon, lat = _points(path, *_beams())
    assert _covered(meta.footprint, lon, lat).all()
    _, south, _, north = meta.footprint.bounds
    assert north - south < 1.0, "the footprint spans the data's 0.6 degrees, not the granule's"
    qlon, qlat = _points(path, *[(f"/quality_assessment/{b}/latitude",
                                  f"/quality_assessment/{b}/longitude") for b in BEAMS])
    far = np.abs(qlat - np.mean(DATA_LAT)) > 0.5
    assert far.sum() > 100 and not _covered(meta.footprint, qlon[far], qlat[far]).any()
    # The summary's own times (the whole granule) do not widen the swath's time range.
    assert meta.start_time == ATLAS_EPOCH + timedelta(seconds=4.0e7 + 100)


@pytest.mark.parametrize("lib", LIBS)
def test_reference_points_of_the_whole_granule_are_set_aside(tmp_path: Path, lib: str) -> None:
    path = icesat2_subset(tmp_path / "ATL03_like.h5", lib, reference_points=True)
    meta = read_metadata(path)
    geo = meta.geolocation
    assert {p["lat"] for p in geo["pairs"]} == {lat for lat, _ in _beams()}
    reasons = {p["lat"]: p["reason"] for p in geo["set_aside"]}
    for beam in BEAMS:
        assert "reference" in reasons[f"/{beam}/geolocation/reference_photon_lat"]
    _, south, _, north = meta.footprint.bounds
    assert south > DATA_LAT[0] - 0.3 and north < DATA_LAT[1] + 0.3


@pytest.mark.parametrize("lib", LIBS)
def test_the_finest_of_two_resolutions_of_one_track_makes_the_footprint(
        tmp_path: Path, lib: str) -> None:
    path = two_resolutions(tmp_path / "CS_like.nc", lib)
    meta = read_metadata(path)
    geo = meta.geolocation
    assert [p["lat"] for p in geo["pairs"]] == ["/lat_20_ku"]
    assert geo["set_aside"][0]["lat"] == "/lat_01"
    assert "coarser than /lat_20_ku" in geo["set_aside"][0]["reason"]
    lon20, lat20 = _points(path, ("/lat_20_ku", "/lon_20_ku"))
    lon01, lat01 = _points(path, ("/lat_01", "/lon_01"))
    assert _covered(meta.footprint, lon20, lat20).all()
    outside = (lat01 < 73.8) | (lat01 > 75.2)
    assert outside.any() and not _covered(meta.footprint, lon01[outside], lat01[outside]).any()


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
@pytest.mark.parametrize("lib", LIBS)
def test_a_coordinates_attribute_naming_another_groups_geolocation_is_followed(
        tmp_path: Path, lib: str, absolute: bool) -> None:
    path = coordinates_elsewhere(tmp_path / "swath.nc", lib, absolute=absolute)
    meta = read_metadata(path)
    geo = meta.geolocation
    assert geo["rule"] == "science"
    assert [(p["lat"], p["lon"]) for p in geo["pairs"]] == [("/geolocation/lat",
                                                             "/geolocation/lon")]
    assert geo["set_aside"] == [{"lat": "/calibration/lat", "lon": "/calibration/lon",
                                 "shape": [60, 10], "kind": "swath2d",
                                 "reason": "used by no science variable"}]
    lon, lat = _points(path, ("/geolocation/lat", "/geolocation/lon"))
    assert _covered(meta.footprint, lon, lat).all()
    assert not meta.footprint.covers(shapely.Point(85.0, -35.0))  # a /calibration corner


@pytest.mark.parametrize("shared_dims", [True, False], ids=["dimension", "densest"])
@pytest.mark.parametrize("lib", LIBS)
def test_missing_or_contradictory_coordinates_fall_back_to_the_next_rule(
        tmp_path: Path, lib: str, shared_dims: bool) -> None:
    path = broken_coordinates(tmp_path / "track.nc", lib, shared_dims=shared_dims)
    meta = read_metadata(path)
    geo = meta.geolocation
    assert geo["rule"] == ("science" if shared_dims else "densest")
    assert [p["lat"] for p in geo["pairs"]] == ["/track/lat"]
    assert [p["lat"] for p in geo["set_aside"]] == ["/quality_assessment/lat"]
    notes = "\n".join(geo["notes"])
    assert "lat_20_ku, lon_20_ku: no such variable" in notes
    assert notes.count("cannot be its geolocation") == 2  # contradictory and mixed
    lon, lat = _points(path, ("/track/lat", "/track/lon"))
    assert _covered(meta.footprint, lon, lat).all()
    _, south, _, north = meta.footprint.bounds
    assert south > 29.5 and north < 31.5


@pytest.mark.parametrize("lib", LIBS)
def test_a_file_whose_only_geolocation_is_a_summary_group_keeps_it_with_a_warning(
        tmp_path: Path, lib: str) -> None:
    path = icesat2_subset(tmp_path / "ATL07_summary_only.h5", lib, summary_only=True)
    meta = read_metadata(path)
    geo = meta.geolocation
    assert geo["rule"] == "auxiliary" and not meta.is_empty
    assert len(geo["warnings"]) == 1 and geo["warnings"][0].startswith(AUXILIARY_ONLY)
    assert "/quality_assessment/gt1l/latitude" in geo["warnings"][0]
    lon, lat = _points(path, *[(f"/quality_assessment/{b}/latitude",
                                f"/quality_assessment/{b}/longitude") for b in BEAMS])
    assert _covered(meta.footprint, lon, lat).all()
    _, south, _, north = meta.footprint.bounds
    assert south < GRANULE_LAT[0] + 0.1 and north > GRANULE_LAT[1] - 0.1


def test_collection_hints_still_win_and_hints_naming_nothing_are_reported(
        tmp_path: Path) -> None:
    path = two_resolutions(tmp_path / "CS_like.nc", "netcdf4")
    hinted = read_metadata(path, {"lat": ["/lat_01"], "lon": ["/lon_01"]})
    assert hinted.geolocation["rule"] == "hints"
    assert [p["lat"] for p in hinted.geolocation["pairs"]] == ["/lat_01"]
    stale = read_metadata(path, {"lat": ["/latitude"], "lon": ["/longitude"]})
    assert [p["lat"] for p in stale.geolocation["pairs"]] == ["/lat_20_ku"]
    assert "hints name no variable" in stale.geolocation["warnings"][0]


def _var(path: str, shape: tuple[int, ...] = (3,), **attrs: object) -> VarRef:
    return VarRef(path, shape, "float64", dict(attrs), ("n",) * len(shape),
                  lambda: np.zeros(shape))


def test_cf_references_resolve_by_absolute_and_relative_paths_then_by_proximity() -> None:
    found = {v.path: v for v in (_var("/lat"), _var("/a/lat"), _var("/a/b/c/x"),
                                 _var("/a/geo/lon"))}
    assert resolve("/lat", "/a/b", found).path == "/lat"
    assert resolve("../geo/lon", "/a/b", found).path == "/a/geo/lon"
    assert resolve("./c/x", "/a/b", found).path == "/a/b/c/x"
    assert resolve("lat", "/a/b/c", found).path == "/a/lat"  # the nearest ancestor's
    assert resolve("lat", "/", found).path == "/lat"
    assert resolve("lon", "/a/b", found) is None  # not searched sideways
    assert resolve("../../../../lat", "/a", found).path == "/lat"
    assert resolve("nothing/here", "/a", found) is None


@pytest.mark.parametrize("name", ["quality_assessment", "residual_histogram", "ancillary_data",
                                  "orbit_info", "METADATA", "QA", "SwathStatistics"])
def test_auxiliary_group_names_are_recognised_by_their_words(name: str) -> None:
    sel = select_geolocation([_var(f"/{name}/lat", units="degrees_north"),
                              _var(f"/{name}/lon", units="degrees_east")])
    assert sel.rule == "auxiliary" and sel.warnings


@pytest.mark.parametrize("name", ["sea_ice_segments", "heights", "Geolocation Fields",
                                  "PRODUCT", "data_01", "FS", "navigation_data"])
def test_science_group_names_are_not_auxiliary(name: str) -> None:
    assert not words(name) & {"quality", "metadata", "orbit", "ancillary", "histogram"}
    sel = select_geolocation([_var(f"/{name}/lat", units="degrees_north"),
                              _var(f"/{name}/lon", units="degrees_east")])
    assert sel.rule == "densest" and not sel.warnings


@pytest.mark.parametrize("lib", LIBS)
def test_the_subset_kernel_finds_no_data_where_only_the_summary_reaches(
        tmp_path: Path, lib: str) -> None:
    path = icesat2_subset(tmp_path / "ATL07_subset.h5", lib)
    with pytest.raises(NoDataInRegion):
        subset(path, parse_bbox("-62,71.5,-58,72.6"), tmp_path / "north.nc")
    west, east = DATA_LON[0] - 0.1, DATA_LON[1] + 0.2
    result = subset(path, parse_bbox(f"{west},{DATA_LAT[0] - 0.1},{east},{DATA_LAT[1] + 0.1}"),
                    tmp_path / "data.nc")
    assert result.n_selected >= 150 + 170 + 190
    assert "/gt1l/sea_ice_segments/height_segment_height" in result.variables

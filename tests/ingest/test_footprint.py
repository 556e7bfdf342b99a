"""Footprints of synthetic swaths and tracks: antimeridian, poles, 0..360, fill rows."""

from __future__ import annotations

import warnings

import numpy as np
import shapely
from shapely.geometry import Point

from ingest import footprint as footprint_module
from ingest.footprint import (
    Gnomonic,
    _Grid,
    _near_pole,
    _row_nanmedians,
    _track_cuts,
    footprint,
    lonlat_to_xyz,
    ring_to_lonlat,
)
from tests.fixtures.builders import polar_swath, swath_grid


def _fp(lon: np.ndarray, lat: np.ndarray, kind: str = "swath2d", mask: np.ndarray | None = None):
    mask = np.zeros(np.shape(lat), bool) if mask is None else mask
    return footprint([(np.ma.MaskedArray(lon, mask), np.ma.MaskedArray(lat, mask), kind)])


def _covers_all(geom: shapely.Geometry, lon: np.ndarray, lat: np.ndarray) -> bool:
    lon = (np.asarray(lon) + 180.0) % 360.0 - 180.0
    return bool(shapely.covers(geom, shapely.points(lon.ravel(), np.ravel(lat))).all())


def test_a_swath_crossing_the_antimeridian_gives_two_polygons() -> None:
    lon, lat = swath_grid(179.0, -10.0, 10.0, width_deg=6.0)
    fp = _fp(lon, lat)
    assert fp.geometry is not None and len(fp.geometry.geoms) == 2
    assert fp.geometry.is_valid and _covers_all(fp.geometry, lon, lat)
    west, _, east, _ = fp.geometry.bounds
    assert west == -180.0 and east == 180.0
    assert all(p.bounds[2] - p.bounds[0] < 10 for p in fp.geometry.geoms)


def test_a_swath_over_the_north_pole_contains_the_pole() -> None:
    lon, lat = polar_swath(90.0)
    fp = _fp(lon, lat)
    assert fp.geometry is not None and fp.geometry.is_valid
    assert fp.geometry.covers(Point(0.0, 90.0)) and fp.geometry.covers(Point(123.0, 89.9))
    assert _covers_all(fp.geometry, lon, lat)
    assert not fp.geometry.covers(Point(90.0, 70.0))  # far off the track


def test_a_swath_over_the_south_pole_contains_the_pole() -> None:
    lon, lat = polar_swath(-90.0)
    fp = _fp(lon, lat)
    assert fp.geometry.covers(Point(-45.0, -90.0)) and _covers_all(fp.geometry, lon, lat)


def test_longitudes_in_0_360_across_the_seam_stay_one_narrow_polygon() -> None:
    lon, lat = swath_grid(0.0, 40.0, 50.0, width_deg=4.0)
    fp = _fp(lon % 360.0, lat)
    assert len(fp.geometry.geoms) == 1
    west, _, east, _ = fp.geometry.bounds
    assert -3.0 < west < -2.0 and 2.0 < east < 3.0
    assert _covers_all(fp.geometry, lon, lat)


def test_rows_of_fill_are_skipped_and_not_bridged() -> None:
    lon, lat = swath_grid(20.0, -30.0, 30.0, rows=60)
    mask = np.zeros(lat.shape, bool)
    mask[20:40] = True  # a 20-row hole: about 20 degrees of latitude without data
    lat_filled = np.where(mask, -9999.0, lat)
    fp = _fp(lon, lat_filled, mask=mask)
    assert fp.n_valid == (~mask).sum()
    assert len(fp.geometry.geoms) == 2
    assert not fp.geometry.covers(Point(20.0, 0.0))
    assert _covers_all(fp.geometry, lon[~mask], lat[~mask])


def test_fill_values_beyond_float32_in_masked_pixels_change_nothing_and_do_not_warn() -> None:
    lon, lat = swath_grid(20.0, -30.0, 30.0, rows=60)
    mask = np.zeros(lat.shape, bool)
    mask[20:40, 3:] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the float32 conversion must not overflow on fill
        huge = _fp(np.where(mask, 1e300, lon), np.where(mask, -1e300, lat), mask=mask)
    plain = _fp(lon, lat, mask=mask)
    assert huge.geometry.equals(plain.geometry)


def test_only_valid_pixels_count_as_near_a_pole() -> None:
    lat = np.zeros((3, 3), np.float32)
    lat[1, 1] = 89.0
    grid = _Grid(np.zeros((3, 3), np.float32), lat)
    valid = np.ones((3, 3), bool)
    assert _near_pole(grid.abs_z_max(valid), 0.0)
    valid[1, 1] = False  # an interior pixel, the only one near the pole
    assert not _near_pole(grid.abs_z_max(valid), 0.0)


def test_grid_vectors_are_computed_once_and_shared_by_its_blocks() -> None:
    lon, lat = (a.astype(np.float32) for a in swath_grid(20.0, -10.0, 10.0, rows=8, cols=6))
    grid = _Grid(lon, lat)
    assert np.array_equal(grid.xyz((slice(2, 5), slice(1, 3))), lonlat_to_xyz(lon, lat)[2:5, 1:3])
    every = grid.xyz()
    block = grid[2:5, 1:3]
    assert np.shares_memory(block.xyz(), every)


def test_a_large_unsplit_swath_converts_a_fraction_of_its_pixels(monkeypatch) -> None:
    converted = []
    real = footprint_module.lonlat_to_xyz
    monkeypatch.setattr(footprint_module, "lonlat_to_xyz",
                        lambda lon, lat: converted.append(np.size(lon)) or real(lon, lat))
    lon, lat = swath_grid(20.0, -2.0, 2.0, rows=1000, cols=2500, width_deg=8.0)
    fp = _fp(lon, lat)
    border = (slice(None), 0), (slice(None), -1), 0, -1  # first and last column and row
    assert all(_covers_all(fp.geometry, lon[b], lat[b]) for b in border)
    assert _covers_all(fp.geometry, lon[::25], lat[::25])  # covering all 2.5M points takes 5 s
    assert sum(converted) < 0.6 * lon.size


def test_a_projection_is_refused_when_any_point_is_far_from_the_sample_centre() -> None:
    sample = lonlat_to_xyz(np.array([-1.0, 1.0]), np.array([0.0, 0.0]))
    near = lonlat_to_xyz(np.array([-30.0, 30.0, 0.0]), np.array([0.0, 0.0, 30.0]))
    far = lonlat_to_xyz(np.array([-30.0, 50.0]), np.array([0.0, 0.0]))
    proj = Gnomonic.around(near, sample)
    assert proj is not None and np.allclose(proj.center, [1.0, 0.0, 0.0])
    assert Gnomonic.around(far, sample) is None


def test_a_granule_without_valid_pixels_has_no_footprint() -> None:
    lon, lat = swath_grid(0.0, 0.0, 1.0)
    fp = _fp(lon, lat, mask=np.ones(lat.shape, bool))
    assert fp.geometry is None and fp.n_valid == 0


def test_a_track_is_buffered_into_a_thin_strip_split_at_the_antimeridian() -> None:
    lat = np.linspace(-5.0, 5.0, 200)
    lon = np.linspace(178.0, 182.0, 200) % 360.0
    fp = _fp(lon, lat, kind="track1d")
    assert len(fp.geometry.geoms) == 2 and _covers_all(fp.geometry, lon, lat)
    assert 2.0 <= fp.margin_km <= 50.0
    length_deg = np.hypot(4.0, 10.0)
    assert fp.geometry.area < length_deg * 2 * fp.margin_km / 111.0 * 1.5


def test_a_ring_around_a_pole_is_closed_along_the_pole_latitude() -> None:
    lon = np.linspace(-180.0, 180.0, 73)
    lat = np.full_like(lon, 80.0)
    pieces = ring_to_lonlat(lon, lat)
    assert len(pieces) == 1
    assert pieces[0].bounds == (-180.0, 80.0, 180.0, 90.0)


def test_a_ring_within_180_to_360_is_shifted_back_whole() -> None:
    lon = np.array([190.0, 200.0, 200.0, 190.0, 190.0])
    lat = np.array([10.0, 10.0, 20.0, 20.0, 10.0])
    pieces = ring_to_lonlat(lon, lat)
    assert len(pieces) == 1
    assert pieces[0].bounds == (-170.0, 10.0, -160.0, 20.0)


def test_track_chunks_end_past_the_chunk_angle_and_restart_after_gaps() -> None:
    steps = np.radians([1.5] * 20 + [30.0] + [1.5] * 5)
    # Steps 1-7 make 10.5 degrees (past 10): the next chunk starts back at sample 6 (-7);
    # step 21 is a gap: the chunk after it starts at sample 21; 26 steps, 27 samples.
    assert _track_cuts(steps, gap=np.radians(5.0)) == [0, -7, -14, 21, 27]
    assert _track_cuts(np.zeros(0), gap=1.0) == [0, 1]


def test_pairs_with_the_same_points_are_outlined_once(monkeypatch) -> None:
    calls = []
    real = footprint_module.track_polygons
    monkeypatch.setattr(footprint_module, "track_polygons",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    lat = np.linspace(-5.0, 5.0, 50)
    lon = np.linspace(10.0, 12.0, 50)
    track = (np.ma.MaskedArray(lon), np.ma.MaskedArray(lat), "track1d")
    twice = footprint([track, track])
    assert len(calls) == 1
    assert twice.n_valid == 100 and twice.kinds == ("track1d", "track1d")
    assert twice.geometry.equals(footprint([track]).geometry)


def test_row_medians_ignore_nans_as_numpy_does() -> None:
    rng = np.random.default_rng(5)
    d = rng.random((40, 7)).astype(np.float32)
    d[rng.random(d.shape) < 0.4] = np.nan
    d[3] = np.nan  # a row without values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy warns on the all-NaN row
        expected = np.nanmedian(d, axis=1)
    assert np.array_equal(_row_nanmedians(d), expected, equal_nan=True)

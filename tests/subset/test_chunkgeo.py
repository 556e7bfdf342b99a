"""Per-chunk geolocation bounds (ingest.chunkgeo): every pixel inside its block's box,
antimeridian and poles, and the document read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from ingest.chunkgeo import chunk_geo_bounds, read_bounds
from ingest.geoloc import normalize_lon
from ingest.synth import write_swath
from tests.subset.conftest import rechunk

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "swaths"
SHARED = SHARED if SHARED.is_dir() else Path("/work/shared/data/swaths")


def _hdf5_granules() -> list[Path]:
    return sorted(p for p in SHARED.iterdir() if p.is_file() and h5py.is_hdf5(p))


@pytest.fixture(scope="module")
def shared_bounds() -> dict[str, dict[str, Any] | None]:
    """The bounds of every HDF5-based shared granule, built once."""
    out = {}
    for path in _hdf5_granules():
        with h5py.File(path, "r") as f:
            out[path.name] = chunk_geo_bounds(f)
    return out


@pytest.fixture(scope="module")
def polar_swath(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 minutes of a 100-pixel swath over the antimeridian and the North Pole, chunks
    of 64 x 25 pixels."""
    tmp = tmp_path_factory.mktemp("polar")
    write_swath(tmp / "plain.nc", seed=5, start="2024-01-01T00:00:00", duration_s=3000,
                n_pixels=100)
    rechunk(tmp / "plain.nc", tmp / "polar.nc", (64, 25))
    return tmp / "polar.nc"


def _decoded(path: Path, pairs: list[tuple[str, str]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (lon, lat) of each pair with invalid pixels as NaN, decoded as ingest does."""
    from ingest.chunkgeo import named_pairs
    from ingest.geoloc import read_lonlat

    out = []
    with h5py.File(path, "r") as f:
        for pair in named_pairs(f, pairs):
            lo, la = read_lonlat(pair)
            out.append((lo.filled(np.nan), la.filled(np.nan)))
    assert len(out) == len(pairs)
    return out


def _outside(box: list[float], lon: np.ndarray, lat: np.ndarray) -> int:
    """Return how many valid pixels lie outside a [w, s, e, n] box (w > e: across 180)."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = normalize_lon(lon[ok]), lat[ok]
    w, s, e, n = box
    in_lon = (lon >= w) & (lon <= e) if w <= e else (lon >= w) | (lon <= e)
    in_lon |= (lon == -180.0) & (e >= 180.0)
    return int((~(in_lon & (lat >= s) & (lat <= n))).sum())


def _check_every_pixel(path: Path, bounds: dict[str, Any]) -> int:
    """Assert each valid pixel is inside its block's box, each null block has none; return
    the number of blocks checked."""
    checked = 0
    pairs = list(read_bounds(bounds).values())
    for pair, (lon, lat) in zip(pairs, _decoded(path, [(p.lat, p.lon) for p in pairs]),
                                strict=True):
        lon, lat = lon.reshape(pair.shape), lat.reshape(pair.shape)
        for k, index in enumerate(np.ndindex(*pair.grid)):
            sel = tuple(slice(i * b, (i + 1) * b) for i, b in zip(index, pair.block, strict=True))
            box = pair.boxes[k]
            if np.isnan(box).any():
                assert not (np.isfinite(lon[sel]) & np.isfinite(lat[sel])).any(), (path, index)
            else:
                assert _outside(list(box), lon[sel], lat[sel]) == 0, (path.name, pair.lat, index)
            checked += 1
    return checked


@pytest.mark.parametrize("name", [p.name for p in _hdf5_granules()])
def test_every_valid_pixel_of_a_shared_granule_is_inside_its_blocks_box(
        name: str, shared_bounds: dict[str, dict[str, Any] | None]) -> None:
    bounds = shared_bounds[name]
    if bounds is None:  # only when the readers find no pair to bound either
        with h5py.File(SHARED / name, "r") as f:
            from ingest.geoloc import iter_variables
            from ingest.geoselect import select_geolocation

            pairs = select_geolocation(iter_variables(f)).ordered()
        assert all(p.kind == "grid" or p.size <= 1 for p in pairs), name
        return
    assert len(json.dumps(bounds)) < 8192  # small granules: a few boxes
    assert _check_every_pixel(SHARED / name, bounds) > 0


def test_blocks_across_the_antimeridian_are_short_arcs_and_the_pole_block_is_all_longitudes(
        polar_swath: Path) -> None:
    with h5py.File(polar_swath, "r") as f:
        bounds = chunk_geo_bounds(f)
    assert bounds is not None
    (pair,) = read_bounds(bounds).values()
    assert pair.block == (64, 25)
    boxes = pair.boxes[np.isfinite(pair.boxes).all(axis=1)]
    crossing = boxes[boxes[:, 0] > boxes[:, 2]]
    assert len(crossing) >= 5
    # Each is an arc across 180, neither the whole globe nor missing a side (checked
    # below); short away from the pole, where a block spans few degrees.
    arcs = 360.0 - crossing[:, 0] + crossing[:, 2]
    assert (arcs < 180.0).all() and (arcs[crossing[:, 3] < 75.0] < 15.0).all()
    polar = boxes[(boxes[:, 0] == -180.0) & (boxes[:, 2] == 180.0)]
    assert len(polar) >= 1 and (polar[:, 3] == 90.0).all()
    assert _check_every_pixel(polar_swath, bounds) == len(pair.boxes)
    # Given the pair's paths, the same bounds without choosing again.
    with h5py.File(polar_swath, "r") as f:
        named = chunk_geo_bounds(f, [(pair.lat, pair.lon)])
    assert named == bounds


def test_blocks_meeting_a_region_across_the_antimeridian_are_found(polar_swath: Path) -> None:
    from shapely.geometry import MultiPolygon, box

    with h5py.File(polar_swath, "r") as f:
        (pair,) = read_bounds(chunk_geo_bounds(f)).values()
    ((lon, lat),) = _decoded(polar_swath, [(pair.lat, pair.lon)])
    lon, lat = lon.reshape(pair.shape), lat.reshape(pair.shape)
    area = MultiPolygon([box(179.0, 60.0, 180.0, 80.0), box(-180.0, 60.0, -178.0, 80.0)])
    inside = (np.isfinite(lat) & (lat >= 60) & (lat <= 80)
              & ((normalize_lon(lon) >= 179) | (normalize_lon(lon) <= -178)))
    wanted = {tuple(int(v) for v in np.array(ij) // pair.block) for ij in zip(*np.nonzero(inside),
                                                                              strict=True)}
    met = set(pair.meeting(area))
    assert wanted and wanted <= met
    assert len(met) < len(pair.boxes) / 10


def test_a_malformed_document_is_refused_with_the_pair_named() -> None:
    doc = {"version": 1, "pairs": [{"lat": "/lat", "lon": "/lon", "shape": [10, 10],
                                    "block": [5, 5], "boxes": [[0, 0, 1, 1]]}]}
    with pytest.raises(ValueError, match="/lat"):
        read_bounds(doc)
    with pytest.raises(ValueError, match="version"):
        read_bounds({"version": 2, "pairs": []})
    assert read_bounds(None) == {}


# ---- the kernel with bounds: the same cut, fewer geolocation chunks read -----------------

STAMPED = {"history", "subset_created"}  # the kernel's wall-clock time


def _same_file(a: Path, b: Path) -> None:
    """Assert two subset files hold the same groups, variables, values and attributes."""
    import netCDF4

    def walk(x: Any, y: Any) -> None:
        assert set(x.groups) == set(y.groups), x.path
        assert set(x.variables) == set(y.variables), x.path
        assert {k: str(x.getncattr(k)) for k in x.ncattrs() if k not in STAMPED} == \
            {k: str(y.getncattr(k)) for k in y.ncattrs() if k not in STAMPED}, x.path
        for name, vx in x.variables.items():
            vy = y.variables[name]
            assert vx.dimensions == vy.dimensions and vx.shape == vy.shape, (x.path, name)
            dx, dy = vx[...], vy[...]
            assert np.array_equal(np.ma.getmaskarray(dx), np.ma.getmaskarray(dy)), name
            assert np.array_equal(np.ma.filled(dx, 0), np.ma.filled(dy, 0)), (x.path, name)
        for name in x.groups:
            walk(x.groups[name], y.groups[name])

    with netCDF4.Dataset(a) as x, netCDF4.Dataset(b) as y:
        walk(x, y)


def _cut_both(src: Path, region: Any, bounds: dict[str, Any] | None, tmp: Path,
              variables: list[str] | None = None) -> tuple[Any, Any]:
    """Cut ``src`` without and with ``bounds``; assert the same outcome; return both results
    (None, None when neither finds data)."""
    from subset.errors import NoDataInRegion
    from subset.kernel import subset

    out = []
    for k, geo in enumerate((None, bounds)):
        try:
            out.append(subset(src, region, tmp / f"cut-{k}.nc", geo_bounds=geo,
                              variables=variables))
        except NoDataInRegion:
            out.append(None)
    plain, bounded = out
    assert (plain is None) == (bounded is None)
    if plain is not None:
        assert plain.n_selected == bounded.n_selected and plain.bounds == bounded.bounds
        assert [w["window"] for w in plain.windows] == [w["window"] for w in bounded.windows]
        _same_file(tmp / "cut-0.nc", tmp / "cut-1.nc")
    return plain, bounded


def _region_near(path: Path, bounds: dict[str, Any]) -> Any:
    """A 3 x 2 degree box around a valid pixel 40 % along the first bounded pair."""
    from subset.region import bbox_region

    first = bounds["pairs"][0]
    ((lon, lat),) = _decoded(path, [(first["lat"], first["lon"])])
    ok = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
    k = ok[int(0.4 * (len(ok) - 1))]
    x, y = float(normalize_lon(lon.ravel()[k])), float(lat.ravel()[k])
    west, east = x - 1.5, x + 1.5
    west = west + 360 if west < -180 else west
    east = east - 360 if east > 180 else east
    return bbox_region(west, max(-90.0, y - 1.0), east, min(90.0, y + 1.0))


@pytest.mark.parametrize("name", [p.name for p in _hdf5_granules()])
def test_a_cut_of_a_shared_granule_is_the_same_with_its_bounds(
        name: str, shared_bounds: dict[str, dict[str, Any] | None], tmp_path: Path) -> None:
    bounds = shared_bounds[name]
    if bounds is None:
        return  # nothing to bound, so nothing to compare (why: the test above)
    # Every pair's window is found (the part bounds change); the data read is the window's
    # either way, so one variable with its geolocation keeps the test short (ATL07: 26 s
    # for all 500 variables twice).
    first = bounds["pairs"][0]["lat"]
    plain, bounded = _cut_both(SHARED / name, _region_near(SHARED / name, bounds), bounds,
                               tmp_path, variables=[first])
    assert plain is not None, name  # the region holds the pixel it was drawn around


def test_cuts_across_the_antimeridian_and_over_the_pole_are_the_same_with_bounds(
        polar_swath: Path, tmp_path: Path) -> None:
    from subset.region import bbox_region, parse_geometry

    with h5py.File(polar_swath, "r") as f:
        bounds = chunk_geo_bounds(f)
    regions = [bbox_region(170, 60, -170, 75),  # across 180
               bbox_region(-180, 86, 180, 90),  # the cap round the North Pole
               parse_geometry("POLYGON((-100 85, 0 89, 100 85, -100 85))"),
               bbox_region(-180, -90, 180, -80)]  # where the swath is not
    for k, region in enumerate(regions):
        (tmp_path / str(k)).mkdir()
        plain, bounded = _cut_both(polar_swath, region, bounds, tmp_path / str(k))
        if k < 3:
            assert plain is not None and plain.n_selected > 0, region.label
            (w_plain,), (w_bounded,) = plain.windows, bounded.windows
            assert w_bounded["chunks_read"] < w_plain["chunks_total"] / 4, region.label
        else:
            assert plain is None


def test_bounds_that_do_not_fit_the_file_are_not_used(polar_swath: Path, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    from subset.region import bbox_region

    with h5py.File(polar_swath, "r") as f:
        bounds = chunk_geo_bounds(f)
    assert bounds is not None
    wrong = json.loads(json.dumps(bounds))
    wrong["pairs"][0]["shape"][0] -= 64  # another granule's, one row of blocks shorter
    wrong["pairs"][0]["boxes"] = wrong["pairs"][0]["boxes"][:-4]
    plain, bounded = _cut_both(polar_swath, bbox_region(170, 60, -170, 75), wrong, tmp_path)
    assert "not used" in caplog.text
    assert bounded.windows[0]["chunks_read"] == plain.windows[0]["chunks_read"]

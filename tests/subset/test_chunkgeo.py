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
    from ingest.geoloc import GeoPair, iter_variables, pair_kind, read_lonlat

    out = []
    with h5py.File(path, "r") as f:
        refs = {r.path: r for r in iter_variables(f)}
        for lat_path, lon_path in pairs:
            lat, lon = refs[lat_path], refs[lon_path]
            kind = pair_kind(lat, lon)
            assert kind is not None
            lo, la = read_lonlat(GeoPair(lat, lon, kind))
            out.append((lo.filled(np.nan), la.filled(np.nan)))
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

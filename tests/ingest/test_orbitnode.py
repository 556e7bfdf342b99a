"""The equator crossing computed from a track that does not reach the equator
(ingest.orbitnode), checked against what real granules state about their orbit:
CryoSat-2's ascending node (equator_cross_long, 1e-6 degrees, and the seconds since it,
rel_time_acs_node_start), Sentinel-6's pass crossing (equator_longitude, equator_time)
and ICESat-2's node time (/orbit_info/crossing_time) and inclination (92 degrees)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import h5py
import netCDF4
import numpy as np
import pytest

from ingest.orbitnode import orbit_node
from ingest.readers import read_metadata


def _wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


def _first(value: object) -> float:
    return float(np.asarray(value).reshape(-1)[0])


def test_cryosats_arctic_arc_finds_the_ascending_node_it_states(shared_swaths: Path) -> None:
    with netCDF4.Dataset(shared_swaths / "CS_LTA__SIR_SAR_2__20191005T151255_20191005T151621_"
                         "E001.nc") as ds:
        lon, lat, t = ds["lon_01"][:], ds["lat_01"][:], ds["time_cor_01"][:]
        stated = _first(ds.getncattr("equator_cross_long")) * 1e-6
        since = _first(ds.getncattr("rel_time_acs_node_start"))
    assert lat.min() > 70  # far from the equator: 25 minutes of orbit to extrapolate
    node = orbit_node(lon, lat, t, "ascending")
    assert node is not None
    assert node.longitude == pytest.approx(stated, abs=0.02)
    assert -node.dt_s == pytest.approx(since, abs=2.0)
    assert node.inclination_deg == pytest.approx(92.0, abs=0.1)


def test_sentinel6s_arc_near_its_turn_finds_its_pass_crossing(shared_swaths: Path) -> None:
    with netCDF4.Dataset(shared_swaths / "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_"
                         "20210403T005056_F00.nc") as ds:
        g = ds["data_01"]
        lon, lat, t = g["longitude"][:], g["latitude"][:], g["time"][:]
        epoch = datetime.fromisoformat(g["time"].units.split("since")[1].strip())
        stated = _wrap(_first(ds.getncattr("equator_longitude")))
        when = datetime.fromisoformat(ds.getncattr("equator_time").rstrip("Z"))
    node = orbit_node(lon, lat, t, "ascending")
    assert node is not None
    assert node.longitude == pytest.approx(stated, abs=0.1)
    crossed = float(t[0]) + node.dt_s
    assert crossed == pytest.approx((when - epoch).total_seconds(), abs=5.0)


def test_icesat2s_sea_ice_track_finds_its_orbits_node_time(shared_swaths: Path) -> None:
    with h5py.File(shared_swaths / "processed_ATL07-01_20190222003738_08490201_003_02.h5") as f:
        stated = float(f["orbit_info/crossing_time"][0])
        beam = f["gt1l/sea_ice_segments"]
        lon, lat, t = (beam[k][()] for k in ("longitude", "latitude", "delta_time"))
    node = orbit_node(lon, lat, t, "ascending")
    assert node is not None
    assert t[0] + node.dt_s == pytest.approx(stated, abs=3.0)
    assert node.inclination_deg == pytest.approx(92.0, abs=0.1)


def test_no_node_from_a_point_a_stationary_track_or_a_wrong_direction_name() -> None:
    t = np.array([0.0, 1.0, 2.0])
    assert orbit_node(np.array([10.0, 10.0, 10.0]), np.array([50.0, 50.0, 50.0]), t,
                      "ascending") is None
    lon, lat = np.array([10.0, 10.1, 10.2]), np.array([50.0, 50.5, 51.0])
    assert orbit_node(lon, lat, t, "sideways") is None
    assert orbit_node(lon[:2], lat[:2], t[:2], "ascending") is None
    # a track that is not one great circle (a zigzag) is refused, not fitted
    zig_lat = np.array([50.0, 51.0, 50.0, 51.0, 50.0])
    assert orbit_node(np.linspace(10, 14, 5), zig_lat, np.arange(5.0) * 60,
                      "ascending") is None


def test_a_million_sample_track_is_fitted_from_a_few_thousand(shared_swaths: Path,
                                                              tmp_path: Path) -> None:
    """ATL07's track resampled to a photon-like density (ATL03 granules hold millions):
    ingest thins it before fitting and finds the same crossing."""
    with h5py.File(shared_swaths / "processed_ATL07-01_20190222003738_08490201_003_02.h5") as f:
        beam = f["gt1l/sea_ice_segments"]
        lon, lat, t = (beam[k][()] for k in ("longitude", "latitude", "delta_time"))
    expected = orbit_node(lon, lat, t, "descending")
    dense_t = np.linspace(t[0], t[-1], 1_000_000)
    path = tmp_path / "dense.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("gt1l/heights")
        for name, values, units in (("lat_ph", np.interp(dense_t, t, lat), "degrees_north"),
                                    ("lon_ph", np.interp(dense_t, t, lon), "degrees_east"),
                                    ("delta_time", dense_t, "seconds since 2018-01-01")):
            g.create_dataset(name, data=values).attrs["units"] = units
    meta = read_metadata(path)
    assert expected is not None and meta.orbit_direction == "descending"
    assert meta.equator_crossing_longitude == pytest.approx(expected.longitude, abs=0.01)

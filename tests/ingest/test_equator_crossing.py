"""The equator-crossing longitude ingest finds on a synthetic swath matches the orbit's own
node: a 2-D cross-track swath read along its middle, ascending and descending."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from ingest.orbit import REFERENCE_START, Orbit
from ingest.readers import read_metadata
from ingest.readers.build import equator_crossing
from ingest.synth import write_swath

SEED = 11


@pytest.mark.parametrize("node", ["ascending", "descending"])
def test_a_swath_over_a_node_crosses_where_the_orbit_does(tmp_path: Path, node: str) -> None:
    orbit = Orbit.from_seed(SEED)
    n = math.ceil(orbit.seconds(REFERENCE_START) / orbit.period_s) + 1
    t_node = (n + (0.5 if node == "descending" else 0.0)) * orbit.period_s
    lat, lon = orbit.subsatellite(np.array([t_node]))
    assert abs(lat[0]) < 1e-6
    start = orbit.epoch + timedelta(seconds=t_node - 150)
    write_swath(tmp_path / "g.nc", seed=SEED, start=start, duration_s=300, n_pixels=101,
                orbit=orbit, compression=None)
    meta = read_metadata(tmp_path / "g.nc")
    assert meta.orbit_direction == node
    assert meta.equator_crossing_longitude == pytest.approx(lon[0], abs=0.01)


def test_a_track_that_goes_both_ways_or_stays_north_has_no_crossing() -> None:
    up_down = np.ma.array([-1.0, 1.0, 2.0, 1.0, -1.0])
    lon = np.ma.array([10.0, 11.0, 12.0, 13.0, 14.0])
    assert equator_crossing(lon, up_down, "ascending") is None  # two crossings
    north = np.ma.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert equator_crossing(lon, north, "ascending") is None
    masked = np.ma.array([-1.0, 0.5, 1.0, 2.0, 3.0], mask=[0, 1, 0, 0, 0])
    assert equator_crossing(lon, masked, "ascending") == pytest.approx(11.0)

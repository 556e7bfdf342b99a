"""lon_bounds: the bin reduction gives exactly what sorting every longitude gives."""

from __future__ import annotations

import numpy as np
import pytest

from subset.kernel import lon_bounds


def _by_sorting(lon: np.ndarray) -> tuple[float, float]:
    """The definition: end points of the complement of the widest gap between sorted values."""
    lon = np.unique(lon)
    gaps = np.diff(np.concatenate([lon, [lon[0] + 360.0]]))
    k = int(np.argmax(gaps))
    return (float(lon[0]), float(lon[-1])) if k == lon.size - 1 else (float(lon[k + 1]),
                                                                       float(lon[k]))


def _case(kind: str, rng: np.random.Generator) -> np.ndarray:
    n = int(rng.integers(20_000, 200_000))
    if kind == "across-180":
        x = np.concatenate([rng.uniform(170, 180, n // 2), rng.uniform(-180, -170, n - n // 2)])
    elif kind == "whole-globe":  # no gap wider than a bin: the exact path
        x = rng.uniform(-180, 180, n)
    elif kind == "outliers":  # a few far pixels make a gap inside a dense band
        x = np.concatenate([rng.uniform(-40, -20, n), rng.uniform(-180, 180, 7)])
    elif kind == "on-the-grid":  # values exactly on bin edges
        x = np.round(rng.uniform(-60, 60, n), 1)
    else:
        x = rng.uniform(-180, 180) + rng.uniform(-150, 150, n)
    return np.where(x >= 180, x - 360, np.where(x < -180, x + 360, x))


@pytest.mark.parametrize("kind", ["across-180", "whole-globe", "outliers", "on-the-grid",
                                  "band"])
def test_large_inputs_give_the_sorted_answer(kind: str) -> None:
    rng = np.random.default_rng(sum(map(ord, kind)))
    for _ in range(20):
        lon = _case(kind, rng)
        assert lon_bounds(lon) == _by_sorting(lon)

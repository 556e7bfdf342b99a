"""The valid-data coverage of an open granule: its main variable's valid pixels per H3 cell.

No Django here; runs in the inspection child, on the variables and geolocation pairs the
reader already has (ingest.readers.build). The main variable is ingest.mainvar's (the
quicklook's rule) among the variables on the grid of a footprint pair: the variable's
dimensions, once length-1 ones are dropped, begin with the pair's. Dimensions past the
pair's (profile levels, range bins) make a point's valid share: the fraction of its
values that are valid (each point counts once). The same variable (same path below the pair's
group) on the other pairs counts too: every ICESat-2 beam, both GPM swaths.

Valid means finite, not _FillValue / missing_value and within valid_min / valid_max /
valid_range, as ingest.geoloc.mask_and_scale decides for geolocation. Past
ingest.coverage.MAX_POINTS geolocated points a regular stride samples the grid, and the
variable is read in row blocks of that stride: bounded time and memory for any size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.coverage import MAX_POINTS, Coverage, measure, sample_stride, whole_fraction
from ingest.geoloc import GeoPair, VarRef, mask_and_scale
from ingest.mainvar import is_data_variable, rank

BLOCK_BYTES = 32 << 20  # packed bytes of the main variable read at once


@dataclass
class Measured:
    """A coverage and what it was measured on, or why there is none."""

    coverage: Coverage | None
    info: dict[str, Any] = field(default_factory=dict)  # JSON-safe, for attrs.geolocation
    reason: str = ""  # why there is no coverage ('' when there is one)


def _core_keys(var: VarRef) -> tuple[str, ...]:
    """Dimension identities without length-1 dimensions (TROPOMI's leading time=1)."""
    keys = var.dim_keys if len(var.dim_keys) == len(var.shape) else var.dims
    return tuple(k for k, n in zip(keys, var.shape, strict=False) if n != 1)


def _grid_keys(pair: GeoPair) -> tuple[str, ...]:
    if pair.kind == "grid":
        return _core_keys(pair.lat) + _core_keys(pair.lon)
    return _core_keys(pair.lat)


def _on_grid(var: VarRef, pair: GeoPair) -> bool:
    grid = _grid_keys(pair)
    return bool(grid) and _core_keys(var)[:len(grid)] == grid


def _size(var: VarRef) -> int:
    return int(np.prod(var.shape)) if var.shape else 1


def main_variable(variables: Sequence[VarRef], pairs: Sequence[GeoPair]
                  ) -> tuple[VarRef, GeoPair] | None:
    """Return the main variable on one of the pairs' grids and that pair, or None."""
    found = []
    for order, var in enumerate(variables):
        standard = var.attr_str("standard_name")
        if not is_data_variable(var.name, np.dtype(var.dtype).kind if var.dtype != "str"
                                else "U", var.attrs, var.dims, standard):
            continue
        pair = next((p for p in pairs if _on_grid(var, p)), None)
        if pair is not None:
            found.append((rank(var.name, _size(var)), order, var, pair))
    if not found:
        return None
    _, _, var, pair = min(found, key=lambda item: item[:2])
    return var, pair


def _siblings(variables: Sequence[VarRef], main: VarRef, pair: GeoPair,
              pairs: Sequence[GeoPair]) -> list[tuple[VarRef, GeoPair]]:
    """The main variable on each pair that has it: same path below the pair's group."""
    base = pair.lat.group.rstrip("/")
    if not main.path.startswith(base + "/"):
        return [(main, pair)]
    tail = main.path[len(base):]
    by_path = {v.path: v for v in variables}
    out = []
    for other in pairs:
        var = main if other is pair else by_path.get(other.lat.group.rstrip("/") + tail)
        if var is not None and _on_grid(var, other):
            out.append((var, other))
    return out


def _index(var: VarRef, pair: GeoPair, rows: slice, rest: tuple[slice, ...]) -> tuple[Any, ...]:
    """Index of the variable for grid rows `rows` and the other grid axes `rest`."""
    grid = iter((rows, *rest))
    ngrid = len(_grid_keys(pair))
    key: list[Any] = []
    seen = 0
    for n in var.shape:
        if n == 1:
            key.append(0)
        elif seen < ngrid:
            key.append(next(grid))
            seen += 1
        else:
            key.append(slice(None))
    return tuple(key)


def valid_share(var: VarRef, pair: GeoPair, grid_shape: tuple[int, ...],
                cut: tuple[slice, ...]) -> np.ndarray:
    """Each sampled grid point's share of valid values of `var` (1 or 0 without extra axes)."""
    ngrid = len(grid_shape)
    step0 = cut[0].step or 1
    rows = range(0, grid_shape[0], step0)
    extra = max(1, _size(var) // max(1, math.prod(grid_shape)))
    row_bytes = max(1, math.prod(len(range(0, n, s.step or 1)) for n, s in
                                 zip(grid_shape[1:], cut[1:], strict=True)) * extra * 8)
    per_block = max(1, BLOCK_BYTES // row_bytes)
    parts = []
    for b in range(0, len(rows), per_block):
        first = rows[b]
        last = rows[min(len(rows), b + per_block) - 1]
        raw = var.raw_part(_index(var, pair, slice(first, last + 1, step0), cut[1:]))
        good = ~np.ma.getmaskarray(mask_and_scale(raw, var.attrs))
        good = good.reshape(good.shape[:ngrid] + (-1,))
        parts.append(good.mean(axis=-1))
    return np.concatenate(parts, axis=0)


def measure_granule(variables: Sequence[VarRef],
                    located: Sequence[tuple[GeoPair, np.ndarray, np.ndarray]]) -> Measured:
    """Return the coverage of the granule's main variable over its footprint pairs.

    ``located`` holds each footprint pair with its (lon, lat) arrays of the pair's core
    shape, invalid points NaN or masked. Never raises: a coverage is an extra, and a
    problem measuring it (an odd variable, memory) becomes the reason, not a failed ingest.
    """
    try:
        return _measure_granule(variables, located)
    # Untrusted files make the C libraries raise anything; the ingest goes on without.
    except (Exception, MemoryError) as e:  # noqa: BLE001
        return Measured(None, reason=f"coverage failed: {type(e).__name__}: {e}"[:300])


def _measure_granule(variables: Sequence[VarRef],
                     located: Sequence[tuple[GeoPair, np.ndarray, np.ndarray]]) -> Measured:
    pairs = [p for p, _, _ in located]
    if all(np.size(lon) == 0 for _, lon, _ in located):
        return Measured(None, reason="the granule has no geolocated pixel (empty)")
    chosen = main_variable(variables, pairs)
    if chosen is None:
        return Measured(None, reason="no data variable on the geolocation grid")
    main, pair = chosen
    arrays = {id(p): (lon, lat) for p, lon, lat in located}
    members = _siblings(variables, main, pair, pairs)
    points = sum(int(np.size(arrays[id(p)][0])) for _, p in members)
    lons, lats, shares = [], [], []
    for var, p in members:
        lon, lat = arrays[id(p)]
        lon = np.ma.filled(np.ma.asarray(lon, dtype=np.float64), np.nan)
        lat = np.ma.filled(np.ma.asarray(lat, dtype=np.float64), np.nan)
        if lon.size == 0:
            continue
        limit = max(1, int(MAX_POINTS * lon.size / max(points, 1)))
        cut = sample_stride(lon.shape, limit)
        lons.append(lon[cut].ravel())
        lats.append(lat[cut].ravel())
        shares.append(valid_share(var, p, lon.shape, cut).ravel())
    if not lons:
        return Measured(None, reason="the geolocation grid is empty")
    cov = measure(np.concatenate(lons), np.concatenate(lats), np.concatenate(shares),
                  max_points=None)
    info: dict[str, Any] = {"variable": main.path, "variables": [
        {"variable": v.path, "lat": p.lat.path, "lon": p.lon.path, "kind": p.kind}
        for v, p in members]}
    if cov is None:
        return Measured(None, info, "no pixel of the main variable has finite geolocation")
    sampled = sum(len(a) for a in lons)
    info.update(resolution=cov.resolution, cells=int(len(cov.cells)), points=points,
                sampled=sampled, valid_fraction=round(whole_fraction(cov) or 0.0, 6))
    return Measured(cov, info)


"""Synthetic swath rows for the API search benchmark: 1,000,000 MODIS-like footprints.

A sun-synchronous polar orbit (98.2 deg, 98.8 min), 5-minute granules over ten
years, each footprint a 2,330 km wide strip drawn as a 12-vertex ring, split at
the antimeridian and closed over the pole like the ingest footprints. Vectorised
with numpy; only rings that cross +-180 or a pole go through shapely one by one.
Used by benchmarks/api_search.py; not part of the test suite.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

EPOCH = datetime(2015, 1, 1, tzinfo=UTC)
YEARS = 10
PERIOD_S = 98.8 * 60
INCLINATION = math.radians(98.2)
EARTH_RATE = 2 * math.pi / 86164.0905
NODE_RATE = 2 * math.pi / (365.2422 * 86400)
HALF_WIDTH = 1165.0 / 6371.0088  # radians of arc each side of the track
GRANULE_S = 300.0
ALONG = 5  # points per edge


@dataclass(frozen=True)
class Batch:
    """One slice of the synthetic archive."""

    index: np.ndarray  # granule numbers
    start: list[datetime]
    orbit: np.ndarray
    ascending: np.ndarray
    footprints: np.ndarray  # shapely MultiPolygons


def _nadir(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Earth-fixed nadir unit vectors and along-track unit vectors at times t (s)."""
    u = 2 * math.pi * t / PERIOD_S
    node = (NODE_RATE - EARTH_RATE) * t
    ci, si = math.cos(INCLINATION), math.sin(INCLINATION)
    x_o, y_o = np.cos(u), np.sin(u)
    # position in the inertial orbit frame rotated into Earth-fixed by the node angle
    px, py, pz = x_o, y_o * ci, y_o * si
    vx, vy, vz = -np.sin(u), np.cos(u) * ci, np.cos(u) * si
    cn, sn = np.cos(node), np.sin(node)
    pos = np.stack([px * cn - py * sn, px * sn + py * cn, pz], axis=-1)
    vel = np.stack([vx * cn - vy * sn, vx * sn + vy * cn, vz], axis=-1)
    # Earth's rotation is folded into the node angle; the along vector is close enough.
    return pos, vel


def _lonlat(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.degrees(np.arctan2(xyz[..., 1], xyz[..., 0]))
    lat = np.degrees(np.arcsin(np.clip(xyz[..., 2], -1, 1)))
    return lon, lat


def _rings(t0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2*ALONG) lon/lat rings: the left edge forward, the right edge back."""
    offs = np.linspace(0, GRANULE_S, ALONG)
    t = t0[:, None] + offs[None, :]
    pos, vel = _nadir(t)
    right = np.cross(vel, pos)
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    c, s = math.cos(HALF_WIDTH), math.sin(HALF_WIDTH)
    left_edge = c * pos - s * right
    right_edge = c * pos + s * right
    ring = np.concatenate([left_edge, right_edge[:, ::-1]], axis=1)
    return _lonlat(ring)


def _split(lon: np.ndarray, lat: np.ndarray) -> MultiPolygon:
    """Slow path: unwrap, close over a pole if the ring winds round it, cut at +-180."""
    lonu = np.degrees(np.unwrap(np.radians(np.append(lon, lon[0]))))
    pts = list(zip(lonu.tolist(), np.append(lat, lat[0]).tolist(), strict=True))
    if abs(lonu[-1] - lonu[0]) > 180:  # the ring winds round a pole: close along it
        pole = 90.0 if float(np.mean(lat)) > 0 else -90.0
        pts += [(lonu[-1], pole), (lonu[0], pole)]
    poly = Polygon(pts)
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
    pieces = []
    for shift in (-720, -360, 0, 360, 720):
        part = poly.intersection(box(-180 - shift, -90, 180 - shift, 90))
        if part.is_empty:
            continue
        part = shapely.transform(part, lambda xy, s=shift: xy + [s, 0])
        for g in getattr(part, "geoms", [part]):
            if g.geom_type == "Polygon" and g.area > 0:
                pieces.append(g)
    return MultiPolygon(pieces)


def batches(n: int = 1_000_000, size: int = 50_000) -> Iterator[Batch]:
    """Yield the archive in batches, oldest first (deterministic: no randomness)."""
    for lo in range(0, n, size):
        yield batch(lo, min(lo + size, n), n)


def batch(lo: int, hi: int, n: int = 1_000_000) -> Batch:
    """Granules lo..hi-1 of an archive of `n` (what batches() yields, one slice alone)."""
    span = YEARS * 365.25 * 86400
    step = span / n
    idx = np.arange(lo, hi)
    t0 = idx * step
    lon, lat = _rings(t0)
    lon_wrapped = (lon + 180) % 360 - 180
    jumps = np.abs(np.diff(np.concatenate([lon_wrapped, lon_wrapped[:, :1]], 1), axis=1))
    simple = jumps.max(axis=1) < 180
    coords = np.stack([lon_wrapped, lat], axis=-1)
    closed = np.concatenate([coords, coords[:, :1]], axis=1)
    polys = shapely.polygons(closed)
    fps = np.empty(len(idx), dtype=object)
    fps[simple] = [MultiPolygon([p]) for p in polys[simple]]
    for i in np.nonzero(~simple)[0]:
        fps[i] = _split(lon_wrapped[i], lat[i])
    bad = ~shapely.is_valid(fps)
    for i in np.nonzero(bad)[0]:
        fixed = shapely.make_valid(fps[i])
        parts = shapely.get_parts(shapely.get_parts(fixed))
        fps[i] = MultiPolygon([g for g in parts if g.geom_type == "Polygon" and g.area > 0])
    u = (2 * math.pi * (t0 + GRANULE_S / 2) / PERIOD_S) % (2 * math.pi)
    return Batch(
        index=idx,
        start=[EPOCH + timedelta(seconds=float(s)) for s in t0],
        orbit=(t0 // PERIOD_S).astype(int) + 1,
        ascending=(u < math.pi / 2) | (u > 3 * math.pi / 2),
        footprints=fps,
    )

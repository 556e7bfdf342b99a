"""Regions to subset: bboxes and (multi)polygons on lon/lat, antimeridian- and pole-aware.

A region is kept as a shapely MultiPolygon with longitudes in [-180, 180], cut at the
antimeridian. Edges are straight in lon/lat, as GeoJSON (RFC 7946) and WKT mean them, so
a bbox is exactly a latitude band times a longitude interval. Pixel longitudes may be
stored in -180..180 or 0..360: they are wrapped before testing. No Django here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, box
from shapely.geometry.base import BaseGeometry

from eo import nesting
from eo.boxes import parse_box, world_pieces
from eo.geometry import parse_geometry as parse_area
from ingest.geoloc import normalize_lon
from subset.errors import RegionError

BOUNDARY_STEP_DEG = 0.05  # boundary sample spacing for distance lower bounds


@dataclass(frozen=True)
class Region:
    """A subset region. ``bbox`` is (W, S, E, N) when the region is a box (W > E crosses 180)."""

    geometry: MultiPolygon
    bbox: tuple[float, float, float, float] | None = None
    repairs: tuple[str, ...] = ()  # what eo.geometry repaired in the geometry given
    _boundary: np.ndarray = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    @property
    def label(self) -> str:
        """Return a short text for provenance: ``bbox=W,S,E,N`` or the WKT."""
        if self.bbox is not None:
            return "bbox=" + ",".join(f"{v:g}" for v in self.bbox)
        return self.geometry.wkt

    @property
    def wkt(self) -> str:
        """Return the region (split at the antimeridian) as WKT."""
        return self.geometry.wkt

    def contains(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Return a boolean array: which points (degrees, any lon convention) are inside.

        Boundaries count as inside, as for l2ss-py's inclusive bbox test. NaN is outside.
        """
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            finite = lon[np.isfinite(lon)]
            in_range = finite.size == 0 or (finite.min() >= -180.0 and finite.max() < 180.0)
            lonn = lon if in_range else normalize_lon(lon)
            if self.bbox is not None:
                return self._in_bbox(lonn, lat)
            out = np.zeros(lon.shape, dtype=bool)
            for part in self.geometry.geoms:
                w, s, e, n = part.bounds
                near = (lat >= s) & (lat <= n) & (
                    ((lonn >= w) & (lonn <= e)) | ((e >= 180.0) & (lonn == -180.0))
                )
                idx = np.nonzero(near & ~out)
                if idx[0].size:
                    x = lonn[idx]
                    x = np.where((x == -180.0) & (e >= 180.0), 180.0, x)
                    out[idx] = shapely.intersects_xy(part, x, lat[idx])
            return out

    def _in_bbox(self, lonn: np.ndarray, lat: np.ndarray) -> np.ndarray:
        w, s, e, n = self.bbox  # type: ignore[misc]
        w, e = _wrap(w), _wrap(e, east=True)
        in_lat = (lat >= s) & (lat <= n)
        if self.bbox[0] == -180.0 and self.bbox[2] == 180.0:  # type: ignore[index]
            return in_lat & np.isfinite(lonn)
        at_180 = lonn == -180.0  # 180 wraps to -180; it is also the east edge of an E=180 box
        if w <= e:
            in_lon = ((lonn >= w) & (lonn <= e)) | (at_180 & (e >= 180.0))
        else:
            in_lon = (lonn >= w) | (lonn <= e)
        return in_lat & in_lon

    def bounds(self) -> tuple[float, float, float, float]:
        """Return (W, S, E, N) of the region; W > E when it crosses the antimeridian."""
        if self.bbox is not None:
            return self.bbox
        w, s, e, n = self.geometry.bounds
        parts = list(self.geometry.geoms)
        west = [p for p in parts if p.bounds[2] >= 180.0]
        east = [p for p in parts if p.bounds[0] <= -180.0]
        if west and east and len(west) + len(east) == len(parts) and w <= -180 and e >= 180:
            return (min(p.bounds[0] for p in west), s, max(p.bounds[2] for p in east), n)
        return (w, s, e, n)

    def distance_lower_bound(self, xyz: np.ndarray) -> np.ndarray:
        """Return, for unit vectors (K, 3), an angle (radians) no larger than their distance.

        Points inside get 0. Outside, the nearest region point lies on the boundary, which
        is sampled every BOUNDARY_STEP_DEG; one step is subtracted to stay a lower bound.
        """
        xyz = np.atleast_2d(np.asarray(xyz, dtype=np.float64))
        lon = np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0]))
        lat = np.degrees(np.arcsin(np.clip(xyz[:, 2], -1.0, 1.0)))
        inside = self.contains(lon, lat)
        samples = self.boundary_xyz()
        dots = np.clip(xyz @ samples.T, -1.0, 1.0)
        nearest = np.arccos(dots.max(axis=1))
        bound = np.maximum(nearest - np.radians(self._step), 0.0)
        return np.where(inside, 0.0, bound)

    @property
    def _step(self) -> float:
        return max(BOUNDARY_STEP_DEG, _perimeter(self.geometry) / 50_000)

    def boundary_xyz(self) -> np.ndarray:
        """Return unit vectors of boundary samples (cached)."""
        if self._boundary is None:
            step = self._step
            pts: list[np.ndarray] = []
            for poly in self.geometry.geoms:
                for ring in [poly.exterior, *poly.interiors]:
                    coords = np.asarray(ring.coords)
                    for a, b in zip(coords[:-1], coords[1:], strict=True):
                        n = max(2, int(math.ceil(np.hypot(*(b - a)) / step)) + 1)
                        t = np.linspace(0.0, 1.0, n)[:, None]
                        pts.append(a + (b - a) * t)
            ll = np.concatenate(pts)
            lam, phi = np.radians(ll[:, 0]), np.radians(ll[:, 1])
            xyz = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], 1)
            object.__setattr__(self, "_boundary", xyz)
        return self._boundary


def _wrap(lon: float, east: bool = False) -> float:
    if east and lon == 180.0:
        return 180.0
    return float(normalize_lon(np.array([lon]))[0])


def _perimeter(geom: BaseGeometry) -> float:
    return float(sum(p.exterior.length + sum(r.length for r in p.interiors) for p in geom.geoms))


def parse_bbox(raw: object, name: str = "bbox") -> Region:
    """Return a Region for a box as eo.boxes reads it (W > E crosses the antimeridian),
    cut to the world. Raises InputError, or RegionError when no part of it is in the world.

    >>> parse_bbox("170,-10,-170,10").bounds()
    (170.0, -10.0, -170.0, 10.0)
    >>> len(parse_bbox([170, -10, -170, 10]).geometry.geoms)
    2
    """
    pieces = world_pieces(*parse_box(raw, name))
    if not pieces:
        raise RegionError(f"{name}={raw!s:.80} covers no part of the world "
                          "(lon -180..180, lat -90..90): there is nothing to cut")
    geom = MultiPolygon([box(*piece) for piece in pieces])
    west, south, _, north = pieces[0]
    return Region(geom, (float(west), float(south), float(pieces[-1][2]), float(north)))


def bbox_region(west: float, south: float, east: float, north: float) -> Region:
    """Return the Region of a box given as four numbers (see parse_bbox)."""
    return parse_bbox([west, south, east, north])


def parse_geometry(value: str | Mapping[str, Any] | BaseGeometry, name: str = "geometry") -> Region:
    """Return a Region from GeoJSON (text or mapping), WKT or shapely, read by eo.geometry.

    Raises InputError for a geometry eo.geometry refuses, RegionError for one with no area.
    """
    try:
        area = parse_area(value, name)
    except nesting.NestingError as e:
        raise RegionError(str(e)) from e
    polys = area.polygons()
    if not polys:
        raise RegionError(f"{name}: a {area.geometry.geom_type} has no area to cut: "
                          "give a Polygon or MultiPolygon")
    return Region(MultiPolygon(polys), repairs=tuple(area.repairs))

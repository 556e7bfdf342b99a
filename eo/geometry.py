"""Areas users draw (GeoJSON or WKT) and the one cut at the antimeridian, with shapely.

One rule for search, STAC and subsets: a geometry is a GeoJSON geometry object (a Feature
or FeatureCollection gives its geometries), WKT, or a shapely geometry. Positions are
[lon, lat] with an optional height, which is ignored as a 6-number box's heights are.
Latitudes lie in -90..90; longitudes in -360..360, where beyond +-180 the shape is taken
to continue across the antimeridian (as a web map panned past it draws) and is cut there
(``cut_at_antimeridian``). Rings have four positions and end where they start. A
self-intersecting polygon is repaired with MakeValid and the repair reported; a polygon
with no area is refused. Every message names the parameter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
import shapely.affinity
from shapely import wkt as shapely_wkt
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from eo import nesting
from eo.errors import InputError

MAX_VERTICES = 10_000
MAX_MEMBERS = 100  # geometries in one collection
# type -> nesting depth of its position arrays
DEPTHS = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2,
          "Polygon": 2, "MultiPolygon": 3}


@dataclass
class Area:
    """A checked area in lon/lat (-180..180, cut at the antimeridian) and its repairs."""

    geometry: BaseGeometry
    repairs: list[str] = field(default_factory=list)

    def polygons(self) -> list[Polygon]:
        """Return its polygons with area (points and lines dropped)."""
        return polygons(self.geometry)


def parse_geometry(value: object, name: str = "intersects",
                   max_vertices: int = MAX_VERTICES) -> Area:
    """Return the Area of GeoJSON (text or mapping), WKT or a shapely geometry.

    Raises InputError (or eo.nesting.NestingError for input nested too deeply).

    >>> area = parse_geometry("POLYGON ((170 -5, 190 -5, 190 5, 170 5, 170 -5))")
    >>> [p.bounds for p in area.polygons()]
    [(170.0, -5.0, 180.0, 5.0), (-180.0, -5.0, -170.0, 5.0)]
    """
    obj = _as_mapping(value, name, max_vertices)
    nesting.check_json_depth(obj, name)
    kind = obj.get("type")
    if kind == "Feature":
        inner = obj.get("geometry")
        if not isinstance(inner, Mapping):
            raise InputError(f"{name}: a Feature needs a geometry object")
        obj, kind = inner, inner.get("type")
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list) or not all(isinstance(f, Mapping) for f in features):
            raise InputError(f"{name}: a FeatureCollection's features must be an array")
        obj = {"type": "GeometryCollection", "geometries": [f.get("geometry") for f in features]}
        kind = "GeometryCollection"
    counter = [0]
    repairs: list[str] = []
    if kind == "GeometryCollection":
        members = obj.get("geometries")
        if not isinstance(members, list) or not members:
            raise InputError(f"{name}: a GeometryCollection needs a non-empty geometries array")
        if len(members) > MAX_MEMBERS:
            raise InputError(f"{name}: at most {MAX_MEMBERS} geometries in a collection")
        parts = []
        for member in members:
            if not isinstance(member, Mapping) or member.get("type") == "GeometryCollection":
                raise InputError(f"{name}: collection members must be simple geometries")
            parts.append(_single(member, name, max_vertices, counter, repairs))
        geom: BaseGeometry = GeometryCollection(parts)
    else:
        geom = _single(obj, name, max_vertices, counter, repairs)
    return Area(cut_at_antimeridian(geom), repairs)


def _as_mapping(value: object, name: str, max_vertices: int) -> Mapping[str, Any]:
    if isinstance(value, BaseGeometry):
        return _from_shapely(value, name)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = nesting.loads(text, name)
            except ValueError as e:
                raise InputError(f"{name} is not valid GeoJSON: {e}") from e
        else:
            return _from_shapely(_wkt(text, name, max_vertices), name)
    if not isinstance(value, Mapping):
        raise InputError(f"{name} must be a GeoJSON geometry object or WKT")
    return value


def _wkt(text: str, name: str, max_vertices: int) -> BaseGeometry:
    if len(text) > 40 * max_vertices:
        raise InputError(f"{name}: WKT too long; simplify the geometry")
    # Only WKT: no SRID prefix, no hex WKB.
    if not text[:1].isalpha() or text.upper().startswith("SRID"):
        raise InputError(f"{name}={text[:80]!r} is neither GeoJSON nor WKT "
                         "such as POLYGON((lon lat, ...))")
    nesting.check_wkt_depth(text, name)
    try:
        return shapely_wkt.loads(text)
    except (shapely.errors.ShapelyError, ValueError, TypeError) as e:
        raise InputError(f"{name}={text[:80]!r} is not valid WKT") from e


def _from_shapely(geom: BaseGeometry, name: str) -> Mapping[str, Any]:
    """The geometry as a GeoJSON mapping, for the checks every GeoJSON area gets."""
    if geom.is_empty:
        # WKT POINT (nan nan) reads as an empty point: neither has a position to check.
        raise InputError(f"{name}: the geometry is empty or its coordinates are not numbers")
    obj: Mapping[str, Any] = mapping(geom)
    return obj


def _single(obj: Mapping[str, Any], name: str, max_vertices: int, counter: list[int],
            repairs: list[str]) -> BaseGeometry:
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in DEPTHS:  # a list is unhashable
        raise InputError(f"{name}: type {kind!r:.40} is not one of {', '.join(DEPTHS)}")
    coords = _walk(obj.get("coordinates"), DEPTHS[kind], name, max_vertices, counter)
    for poly in [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []:
        if not poly:
            raise InputError(f"{name}: a polygon needs at least one ring")
        for ring in poly:
            if len(ring) < 4:
                raise InputError(f"{name}: a polygon ring needs at least 4 positions")
            if ring[0] != ring[-1]:
                raise InputError(f"{name}: a polygon ring must end where it starts "
                                 "(close the ring)")
    try:
        geom = shape({"type": kind, "coordinates": coords})
    except (ValueError, TypeError, IndexError, shapely.errors.ShapelyError) as e:
        raise InputError(f"{name}: not a usable geometry: {e}") from e
    if geom.is_empty:
        raise InputError(f"{name}: the geometry is empty")
    if kind in ("Polygon", "MultiPolygon"):
        if not geom.is_valid:
            reason = explain_validity(geom)
            fixed = GeometryCollection(polygons(repaired(geom)))
            if fixed.is_empty:  # a collinear "polygon" is invalid and repairs to nothing
                raise InputError(f"{name}: the polygon has no area")
            repairs.append(f"{name}: invalid polygon ({reason}) was repaired with MakeValid")
            geom = shapely.union_all(fixed.geoms)
        elif geom.area == 0:
            raise InputError(f"{name}: the polygon has no area")
    return geom


def _walk(coords: object, depth: int, name: str, max_vertices: int,
          counter: list[int]) -> Any:
    """Return nested coordinate arrays of the given depth as lists, heights dropped."""
    if depth == 0:
        counter[0] += 1
        if counter[0] > max_vertices:
            raise InputError(f"{name}: more than {max_vertices} vertices; simplify the geometry")
        return _position(coords, name)
    if not isinstance(coords, list | tuple):
        raise InputError(f"{name}: coordinates are not nested as the geometry type requires")
    return [_walk(c, depth - 1, name, max_vertices, counter) for c in coords]


def _position(pos: object, name: str) -> tuple[float, float]:
    if not isinstance(pos, list | tuple) or len(pos) not in (2, 3):
        raise InputError(f"{name}: a position must be [lon, lat] (or [lon, lat, height])")
    for label, v, limit in (("longitude", pos[0], 360), ("latitude", pos[1], 90)):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise InputError(f"{name}: {label} {v!r:.40} is not a number")
        # abs() first: math.isfinite() of an integer of 400 digits raises OverflowError.
        if abs(v) > limit or not math.isfinite(v):
            shown = f"{v:g}" if isinstance(v, float) else str(v)[:40]  # 95 from JSON or WKT
            raise InputError(f"{name}: {label} {shown} is outside -{limit}..{limit}")
    return float(pos[0]), float(pos[1])


def repaired(geom: BaseGeometry) -> BaseGeometry:
    """``geom`` repaired by GEOS's "structure" MakeValid (rings as shells and holes), parts
    that collapse to lines or points dropped.

    The default "linework" method is quadratic in the crossings: a sawtooth ring of
    8,192 vertices took 9 s to repair, uninterruptibly, inside a web request; this one
    takes 0.16 s.
    """
    return shapely.make_valid(geom, method="structure", keep_collapsed=False)


def polygons(geom: BaseGeometry) -> list[Polygon]:
    """Return the polygons with area inside any geometry (collections walked)."""
    if isinstance(geom, Polygon):
        return [geom] if geom.area > 0 else []
    # Only collections hold geometries (a LineString iterates over its coordinates).
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in polygons(g)]
    return []


def cut_at_antimeridian(geom: BaseGeometry) -> BaseGeometry:
    """Return ``geom`` cut into 360-degree windows, each piece shifted into -180..180.

    Longitudes beyond +-180 mean the shape continues across the antimeridian (an
    unwrapped ring); within -180..180 edges are taken literally, as GeoJSON says.

    >>> cut_at_antimeridian(box(170, 0, 190, 5)).geom_type
    'MultiPolygon'
    """
    west, _, east, _ = geom.bounds
    first, last = (int(math.floor((x + 180.0) / 360.0)) for x in (west, east))
    if last > first and east == -180.0 + 360.0 * last:
        last -= 1  # an east edge on +180 closes its window; it opens no new one
    if first == last:  # one window (most shapes): no cut, at most a shift
        return shapely.affinity.translate(geom, xoff=-360.0 * first) if first else geom
    pieces = []
    for k in range(first, last + 1):
        part = geom.intersection(box(-180.0 + 360.0 * k, -90.0, 180.0 + 360.0 * k, 90.0))
        if not part.is_empty:
            pieces.append(shapely.affinity.translate(part, xoff=-360.0 * k))
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return MultiPolygon([p for piece in pieces for p in polygons(piece)])
    return GeometryCollection(pieces)


def ring_to_lonlat(lon: np.ndarray, lat: np.ndarray) -> list[Polygon]:
    """Return lon/lat polygons in [-180, 180] for a closed, densified ring on the sphere.

    Longitudes are unwrapped along the ring; a ring whose unwrapped longitude turns by
    360 degrees encloses a pole and is closed along that pole's latitude; the result is
    cut at +-180 (cut_at_antimeridian).

    >>> len(ring_to_lonlat(np.array([175., -175, -175, 175, 175]), np.array([0., 0, 5, 5, 0])))
    2
    """
    steps = (np.diff(lon) + 180.0) % 360.0 - 180.0
    lon_u = np.concatenate([[lon[0]], lon[0] + np.cumsum(steps)])
    turn = lon_u[-1] - lon_u[0]
    coords = np.column_stack([lon_u, lat])  # an array: a list of tuples is slow in shapely
    if abs(turn) > 180.0:
        pole = 90.0 if np.mean(lat) > 0 else -90.0
        coords = np.vstack([coords, [(lon_u[-1], pole), (lon_u[0], pole)]])
    poly = shapely.make_valid(Polygon(coords)) if len(coords) >= 4 else Polygon()
    if poly.is_empty:
        return []
    return polygons(cut_at_antimeridian(poly))


def ring_lists(ring: Sequence[tuple[float, float]]) -> list[Polygon]:
    """Return ``ring_to_lonlat`` of a ring given as (lon, lat) pairs (closed here if open)."""
    arr = np.asarray(ring, dtype=np.float64)
    if (arr[0] != arr[-1]).any():
        arr = np.vstack([arr, arr[:1]])
    return ring_to_lonlat(arr[:, 0], arr[:, 1])

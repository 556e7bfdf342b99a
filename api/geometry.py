"""Query geometries from users (GeoJSON or WKT), checked before they reach the database.

Every position is checked for range and finiteness, the vertex count is capped
(settings.API_MAX_QUERY_VERTICES) before any geometry object is built, and an
invalid but repairable polygon (a bow-tie, a hole touching its shell) is repaired
with the repair reported back to the caller (RELIABILITY D5-D7).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GeometryCollection, GEOSException, GEOSGeometry

from api.exceptions import QueryError
from catalog.geometry import QueryGeometryError, as_multipolygon
from eo.nesting import check_wkt_depth

GEOMETRY_TYPES = {
    "Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2,
    "Polygon": 2, "MultiPolygon": 3,
}  # type -> nesting depth of its position arrays


@dataclass
class QueryGeometry:
    """A checked query area in SRID 4326, with any repairs made to it."""

    geom: GEOSGeometry
    repairs: list[str] = field(default_factory=list)


def _check_position(pos: object, where: str) -> None:
    if not isinstance(pos, list | tuple) or len(pos) < 2:
        raise QueryError(f"{where}: a position must be [lon, lat]")
    if len(pos) > 2:
        raise QueryError(f"{where}: 3-D positions are not supported; send [lon, lat]")
    lon, lat = pos
    for label, v, limit in (("longitude", lon, 180), ("latitude", lat, 90)):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise QueryError(f"{where}: {label} {v!r} is not a number")
        # abs() first: math.isfinite() of an integer of 400 digits raises OverflowError.
        if abs(v) > limit or not math.isfinite(v):
            raise QueryError(f"{where}: {label} {v} is outside -{limit}..{limit}")


def _walk(coords: object, depth: int, where: str, counter: list[int]) -> None:
    """Check nested coordinate arrays of the given depth; count positions."""
    if depth == 0:
        _check_position(coords, where)
        counter[0] += 1
        if counter[0] > settings.API_MAX_QUERY_VERTICES:
            raise QueryError(
                f"{where}: more than {settings.API_MAX_QUERY_VERTICES} vertices; "
                "simplify the geometry"
            )
        return
    if not isinstance(coords, list | tuple):
        raise QueryError(f"{where}: coordinates are not nested as the geometry type requires")
    for item in coords:
        _walk(item, depth - 1, where, counter)


def _check_rings(gtype: str, coords: Sequence, where: str) -> None:
    polygons = [coords] if gtype == "Polygon" else coords if gtype == "MultiPolygon" else []
    for poly in polygons:
        if not poly:
            raise QueryError(f"{where}: a polygon needs at least one ring")
        for ring in poly:
            if len(ring) < 4:
                raise QueryError(f"{where}: a polygon ring needs at least 4 positions")
            if list(ring[0]) != list(ring[-1]):
                raise QueryError(
                    f"{where}: a polygon ring must end where it starts (close the ring)"
                )


MAX_MEMBERS = 100  # geometries in one GeometryCollection


def parse_geojson(obj: object, where: str = "intersects") -> QueryGeometry:
    """Check a GeoJSON geometry object and return it as a search area."""
    if not isinstance(obj, dict):
        raise QueryError(f"{where} must be a GeoJSON geometry object")
    if obj.get("type") == "GeometryCollection":
        return _collection(obj, where)
    return _single(obj, where, [0])


def _collection(obj: dict, where: str) -> QueryGeometry:
    members = obj.get("geometries")
    if not isinstance(members, list) or not members:
        raise QueryError(f"{where}: a GeometryCollection needs a non-empty geometries array")
    if len(members) > MAX_MEMBERS:
        raise QueryError(f"{where}: at most {MAX_MEMBERS} geometries in a collection")
    counter = [0]
    parts, repairs = [], []
    for member in members:
        if not isinstance(member, dict) or member.get("type") == "GeometryCollection":
            raise QueryError(f"{where}: collection members must be simple geometries")
        checked = _single(member, where, counter)
        parts.append(checked.geom)
        repairs += checked.repairs
    return QueryGeometry(geom=GeometryCollection(*parts, srid=4326), repairs=repairs)


def _single(obj: dict, where: str, counter: list[int]) -> QueryGeometry:
    gtype = obj.get("type")
    if not isinstance(gtype, str) or gtype not in GEOMETRY_TYPES:  # a list is unhashable
        raise QueryError(
            f"{where}: type {gtype!r} is not one of {', '.join(GEOMETRY_TYPES)}"
        )
    coords = obj.get("coordinates")
    if not isinstance(coords, list | tuple):
        raise QueryError(f"{where}: coordinates must be an array")
    _walk(coords, GEOMETRY_TYPES[gtype], where, counter)
    _check_rings(gtype, coords, where)
    try:
        geom = GEOSGeometry(_geojson_text(gtype, coords), srid=4326)
    except (GEOSException, ValueError) as e:
        raise QueryError(f"{where}: not a usable geometry: {e}") from e
    return _finish(geom, where)


def parse_wkt(raw: str, where: str = "intersects") -> QueryGeometry:
    """Parse a WKT geometry (lon lat order), checked like GeoJSON."""
    if len(raw) > 40 * settings.API_MAX_QUERY_VERTICES:
        raise QueryError(f"{where}: WKT too long; simplify the geometry")
    text = raw.strip()
    # GEOSGeometry would also take JSON, WKB hex or SRID prefixes: allow WKT only.
    if not text[:1].isalpha() or text.upper().startswith("SRID"):
        raise QueryError(f"{where}={raw[:80]!r} is not WKT such as POLYGON((lon lat, ...))")
    check_wkt_depth(text, where)
    try:
        geom = GEOSGeometry(text, srid=4326)
    except (GEOSException, GDALException, ValueError, TypeError) as e:
        raise QueryError(f"{where}={raw[:80]!r} is not valid WKT") from e
    return parse_geojson(_to_geojson_obj(geom, where), where)


def _to_geojson_obj(geom: GEOSGeometry, where: str) -> dict:
    """The parsed WKT as a GeoJSON object, for the checks every GeoJSON area gets."""
    if geom.empty:
        # GEOS reads POINT(nan nan) as an empty point: neither has a position to check.
        raise QueryError(f"{where}: the geometry is empty or its coordinates are not numbers")
    if geom.hasz:
        raise QueryError(f"{where}: 3-D positions are not supported; send lon lat")
    if geom.geom_type not in GEOMETRY_TYPES:
        raise QueryError(f"{where}: type {geom.geom_type} is not supported")
    if geom.num_coords > settings.API_MAX_QUERY_VERTICES:
        raise QueryError(
            f"{where}: more than {settings.API_MAX_QUERY_VERTICES} vertices; simplify the geometry"
        )
    try:
        # GEOS nests .coords as GeoJSON nests "coordinates"; NaN stays a float here, for
        # _check_position to refuse by name (geom.json would give no text at all).
        coords = geom.coords  # type: ignore[attr-defined]  # every GEOMETRY_TYPES has it
    except (GEOSException, ValueError, TypeError) as e:
        raise QueryError(f"{where}: the geometry has an empty part") from e
    return {"type": geom.geom_type, "coordinates": coords}


def _geojson_text(gtype: str, coords: Sequence) -> str:
    import json

    return json.dumps({"type": gtype, "coordinates": coords})


def _finish(geom: GEOSGeometry, where: str) -> QueryGeometry:
    repairs: list[str] = []
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        if not geom.valid:
            reason = geom.valid_reason
            try:
                fixed = as_multipolygon(geom)
            except (QueryGeometryError, GEOSException) as e:
                raise QueryError(f"{where}: invalid polygon ({reason}) and not repairable") from e
            repairs.append(f"{where}: invalid polygon ({reason}) was repaired with MakeValid")
            geom = fixed
        elif geom.area == 0:
            raise QueryError(f"{where}: the polygon has no area")
    return QueryGeometry(geom=geom, repairs=repairs)

"""Query geometries on SRID 4326 that respect the antimeridian and the poles.

Footprints are stored split at +-180, so a query area must be split the same way
before planar predicates give the answers a sphere would.
"""

from __future__ import annotations

import math

import shapely
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon

from eo.boxes import world_pieces
from eo.geometry import polygons, repaired, ring_lists

EARTH_RADIUS_KM = 6371.0088


class QueryGeometryError(ValueError):
    """A query area that cannot be used: the message says why."""


def bbox_geometry(west: float, south: float, east: float, north: float) -> MultiPolygon:
    """Return a bbox as a MultiPolygon; west > east means it crosses the antimeridian.

    The box is the part of the world it covers (eo.boxes.world_pieces): a box wholly beyond
    +-180/+-90 is an empty MultiPolygon, which intersects nothing.

    >>> bbox_geometry(170, -10, -170, 10).num_geom
    2
    >>> bbox_geometry(-10, -5, 10, 5).extent
    (-10.0, -5.0, 10.0, 5.0)
    >>> bbox_geometry(181, 91, 182, 92).empty
    True
    """
    for name, value in (("west", west), ("east", east), ("south", south), ("north", north)):
        if not math.isfinite(value):
            raise QueryGeometryError(f"bbox {name}={value} is not a finite number")
    if south > north:
        raise QueryGeometryError(f"bbox south={south} is north of north={north}")
    return MultiPolygon(*(Polygon.from_bbox(piece) for piece in
                          world_pieces(west, south, east, north)), srid=4326)


def circle_geometry(lon: float, lat: float, radius_km: float, segments: int = 64) -> MultiPolygon:
    """Return a geodesic circle as a MultiPolygon split at the antimeridian.

    >>> g = circle_geometry(179.9, 0, 100)
    >>> g.num_geom
    2
    """
    if not (math.isfinite(lon) and abs(lon) <= 180 and math.isfinite(lat) and abs(lat) <= 90):
        raise QueryGeometryError(f"point ({lon}, {lat}) is outside the valid lon/lat range")
    if not math.isfinite(radius_km) or radius_km <= 0 or radius_km > 5000:
        raise QueryGeometryError(f"radius_km={radius_km} must be in (0, 5000]")
    d = radius_km / EARTH_RADIUS_KM
    phi1, lam1 = math.radians(lat), math.radians(lon)
    ring = []
    for i in range(segments):
        brg = 2 * math.pi * i / segments
        phi2 = math.asin(
            math.sin(phi1) * math.cos(d) + math.cos(phi1) * math.sin(d) * math.cos(brg)
        )
        lam2 = lam1 + math.atan2(
            math.sin(brg) * math.sin(d) * math.cos(phi1),
            math.cos(d) - math.sin(phi1) * math.sin(phi2),
        )
        ring.append((math.degrees(lam2), math.degrees(phi2)))
    # A circle around a pole becomes a cap bounded by the pole's latitude.
    cap_lat = math.degrees(phi1) + math.degrees(d) * (1 if lat > 0 else -1)
    if abs(cap_lat) >= 90:
        edge = min(abs(p[1]) for p in ring) * (1 if lat > 0 else -1)
        pole = 90.0 if lat > 0 else -90.0
        south, north = sorted((edge, pole))
        return bbox_geometry(-180, south, 180, north)
    return split_ring(ring)


def split_ring(ring: list[tuple[float, float]]) -> MultiPolygon:
    """Return a lon/lat ring (no pole inside) as a MultiPolygon cut at +-180 (eo.geometry).

    >>> split_ring([(175, 0), (-175, 0), (-175, 5), (175, 5), (175, 0)]).num_geom
    2
    """
    pieces = ring_lists(ring)
    return MultiPolygon(*(GEOSGeometry(memoryview(p.wkb), srid=4326) for p in pieces), srid=4326)


def as_multipolygon(geom: GEOSGeometry) -> MultiPolygon:
    """Return any areal geometry as a valid MultiPolygon in SRID 4326, or raise.

    An invalid one is repaired by eo's one rule (eo.geometry.repaired)."""
    if geom.srid not in (None, 4326):
        geom = geom.transform(4326, clone=True)
    shape = shapely.from_wkb(bytes(geom.wkb))
    polys = polygons(shape if shape.is_valid else repaired(shape))
    if not polys:
        raise QueryGeometryError(f"a {geom.geom_type} has no area to search")
    return MultiPolygon(*(GEOSGeometry(memoryview(p.wkb), srid=4326) for p in polys),
                        srid=4326)

"""Query geometries from users (GeoJSON or WKT) as GEOS search areas.

The rule is eo.geometry's (positions checked for range and finiteness, the vertex count
capped at settings.API_MAX_QUERY_VERTICES before any geometry is built, a self-
intersecting polygon repaired and the repair reported, the antimeridian cut); this
module only hands the result to GEOS (RELIABILITY D5-D7).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry

from eo import geometry


@dataclass
class QueryGeometry:
    """A checked query area in SRID 4326, with any repairs made to it."""

    geom: GEOSGeometry
    repairs: list[str] = field(default_factory=list)


def parse_geojson(obj: object, where: str = "intersects") -> QueryGeometry:
    """Check a GeoJSON geometry (or WKT text) and return it as a search area."""
    area = geometry.parse_geometry(obj, where, settings.API_MAX_QUERY_VERTICES)
    return QueryGeometry(GEOSGeometry(memoryview(area.geometry.wkb), srid=4326), area.repairs)


def parse_wkt(raw: str, where: str = "intersects") -> QueryGeometry:
    """Parse a WKT geometry (lon lat order), checked like GeoJSON."""
    return parse_geojson(raw, where)

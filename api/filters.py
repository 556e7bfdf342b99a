"""REST swath filters (/api/v1/swaths): every parameter allow-listed and checked.

Only the names in SWATH_PARAMS are read; each goes through a parser in api.params
or api.geometry, and the SwathSearch built here is the only thing that reaches
the catalog querysets. No request value ever becomes a lookup name (M5).
"""

from __future__ import annotations

from typing import Any

from api import paging
from api.exceptions import QueryError
from api.geometry import parse_geojson, parse_wkt
from api.params import clean_text, parse_float, parse_list, parse_orbit, parse_point, parse_token
from api.search import SwathSearch
from catalog.geometry import circle_geometry
from catalog.models import SwathState
from eo.boxes import parse_box
from eo.times import parse_interval

SWATH_PARAMS = {
    "bbox", "intersects", "point", "radius_km", "region", "datetime", "collection",
    "platform", "orbit", "state", "sortby", "limit", "next", "fields", "format",
}
BODY_PARAMS = SWATH_PARAMS - {"format"}
FEATURE_FIELDS = {
    "uuid", "collection", "granule_id", "version", "filename", "format", "platform",
    "constellation", "instrument", "processing_level", "orbit", "orbit_direction",
    "relative_orbit", "orbit_cycle", "pass_number", "start_time", "end_time", "is_empty",
    "size", "sha256", "state", "created_at", "verified_at",
}


def search_from_params(params: dict[str, Any], body: bool = False) -> SwathSearch:
    """Build a SwathSearch from REST query parameters (or a POST body)."""
    allowed = BODY_PARAMS if body else SWATH_PARAMS
    unknown = set(params) - allowed
    if unknown:
        raise QueryError(
            f"unknown parameter(s): {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    s = SwathSearch(limit=paging.parse_limit(params.get("limit")))
    areas = [k for k in ("bbox", "intersects", "point") if params.get(k) not in (None, "")]
    if len(areas) > 1:
        raise QueryError(f"use one of bbox, intersects, point; got {', '.join(areas)}")
    if params.get("bbox") not in (None, ""):
        s.bbox = parse_box(_text(params["bbox"], "bbox"))
    if params.get("intersects") not in (None, ""):
        raw = params["intersects"]
        s.area = parse_geojson(raw) if isinstance(raw, dict) else parse_wkt(
            _text(raw, "intersects"))
    if params.get("point") not in (None, ""):
        lon, lat = parse_point(_text(params["point"], "point"))
        radius = parse_float(_text(params.get("radius_km", "1"), "radius_km"), "radius_km")
        from api.geometry import QueryGeometry

        s.area = QueryGeometry(circle_geometry(lon, lat, radius))
    elif params.get("radius_km") not in (None, ""):
        raise QueryError("radius_km needs point=lon,lat")
    if params.get("region") not in (None, ""):
        s.region = _text(params["region"], "region")[:100]
    if params.get("datetime") not in (None, ""):
        s.start, s.end = parse_interval(_text(params["datetime"], "datetime"))
    if params.get("collection") not in (None, ""):
        s.collections = parse_list(params["collection"], "collection")
    if params.get("platform") not in (None, ""):
        s.platform = _text(params["platform"], "platform")[:100]
    if params.get("orbit") not in (None, ""):
        s.orbit = parse_orbit(_text(params["orbit"], "orbit"))
    states = parse_list(params.get("state") or SwathState.VERIFIED, "state", 10)
    for state in states:
        if state not in SwathState.values:
            raise QueryError(f"state={state!r} must be one of {', '.join(SwathState.values)}")
    s.states = states
    s.order = paging.parse_sortby(params.get("sortby"))
    s.token = parse_token(params.get("next"))
    return s


def parse_feature_fields(raw: object) -> set[str] | None:
    """'fields=uuid,start_time' keeps those properties (the geometry always stays)."""
    if raw in (None, ""):
        return None
    names = set(parse_list(raw, "fields", len(FEATURE_FIELDS)))  # type: ignore[arg-type]
    unknown = names - FEATURE_FIELDS
    if unknown:
        raise QueryError(
            f"fields: unknown {', '.join(sorted(unknown))}; use {', '.join(sorted(FEATURE_FIELDS))}"
        )
    return names


def _text(value: object, name: str) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise QueryError(f"{name} must be a string")
    return clean_text(str(value), name, 100_000)

"""OpenAPI descriptions of the STAC endpoints (drf-spectacular), kept out of the views."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from api.paging import MAX_LIMIT

ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
ERRORS = {400: OpenApiResponse(ERROR, description="bad parameter; the message says which"),
          404: OpenApiResponse(ERROR, description="no such collection or item")}
FEATURE_COLLECTION = {"type": "object", "properties": {
    "type": {"type": "string", "enum": ["FeatureCollection"]},
    "features": {"type": "array", "items": {"type": "object"}},
    "links": {"type": "array", "items": {"type": "object"}},
    "numberMatched": {"type": "integer"},
    "numberReturned": {"type": "integer"},
}}
GEOMETRY = {"type": "object", "required": ["type", "coordinates"], "properties": {
    "type": {"type": "string", "enum": ["Point", "MultiPoint", "LineString",
                                        "MultiLineString", "Polygon", "MultiPolygon"]},
    "coordinates": {"type": "array"}}}

P = OpenApiParameter
COMMON = [
    P("bbox", str, description="W,S,E,N in degrees; W>E crosses the antimeridian"),
    P("datetime", str, description="RFC 3339 instant or interval start/end; '..' is open; "
                                     "a date as an end covers its whole day"),
    P("limit", int, description=f"page size, 1..{MAX_LIMIT} (default 10)"),
    P("token", str, description="paging token from a next link"),
    P("sortby", str, description="e.g. -datetime,+id (datetime, end_datetime, "
                                 "sat:absolute_orbit, created, updated, id, file:size)"),
    P("fields", str, description="e.g. id,-geometry (STAC fields extension)"),
    P("filter", str, description="CQL2 filter (text by default on GET)"),
    P("filter-lang", str, enum=["cql2-text", "cql2-json"]),
    P("filter-crs", str, description="only CRS84"),
]
SEARCH_GET = COMMON + [
    P("intersects", str, description="GeoJSON geometry as JSON text"),
    P("ids", str, description="comma-separated item ids (at most 100)"),
    P("collections", str, description="comma-separated collection ids (at most 100)"),
]
SEARCH_BODY = {"type": "object", "additionalProperties": False, "properties": {
    "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6},
    "intersects": GEOMETRY,
    "datetime": {"type": "string"},
    "ids": {"type": "array", "items": {"type": "string"}, "maxItems": 100},
    "collections": {"type": "array", "items": {"type": "string"}, "maxItems": 100},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    "token": {"type": "string"},
    "sortby": {"type": "array", "items": {"type": "object", "properties": {
        "field": {"type": "string"}, "direction": {"type": "string", "enum": ["asc", "desc"]}}}},
    "fields": {"type": "object", "properties": {
        "include": {"type": "array", "items": {"type": "string"}},
        "exclude": {"type": "array", "items": {"type": "string"}}}},
    "filter": {"type": "object"},
    "filter-lang": {"type": "string", "enum": ["cql2-json", "cql2-text"]},
    "filter-crs": {"type": "string"},
}}

landing_schema = extend_schema(tags=["stac"], responses={200: OpenApiTypes.OBJECT})
collection_schema = extend_schema(tags=["stac"], responses={200: OpenApiTypes.OBJECT, **ERRORS})
items_schema = extend_schema(tags=["stac"], parameters=COMMON,
                             responses={200: FEATURE_COLLECTION, **ERRORS})
search_get_schema = extend_schema(tags=["stac"], parameters=SEARCH_GET,
                                  responses={200: FEATURE_COLLECTION, **ERRORS})
search_post_schema = extend_schema(tags=["stac"], request={"application/json": SEARCH_BODY},
                                   responses={200: FEATURE_COLLECTION, **ERRORS})
queryables_schema = extend_schema(tags=["stac"], responses={200: OpenApiTypes.OBJECT, **ERRORS})

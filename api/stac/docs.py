"""OpenAPI descriptions of the STAC endpoints (drf-spectacular); requests from api.stac.params."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema

from api.requests import query_parameters
from api.stac.params import ItemsQuery, SearchBody, SearchQuery

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
landing_schema = extend_schema(tags=["stac"], responses={200: OpenApiTypes.OBJECT})
collection_schema = extend_schema(tags=["stac"], responses={200: OpenApiTypes.OBJECT, **ERRORS})
items_schema = extend_schema(tags=["stac"], parameters=query_parameters(ItemsQuery),
                             responses={200: FEATURE_COLLECTION, **ERRORS})
search_get_schema = extend_schema(tags=["stac"], parameters=query_parameters(SearchQuery),
                                  responses={200: FEATURE_COLLECTION, **ERRORS})
search_post_schema = extend_schema(tags=["stac"], request={"application/json": SearchBody},
                                   responses={200: FEATURE_COLLECTION, **ERRORS})
queryables_schema = extend_schema(tags=["stac"], responses={200: OpenApiTypes.OBJECT, **ERRORS})

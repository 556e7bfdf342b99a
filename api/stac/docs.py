"""OpenAPI descriptions of the STAC endpoints (drf-spectacular); requests from api.stac.params."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema

from api.requests import query_parameters
from api.stac.aggparams import AggregateBody, AggregateQuery, CollectionAggregateQuery
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
AGGREGATION_COLLECTION = {"type": "object", "required": ["type", "aggregations"], "properties": {
    "type": {"type": "string", "enum": ["AggregationCollection"]},
    "aggregations": {"type": "array", "items": {
        "type": "object", "required": ["name", "data_type"], "properties": {
            "name": {"type": "string"},
            "data_type": {"type": "string"},
            "value": {"type": "integer"},
            "buckets": {"type": "array", "items": {"type": "object", "properties": {
                "key": {"type": "string"}, "data_type": {"type": "string"},
                "frequency": {"type": "integer"}}}},
            "overflow": {"type": "integer", "description": "matches in no bucket"},
            "interval": {"type": "string"},
            "precision": {"type": "integer"}}}},
    "links": {"type": "array", "items": {"type": "object"}},
}}
TOO_MANY = OpenApiResponse(ERROR, description="bad parameter (the message lists what is "
                           "allowed), or more rows to scan than STAC_AGGREGATE_MAX_ROWS")
aggregate_get_schema = extend_schema(
    tags=["stac"], parameters=query_parameters(AggregateQuery),
    responses={200: AGGREGATION_COLLECTION, 400: TOO_MANY, 404: ERRORS[404]})
collection_aggregate_get_schema = extend_schema(
    tags=["stac"], parameters=query_parameters(CollectionAggregateQuery),
    responses={200: AGGREGATION_COLLECTION, 400: TOO_MANY, 404: ERRORS[404]})
aggregate_post_schema = extend_schema(
    tags=["stac"], request={"application/json": AggregateBody},
    responses={200: AGGREGATION_COLLECTION, 400: TOO_MANY, 404: ERRORS[404]})
aggregations_schema = extend_schema(
    tags=["stac"], request=None, responses={200: AGGREGATION_COLLECTION, 404: ERRORS[404]})

"""STAC aggregation views: /stac/aggregate and /stac/aggregations (and per collection)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request

from api.exceptions import QueryError
from api.stac import aggregation
from api.stac.aggparams import AggregateBody, AggregateQuery, CollectionAggregateQuery
from api.stac.docs import (
    aggregate_get_schema,
    aggregate_post_schema,
    aggregations_schema,
    collection_aggregate_get_schema,
)
from api.stac.views import StacView, json_response
from catalog.models import Collection


def _known(collection_id: str | None) -> None:
    if collection_id is not None:
        Collection.objects.only("id").get(slug=collection_id)  # 404 when unknown


def _path(collection_id: str | None, leaf: str) -> str:
    return f"/stac/collections/{collection_id}/{leaf}" if collection_id else f"/stac/{leaf}"


class AggregateView(StacView):
    post_is_read = True

    def _answer(self, query: Any, collection_id: str | None) -> Any:
        """The counts a parsed request (AggregateQuery, AggregateBody...) asks for."""
        search = query.search(collection_id)
        body = {"type": "AggregationCollection",
                "aggregations": aggregation.aggregate(search, query.request()),
                "links": [{"rel": "self", "type": "application/json",
                           "href": self.url(_path(collection_id, "aggregate"))},
                          {"rel": "root", "type": "application/json",
                           "href": self.url("/stac/")}]}
        if search.repairs:
            body["swathstore:repairs"] = search.repairs
        return json_response(body)

    @extend_schema(operation_id="stac_aggregate_get")
    @aggregate_get_schema
    def get(self, request: Request, collection_id: str | None = None) -> Any:
        """Counts over the items a search with the same filters matches (GET)."""
        _known(collection_id)
        return self._answer(AggregateQuery.parse(request.query_params.dict()), collection_id)

    @extend_schema(operation_id="stac_aggregate_post")
    @aggregate_post_schema
    def post(self, request: Request, collection_id: str | None = None) -> Any:
        """Counts over the items a search with the same filters matches (POST, JSON body)."""
        _known(collection_id)
        return self._answer(AggregateBody.parse(request.data), collection_id)


class CollectionAggregateView(AggregateView):
    """/stac/collections/{id}/aggregate: the path names the collection."""

    @extend_schema(operation_id="stac_collection_aggregate_get")
    @collection_aggregate_get_schema
    def get(self, request: Request, collection_id: str | None = None) -> Any:
        """Counts over one collection's items that a search with the same filters matches."""
        _known(collection_id)
        query = CollectionAggregateQuery.parse(request.query_params.dict())
        return self._answer(query, collection_id)

    @extend_schema(operation_id="stac_collection_aggregate_post")
    @aggregate_post_schema
    def post(self, request: Request, collection_id: str | None = None) -> Any:
        """As GET, with the filters in a JSON body (`collections` is the path's)."""
        if isinstance(request.data, dict) and request.data.get("collections") not in (None, []):
            raise QueryError("collections: not a parameter here; the path names the "
                             f"collection ({collection_id})")
        return super().post(request, collection_id)


class AggregationsView(StacView):
    post_is_read = True

    def _listing(self, collection_id: str | None) -> Any:
        _known(collection_id)
        return json_response({
            "type": "AggregationCollection",
            "aggregations": aggregation.listing(),
            "links": [{"rel": "self", "type": "application/json",
                       "href": self.url(_path(collection_id, "aggregations"))},
                      {"rel": "root", "type": "application/json", "href": self.url("/stac/")},
                      {"rel": "aggregate", "type": "application/json", "method": "GET",
                       "href": self.url(_path(collection_id, "aggregate"))}],
        })

    @extend_schema(operation_id="stac_aggregations_get")
    @aggregations_schema
    def get(self, request: Request, collection_id: str | None = None) -> Any:
        """The aggregations /aggregate computes (the same for every collection)."""
        return self._listing(collection_id)

    @extend_schema(operation_id="stac_aggregations_post")
    @aggregations_schema
    def post(self, request: Request, collection_id: str | None = None) -> Any:
        """The same listing as GET; a body is not read."""
        return self._listing(collection_id)


class CollectionAggregationsView(AggregationsView):
    """/stac/collections/{id}/aggregations: the same listing (every collection has all)."""

    @extend_schema(operation_id="stac_collection_aggregations_get")
    @aggregations_schema
    def get(self, request: Request, collection_id: str | None = None) -> Any:
        """The aggregations /aggregate computes for this collection (all of them)."""
        return self._listing(collection_id)

    @extend_schema(operation_id="stac_collection_aggregations_post")
    @aggregations_schema
    def post(self, request: Request, collection_id: str | None = None) -> Any:
        """The same listing as GET; a body is not read."""
        return self._listing(collection_id)

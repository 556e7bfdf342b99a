"""STAC aggregation requests (GET query, POST body): item search's filters plus what to count.

The filter fields are item search's own (api.stac.params: SearchQuery, SearchBody, the
same checks, the same SwathSearch); what is added names the aggregations and their
interval and grid precision (api.stac.aggregation checks them). The paging and shaping
parameters of a search mean nothing to a count and are refused with a 400 naming them.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from pydantic import Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from api.exceptions import QueryError
from api.params import parse_list
from api.requests import RequestModel, rule
from api.stac import aggregation
from api.stac.params import EMPTY, ItemsQuery, Names, SearchBody, SearchQuery

NOT_FOR_AGGREGATES = ("limit", "token", "sortby", "fields")
_NAMES_DOC = f"comma-separated: {', '.join(aggregation.KINDS)} (default all)"
_INTERVAL_DOC = (f"{', '.join(aggregation.INTERVALS)} (default {aggregation.DEFAULT_INTERVAL})")
_PRECISION_DOC = (f"geohash length {aggregation.GEOHASH_PRECISIONS[0]} to "
                  f"{aggregation.GEOHASH_PRECISIONS[-1]} (default {aggregation.DEFAULT_PRECISION})")


class _Aggregate(RequestModel):
    """The aggregation parameters; a search's paging and shaping ones are refused."""

    datetime_frequency_interval: Annotated[str, rule(
        aggregation.parse_interval, str, EMPTY)] = Field(
        aggregation.DEFAULT_INTERVAL, description=_INTERVAL_DOC)
    centroid_geohash_grid_frequency_precision: Annotated[int, rule(
        aggregation.parse_precision, int | str, EMPTY)] = Field(
        aggregation.DEFAULT_PRECISION, description=_PRECISION_DOC)
    # Declared (and left out of the schema) so the validator below can name them.
    limit: SkipJsonSchema[Any] = None
    token: SkipJsonSchema[Any] = None
    sortby: SkipJsonSchema[Any] = None
    fields: SkipJsonSchema[Any] = None

    @classmethod
    def names(cls) -> list[str]:
        return [n for n in super().names() if n not in NOT_FOR_AGGREGATES]

    @model_validator(mode="before")
    @classmethod
    def _no_paging(cls, values: Any) -> Any:
        if isinstance(values, dict):
            sent = [n for n in NOT_FOR_AGGREGATES if values.get(n) not in (None, "")]
            if sent:
                raise QueryError(f"{', '.join(sent)}: not a parameter of an aggregation "
                                 "(it pages or shapes items; an aggregation returns counts)")
        return values

    def request(self) -> aggregation.Request:
        v = self.__dict__
        return aggregation.Request(names=aggregation.parse_names(v["aggregations"] or []),
                                   interval=v["datetime_frequency_interval"],
                                   precision=v["centroid_geohash_grid_frequency_precision"])


class AggregateQuery(_Aggregate, SearchQuery):
    """GET /stac/aggregate: item search's query filters, comma lists."""

    aggregations: Annotated[list[str] | None, rule(
        partial(parse_list, name="aggregations"), str, EMPTY)] = Field(
        None, description=_NAMES_DOC)


class CollectionAggregateQuery(_Aggregate, ItemsQuery):
    """GET /stac/collections/{id}/aggregate: the items query's filters (the path names
    the collection)."""

    aggregations: Annotated[list[str] | None, rule(
        partial(parse_list, name="aggregations"), str, EMPTY)] = Field(
        None, description=_NAMES_DOC)


class AggregateBody(_Aggregate, SearchBody):  # type: ignore[misc]
    """POST /stac/aggregate: item search's body filters, JSON arrays."""

    aggregations: Annotated[list[str] | None, rule(
        partial(parse_list, name="aggregations"), Names)] = Field(
        None, description=_NAMES_DOC.replace("comma-separated", "names"))


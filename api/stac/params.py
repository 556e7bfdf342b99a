"""STAC search requests (GET query, POST body): the models that check and document them.

SearchBody builds on stac-pydantic's Search (collections, ids, bbox, intersects,
datetime, limit) and adds the parts this API speaks: filter (CQL2), sortby, fields and
token. Each field's value is checked by the project's one rule for it (api.requests).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field, PrivateAttr, model_validator
from stac_pydantic.api.extensions.sort import SortExtension
from stac_pydantic.api.search import Intersection, Search
from stac_pydantic.shared import BBox

from api import paging
from api.cql2 import compile_filter, parse_text
from api.exceptions import QueryError
from api.geometry import QueryGeometry, parse_geojson
from api.params import MAX_LIST_ITEMS, parse_list, parse_token
from api.requests import RequestModel, rule
from api.search import FractionBounds, SwathSearch
from api.stac.fields import FieldSpec, parse_fields_get, parse_fields_post
from eo import nesting
from eo.boxes import Box, parse_box
from eo.times import parse_interval

CRS84 = {"http://www.opengis.net/def/crs/OGC/1.3/CRS84",
         "https://www.opengis.net/def/crs/OGC/1.3/CRS84"}
Interval = tuple[Any, Any]
Order = tuple[tuple[str, bool], ...]
Names = Annotated[list[str], Field(max_length=MAX_LIST_ITEMS)]
Lang = Literal["cql2-text", "cql2-json"]
EMPTY = (None, "")  # an empty query value means the default, as an absent one
Crs = Literal["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]


def _lang(value: Any) -> str:
    if value not in ("cql2-text", "cql2-json"):
        raise QueryError(f"filter-lang={value!r:.40} must be cql2-text or cql2-json")
    return str(value)


def _crs(value: Any) -> str:
    # Checked even without a filter: a client that sends a CRS or a language we do not
    # speak should hear so, not get every item unfiltered.
    if not isinstance(value, str) or value not in CRS84:
        raise QueryError("filter-crs must be CRS84 (lon/lat); other CRSs are not supported")
    return value


def _geojson_text(value: Any) -> QueryGeometry:
    try:
        geometry = nesting.loads(value, "intersects")
    except ValueError as e:
        raise QueryError("intersects must be a GeoJSON geometry (JSON)") from e
    return parse_geojson(geometry)


def _token(value: Any) -> str | None:
    if not isinstance(value, str):
        raise QueryError("token must be a string")
    return parse_token(value)


def _fields_post(value: Any) -> FieldSpec:
    if value is None:
        raise QueryError('fields must be an object such as {"include": [...], "exclude": [...]}')
    return parse_fields_post(value)


class _Search(RequestModel):
    """What GET and POST share: the filter, compiled once the language is known."""

    from_get: ClassVar[bool] = False
    _filter: tuple[Any, str, list[str], FractionBounds | None] | None = PrivateAttr(None)

    datetime: Annotated[Interval | None, rule(parse_interval, str, EMPTY)] = Field(
        None, description="RFC 3339 instant or interval start/end; '..' is open; a date "
                          "as an end covers its whole day")
    limit: Annotated[int, rule(partial(paging.parse_limit, default=10),
                               Annotated[int, Field(ge=1)], EMPTY)] = Field(
        10, description=f"page size (default 10); above {paging.MAX_LIMIT}, {paging.MAX_LIMIT}")
    token: Annotated[str | None, rule(_token, str, EMPTY)] = Field(
        None, description="paging token from a next link")
    filter_lang: Annotated[str | None, rule(_lang, Lang, EMPTY)] = Field(
        None, alias="filter-lang")
    filter_crs: Annotated[str | None, rule(_crs, Crs, EMPTY)] = Field(
        None, alias="filter-crs", description="only CRS84")

    # Replaces stac-pydantic's check of the same name, with a message naming both.
    @model_validator(mode="before")
    @classmethod
    def validate_spatial(cls, values: Any) -> Any:
        if isinstance(values, dict) and values.get("bbox") is not None \
                and values.get("intersects") is not None:
            raise QueryError("bbox and intersects cannot be used together; send one of them")
        return values

    @model_validator(mode="after")
    def _compile(self) -> Any:
        raw, lang = self.__dict__["filter"], self.__dict__["filter_lang"]
        if raw in (None, ""):
            return self
        lang = lang or ("cql2-text" if self.from_get else "cql2-json")
        if lang == "cql2-text":
            if not isinstance(raw, str):
                raise QueryError("filter with filter-lang=cql2-text must be a string")
            node = parse_text(raw)
        elif isinstance(raw, str):
            try:
                node = nesting.loads(raw, "filter")
            except ValueError as e:
                raise QueryError("filter is not valid CQL2-JSON (not JSON)") from e
        else:
            node = raw
        q, repairs, fraction = compile_filter(node)
        self._filter = (q, json.dumps(node, sort_keys=True, default=str), repairs, fraction)
        return self

    def search(self, collection: str | None = None) -> SwathSearch:
        """The checked search (`collection`: the one of an items path)."""
        v = self.__dict__
        s = SwathSearch(limit=v["limit"], bbox=v["bbox"], area=v["intersects"],
                        ids=v["ids"], collections=[collection] if collection else v.get(
                            "collections"), order=v["sortby"], token=v["token"])
        if v["datetime"]:
            s.start, s.end = v["datetime"]
        if self._filter:
            s.filter_q, s.filter_key, s.filter_repairs, s.valid_fraction = self._filter
        return s


class ItemsQuery(_Search):
    """GET /stac/collections/{id}/items: comma lists, JSON intersects, CQL2 text."""

    from_get = True

    bbox: Annotated[Box | None, rule(parse_box, str, EMPTY)] = Field(
        None, description="W,S,E,N in degrees; W>E crosses the antimeridian")
    intersects: Annotated[QueryGeometry | None, rule(_geojson_text, str, EMPTY)] = Field(
        None, description="GeoJSON geometry as JSON text")
    ids: Annotated[list[str] | None, rule(partial(parse_list, name="ids"), str, EMPTY)] = \
        Field(None, description=f"comma-separated item ids (at most {MAX_LIST_ITEMS})")
    sortby: Annotated[Order, rule(paging.parse_sortby, str, EMPTY)] = Field(
        paging.DEFAULT_SORT, description="e.g. -datetime,+id (datetime, end_datetime, "
                                         "sat:absolute_orbit, created, updated, id, file:size, "
                                         "swathstore:valid_fraction)")
    fields: Annotated[FieldSpec, rule(parse_fields_get, str)] = Field(
        FieldSpec(), description="e.g. id,-geometry (STAC fields extension)")
    filter: str | None = Field(None, description=(
        "CQL2 filter (text unless filter-lang). swathstore:valid_fraction >= X (0..1) keeps "
        "swaths with at least that fraction of valid pixels over bbox or intersects (the "
        "whole swath without one); only as a term of the top-level AND; items then carry "
        "it"))


class SearchQuery(ItemsQuery):
    """GET /stac/search: the items query over any collections."""

    collections: Annotated[list[str] | None, rule(
        partial(parse_list, name="collections"), str, EMPTY)] = Field(
        None, description=f"comma-separated collection ids (at most {MAX_LIST_ITEMS})")


class Sort(SortExtension):
    """A sort key: a sortable field, optionally written properties.<name>."""

    field: str = Field(json_schema_extra={"enum": sorted(
        [*paging.SORT_COLUMNS, *(f"properties.{k}" for k in paging.SORT_COLUMNS)])})


class Fields(BaseModel):
    """The fields extension: paths to include and to exclude."""

    include: list[str] | None = None
    exclude: list[str] | None = None


# _Search's datetime and limit (checked values, eo's rules) replace stac-pydantic's.
class SearchBody(_Search, Search):  # type: ignore[misc]
    """POST /stac/search: JSON arrays, a GeoJSON intersects, CQL2-JSON by default."""

    collections: Annotated[list[str] | None, rule(
        partial(parse_list, name="collections"), Names)] = None
    ids: Annotated[list[str] | None, rule(
        partial(parse_list, name="ids"), Names)] = None
    bbox: Annotated[Box | None, rule(
        partial(parse_box, text=False), BBox)] = Field(
        None, description="W,S,E,N (or W,S,zmin,E,N,zmax); W>E crosses the antimeridian")
    intersects: Annotated[QueryGeometry | None, rule(
        parse_geojson, Intersection)] = None  # type: ignore[assignment]
    sortby: Annotated[Order, rule(paging.parse_sortby, list[Sort])] = \
        paging.DEFAULT_SORT
    fields: Annotated[FieldSpec, rule(_fields_post, Fields, ())] = FieldSpec()
    filter: Annotated[Any, rule(lambda v: v, dict[str, Any] | str)] = Field(
        None, description="CQL2-JSON (or CQL2 text with filter-lang=cql2-text); "
                          "swathstore:valid_fraction (0..1, over bbox or intersects) only as "
                          "a term of the top-level AND")

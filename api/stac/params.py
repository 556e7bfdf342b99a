"""STAC search parameters (GET query or POST body) into a checked SwathSearch."""

from __future__ import annotations

import json
from typing import Any

from api import paging
from api.cql2 import compile_filter, parse_text
from api.exceptions import QueryError
from api.geometry import parse_geojson
from api.params import parse_list, parse_token
from api.search import SwathSearch
from api.stac.fields import FieldSpec, parse_fields_get, parse_fields_post
from eo import nesting
from eo.boxes import parse_box
from eo.times import parse_interval

GET_PARAMS = {"bbox", "intersects", "datetime", "ids", "collections", "limit", "token",
              "sortby", "fields", "filter", "filter-lang", "filter-crs"}
POST_PARAMS = GET_PARAMS
CRS84 = {"http://www.opengis.net/def/crs/OGC/1.3/CRS84",
         "https://www.opengis.net/def/crs/OGC/1.3/CRS84"}


def _check_keys(keys: set[str], allowed: set[str]) -> None:
    unknown = keys - allowed
    if unknown:
        raise QueryError(
            f"unknown parameter(s): {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def _filter(search: SwathSearch, raw: Any, lang: Any, crs: Any, from_get: bool) -> None:
    # filter-lang and filter-crs are checked even without a filter: a client that sends
    # a language we do not speak should hear so, not get every item unfiltered.
    if crs not in (None, "") and (not isinstance(crs, str) or crs not in CRS84):
        raise QueryError("filter-crs must be CRS84 (lon/lat); other CRSs are not supported")
    if lang not in (None, "", "cql2-text", "cql2-json"):
        raise QueryError(f"filter-lang={lang!r:.40} must be cql2-text or cql2-json")
    if raw in (None, ""):
        return
    if lang in (None, ""):
        lang = "cql2-text" if from_get else "cql2-json"
    if lang == "cql2-text":
        if not isinstance(raw, str):
            raise QueryError("filter with filter-lang=cql2-text must be a string")
        node = parse_text(raw)
    else:  # cql2-json
        if isinstance(raw, str):
            try:
                node = nesting.loads(raw, "filter")
            except ValueError as e:
                raise QueryError("filter is not valid CQL2-JSON (not JSON)") from e
        else:
            node = raw
    q, repairs = compile_filter(node)
    search.filter_q = q
    search.filter_key = json.dumps(node, sort_keys=True, default=str)
    search.filter_repairs = repairs


def search_from_get(params: dict[str, str], collection: str | None = None,
                    allowed: set[str] | None = None) -> tuple[SwathSearch, FieldSpec]:
    """Build a search from GET parameters (comma lists, JSON intersects)."""
    _check_keys(set(params), allowed or GET_PARAMS)
    s = SwathSearch(limit=paging.parse_limit(params.get("limit"), default=10))
    if "bbox" in params and "intersects" in params:
        raise QueryError("bbox and intersects cannot be used together; send one of them")
    if params.get("bbox"):
        s.bbox = parse_box(params["bbox"])
    if params.get("intersects"):
        try:
            geometry = nesting.loads(params["intersects"], "intersects")
        except ValueError as e:
            raise QueryError("intersects must be a GeoJSON geometry (JSON)") from e
        s.area = parse_geojson(geometry)
    if params.get("datetime"):
        s.start, s.end = parse_interval(params["datetime"])
    if params.get("ids"):
        s.ids = parse_list(params["ids"], "ids")
    if params.get("collections"):
        s.collections = parse_list(params["collections"], "collections")
    if collection is not None:
        s.collections = [collection]
    s.order = paging.parse_sortby(params.get("sortby"))
    s.token = parse_token(params.get("token"))
    _filter(s, params.get("filter"), params.get("filter-lang"), params.get("filter-crs"), True)
    return s, parse_fields_get(params.get("fields"))


def search_from_post(body: Any) -> tuple[SwathSearch, FieldSpec]:
    """Build a search from a POST body (JSON arrays, GeoJSON intersects, CQL2-JSON)."""
    if not isinstance(body, dict):
        raise QueryError("the search body must be a JSON object")
    _check_keys(set(body), POST_PARAMS)
    s = SwathSearch(limit=paging.parse_limit(body.get("limit"), default=10))
    if body.get("bbox") is not None and body.get("intersects") is not None:
        raise QueryError("bbox and intersects cannot be used together; send one of them")
    if body.get("bbox") is not None:
        s.bbox = parse_box(body["bbox"], text=False)
    if body.get("intersects") is not None:
        s.area = parse_geojson(body["intersects"])
    if body.get("datetime") not in (None, ""):
        s.start, s.end = parse_interval(body["datetime"])
    if body.get("ids") is not None:
        s.ids = parse_list(body["ids"], "ids")
    if body.get("collections") is not None:
        s.collections = parse_list(body["collections"], "collections")
    s.order = paging.parse_sortby(body.get("sortby"))
    token = body.get("token")
    if token is not None and not isinstance(token, str):
        raise QueryError("token must be a string")
    s.token = parse_token(token)
    _filter(s, body.get("filter"), body.get("filter-lang"), body.get("filter-crs"), False)
    if "fields" in body and body["fields"] is None:
        raise QueryError('fields must be an object such as {"include": [...], "exclude": [...]}')
    return s, parse_fields_post(body.get("fields"))

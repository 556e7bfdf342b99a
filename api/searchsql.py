"""Page 1 of a plain search as SQL text, without building querysets per request.

api.search builds a page's ids through filtered()'s querysets; constructing and
compiling them cost about 2-3 ms of Python a request, more than the bare SQL of the
benchmark's search. For the first page of a search whose conditions are plain
columns (bbox, datetime, collections, ids, platform, orbit, states) this module
writes the same WHERE clause directly as text and parameters. Anything else (an
intersects area, a region, a CQL2 filter, a later page's keyset, a base queryset)
keeps the querysets. tests/api/test_search_sql.py checks that both give the same
rows, counts and tokens.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from catalog.geometry import bbox_pieces
from eo.identify import platform_names


class SwathSearch(Protocol):
    """The conditions of a search read here (api.search.SwathSearch; no import, no cycle)."""

    @property
    def bbox(self) -> tuple[float, float, float, float] | None: ...
    @property
    def area(self) -> object | None: ...
    @property
    def start(self) -> datetime | None: ...
    @property
    def end(self) -> datetime | None: ...
    @property
    def collections(self) -> list[str] | None: ...
    @property
    def ids(self) -> list[str] | None: ...
    @property
    def platform(self) -> str | None: ...
    @property
    def orbit(self) -> tuple[int | None, int | None] | None: ...
    @property
    def region(self) -> str | None: ...
    @property
    def states(self) -> list[str]: ...
    @property
    def filter_q(self) -> object | None: ...
    @property
    def order(self) -> tuple[tuple[str, bool], ...]: ...
    @property
    def token(self) -> str | None: ...


# The earliest start_time of a swath overlapping [%s, ...): see api.search._earliest_start.
EARLIEST_START = ("(%s::timestamptz - (SELECT coalesce(max(end_time - start_time), interval '0')"
                  " FROM catalog_swath))")


def covers(search: SwathSearch) -> bool:
    """True when page_ids() can write this search's statement (page 1, plain conditions)."""
    return (search.token is None and search.area is None and search.region is None
            and search.filter_q is None
            # An empty list is proved empty by Django without a query; keep that path.
            and search.collections != [] and search.ids != [])


def order_sql(order: tuple[tuple[str, bool], ...], alias: str) -> str:
    """paging.order_by() as SQL over `alias`'s columns (names from paging.SORT_COLUMNS)."""
    terms = [f"{alias}.{col} DESC NULLS FIRST" if desc else f"{alias}.{col} ASC NULLS LAST"
             for col, desc in order]
    last_desc = order[-1][1] if order else True
    terms.append(f"{alias}.id DESC" if last_desc else f"{alias}.id ASC")
    return ", ".join(terms)


def bbox_sql(west: float, south: float, east: float, north: float, params: list[Any]) -> str:
    """catalog.geometry.bbox_geometry() as SQL: the same rectangles, split at +-180.

    PostgreSQL folds it into a constant while planning, so the GiST index is used as
    with the EWKB of bbox_geometry(), which cost a GEOS round of its own per request.
    The bbox was checked by api.params.
    """
    pieces = bbox_pieces(west, south, east, north)
    if not pieces:  # wholly outside the world
        return "NULL::geometry"
    for piece in pieces:
        params.extend(piece)
    envelopes = ", ".join(["ST_MakeEnvelope(%s, %s, %s, %s, 4326)"] * len(pieces))
    return f"ST_Collect(ARRAY[{envelopes}])"


def _in(column: str, values: list[Any], params: list[Any]) -> str:
    params.extend(values)
    return f"{column} IN ({', '.join(['%s'] * len(values))})"


def page_ids(search: SwathSearch, limit: int, uuids: list[str] | None) -> tuple[str, list[Any]]:
    """(SQL, params) selecting id and the sort columns of the first `limit` matches, sorted.

    The conditions are filtered()'s, in its words: `uuids` are search.ids as checked
    by api.search._uuids (None when the search has no ids). Only for covers(search).
    """
    params: list[Any] = []
    where = [_in("s.state", list(search.states), params)]
    joins = ""
    if search.bbox is not None:
        where.append(f"ST_Intersects(s.footprint, {bbox_sql(*search.bbox, params)})")
    if search.end is not None:
        where.append("s.start_time <= %s")
        params.append(search.end)
    if search.start is not None:
        where.append("s.end_time >= %s")
        where.append(f"s.start_time >= {EARLIEST_START}")
        params += [search.start, search.start]
    if search.collections is not None:
        joins = " INNER JOIN catalog_collection sc ON sc.id = s.collection_id"
        where.append(_in("sc.slug", search.collections, params))
    if uuids is not None:
        where.append(_in("s.uuid", uuids, params) if uuids else "false")
    if search.platform is not None:
        # api.search.platform_q: Django's iexact on PostgreSQL, for each name.
        names = platform_names(search.platform)
        where.append("(" + " OR ".join(["UPPER(s.platform::text) = UPPER(%s)"] * len(names))
                     + ")")
        params.extend(names)
    if search.orbit is not None:
        lo, hi = search.orbit
        if lo is not None:
            where.append("s.orbit >= %s")
            params.append(lo)
        if hi is not None:
            where.append("s.orbit <= %s")
            params.append(hi)
    cols = ", ".join(f"s.{c}" for c in ["id", *(col for col, _ in search.order)])
    sql = (f"SELECT {cols} FROM catalog_swath s{joins} WHERE {' AND '.join(where)} "
           f"ORDER BY {order_sql(search.order, 's')} LIMIT {int(limit)}")
    return sql, params

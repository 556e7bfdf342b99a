"""STAC API Aggregation extension: counts over the swaths an item search would match.

The matches are api.search.filtered()'s queryset for the request's SwathSearch, the
one /stac/search pages through, so the same request counts the same swaths. Each
requested aggregation is a GROUP BY over one statement's materialised matches (only
the columns the aggregations read), so the filter is evaluated once whatever is asked.
Counts are exact. Before that statement runs, the rows it would read are compared with
settings.STAC_AGGREGATE_MAX_ROWS: the planner's estimate on PostgreSQL (EXPLAIN), a
count capped just above the limit on SpatiaLite, which has no row estimate; over the
limit is a 400 naming both numbers, never a statement timeout.

Which value of a swath each aggregation counts:
- datetime_frequency: its start time (STAC `datetime`), in UTC day, month or year;
- collection_frequency, platform_frequency: its collection id and platform as stored;
- orbit_state_frequency: its orbit direction lowercased (STAC `sat:orbit_state`);
- centroid_geohash_grid_frequency: the geohash of its footprint's centroid (ST_Centroid
  / SpatiaLite Centroid, planar in lon/lat). A footprint split at the antimeridian
  has its centroid between its parts, on the map's far side from the swath.
A swath without the value (no start time, platform, direction or footprint) is in no
bucket; `overflow` says how many.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models.expressions import RawSQL

from api.exceptions import QueryError
from api.search import SwathSearch, filtered, planner_estimate, statement_limit
from catalog.models import Collection

INTERVALS = ("day", "month", "year")
DEFAULT_INTERVAL = "month"
GEOHASH_PRECISIONS = range(1, 9)  # 1: 5,000 km cells .. 8: 38 m; more only multiplies buckets
DEFAULT_PRECISION = 1


@dataclass(frozen=True)
class Kind:
    """An aggregation this API computes."""

    name: str
    data_type: str
    bucket_type: str | None  # None: a single value (total_count)
    description: str


KINDS = {k.name: k for k in (
    Kind("total_count", "integer", None, "the number of matching items"),
    Kind("datetime_frequency", "frequency_distribution", "datetime",
         "items per UTC day, month or year of their datetime "
         "(datetime_frequency_interval, default month)"),
    Kind("collection_frequency", "frequency_distribution", "string", "items per collection"),
    Kind("platform_frequency", "frequency_distribution", "string", "items per platform"),
    Kind("orbit_state_frequency", "frequency_distribution", "string",
         "items per sat:orbit_state"),
    Kind("centroid_geohash_grid_frequency", "frequency_distribution", "string",
         "items per geohash cell of their footprint's centroid "
         "(centroid_geohash_grid_frequency_precision, "
         f"{GEOHASH_PRECISIONS[0]}..{GEOHASH_PRECISIONS[-1]}, default {DEFAULT_PRECISION})"),
)}


# The one place the two databases differ: each bucket key as SQL text over
# catalog_swath's columns ({p}: the geohash precision, a checked int).
KEY_SQL = {
    "postgresql": {
        "day": "to_char(catalog_swath.start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        "month": "to_char(catalog_swath.start_time AT TIME ZONE 'UTC', 'YYYY-MM')",
        "year": "to_char(catalog_swath.start_time AT TIME ZONE 'UTC', 'YYYY')",
        "centroid_geohash_grid_frequency":
            "ST_GeoHash(ST_Centroid(catalog_swath.footprint), {p})",
    },
    # Django keeps SQLite datetimes as UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
    "sqlite": {
        "day": "strftime('%Y-%m-%d', catalog_swath.start_time)",
        "month": "strftime('%Y-%m', catalog_swath.start_time)",
        "year": "strftime('%Y', catalog_swath.start_time)",
        "centroid_geohash_grid_frequency": "GeoHash(Centroid(catalog_swath.footprint), {p})",
    },
}
# The same SQL on both databases.
COMMON_KEY_SQL = {
    "collection_frequency": "CAST(catalog_swath.collection_id AS text)",
    "platform_frequency": "NULLIF(catalog_swath.platform, '')",
    "orbit_state_frequency": "NULLIF(lower(catalog_swath.orbit_direction), '')",
}


@dataclass(frozen=True)
class Request:
    """Checked aggregation parameters (api.stac.aggparams)."""

    names: tuple[str, ...]
    interval: str = DEFAULT_INTERVAL
    precision: int = DEFAULT_PRECISION


def parse_names(raw: list[str]) -> tuple[str, ...]:
    """Aggregation names, each known; none given means all of them."""
    unknown = [n for n in raw if n not in KINDS]
    if unknown:
        raise QueryError(f"aggregations: unknown {', '.join(repr(u[:60]) for u in unknown[:5])};"
                         f" allowed: {', '.join(KINDS)}")
    return tuple(dict.fromkeys(raw)) or tuple(KINDS)


def parse_interval(raw: Any) -> str:
    if raw not in INTERVALS:
        raise QueryError(f"datetime_frequency_interval={str(raw)[:40]!r} is not allowed;"
                         f" allowed: {', '.join(INTERVALS)}")
    return str(raw)


def parse_precision(raw: Any) -> int:
    lo, hi = GEOHASH_PRECISIONS[0], GEOHASH_PRECISIONS[-1]
    what = (f"centroid_geohash_grid_frequency_precision={str(raw)[:40]!r} is not allowed;"
            f" allowed: a whole number {lo} to {hi}")
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise QueryError(what)
    try:
        value = int(raw)
    except ValueError as e:
        raise QueryError(what) from e
    if value not in GEOHASH_PRECISIONS:
        raise QueryError(what)
    return value


def listing() -> list[dict[str, str]]:
    """The /aggregations body's entries: every aggregation /aggregate computes."""
    return [{"name": k.name, "data_type": k.data_type, "description": k.description}
            for k in KINDS.values()]


def _key_sql(name: str, req: Request) -> str:
    if name in COMMON_KEY_SQL:
        return COMMON_KEY_SQL[name]
    per_db = KEY_SQL[connection.vendor]
    if name == "datetime_frequency":
        return per_db[req.interval]
    return per_db[name].format(p=int(req.precision))


def check_size(search: SwathSearch) -> None:
    """QueryError when the matches are more rows than STAC_AGGREGATE_MAX_ROWS."""
    limit = settings.STAC_AGGREGATE_MAX_ROWS
    qs = filtered(search).order_by()
    if connection.vendor == "postgresql":
        try:
            rows, how = planner_estimate(qs), "the planner estimates"
        except EmptyResultSet:  # a filter Django proves empty: nothing to scan
            return
    else:
        rows, how = qs.values("id")[: limit + 1].count(), "counted more than"
    if rows > limit:
        shown = limit if connection.vendor != "postgresql" else rows
        raise QueryError(f"this aggregation would scan too many rows: {how} {shown:,}"
                         f" (STAC_AGGREGATE_MAX_ROWS is {limit:,}); narrow the collections,"
                         " the time window or the area")


def aggregate(search: SwathSearch, req: Request) -> list[dict[str, Any]]:
    """The requested aggregations over the search's matches, in the order asked."""
    with statement_limit():
        check_size(search)
        counts, total = _counts(search, req)
    out = []
    for name in req.names:
        kind = KINDS[name]
        if kind.bucket_type is None:
            out.append({"name": name, "data_type": kind.data_type, "value": total})
            continue
        buckets = _buckets(name, counts.get(name, {}), req)
        agg: dict[str, Any] = {"name": name, "data_type": kind.data_type, "buckets": buckets,
                               "overflow": total - sum(b["frequency"] for b in buckets)}
        if name == "datetime_frequency":
            agg["interval"] = req.interval
        if name == "centroid_geohash_grid_frequency":
            agg["precision"] = req.precision
        out.append(agg)
    return out


def _counts(search: SwathSearch, req: Request) -> tuple[dict[str, dict[str, int]], int]:
    """{aggregation: {key: count}} and the total, read by one statement."""
    grouped = [n for n in req.names if KINDS[n].bucket_type is not None]
    keys = {f"k{i}": RawSQL(_key_sql(n, req), []) for i, n in enumerate(grouped)}  # noqa: S611
    qs = filtered(search).order_by().annotate(**keys).values(*keys) if keys else \
        filtered(search).order_by().values("id")
    try:
        inner, params = qs.query.sql_with_params()
    except EmptyResultSet:  # a filter Django proves empty without the database
        return {}, 0
    # The matches are read once; each aggregation groups them (UNION ALL keeps the
    # statement the same on both databases, which SQLite's lack of GROUPING SETS needs).
    parts = ["SELECT -1, NULL, count(*) FROM m"]
    parts += [f"SELECT {i}, {k}, count(*) FROM m WHERE {k} IS NOT NULL GROUP BY {k}"
              for i, k in enumerate(keys)]
    sql = f"WITH m AS MATERIALIZED ({inner}) " + " UNION ALL ".join(parts)
    counts: dict[str, dict[str, int]] = {n: {} for n in grouped}
    total = 0
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for which, key, n in cur.fetchall():
            if which == -1:
                total = int(n)
            else:
                counts[grouped[which]][str(key)] = int(n)
    return counts, total


def _buckets(name: str, counts: dict[str, int], req: Request) -> list[dict[str, Any]]:
    kind = KINDS[name]
    if name == "datetime_frequency":
        # '2024', '2024-03', '2024-03-07' -> RFC 3339 at the start of the interval
        def stamp(key: str) -> str:
            parts = (key.split("-") + ["01", "01"])[:3]
            return f"{parts[0]}-{parts[1]}-{parts[2]}T00:00:00Z"
        return [{"key": stamp(k), "data_type": kind.bucket_type, "frequency": n}
                for k, n in sorted(counts.items())]
    if name == "collection_frequency":
        slugs = dict(Collection.objects.filter(id__in=[int(k) for k in counts])
                     .values_list("id", "slug"))
        counts = {slugs[int(k)]: n for k, n in counts.items()}
    # Most frequent first; ties by key, so an answer is stable.
    return [{"key": k, "data_type": kind.bucket_type, "frequency": n}
            for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

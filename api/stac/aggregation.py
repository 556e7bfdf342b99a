"""STAC API Aggregation extension: counts over the swaths an item search would match.

The matches are api.search.filtered()'s queryset for the request's SwathSearch, the
one /stac/search pages through, so the same request counts the same swaths. One
statement reads the matches once (only the keys the aggregations group by) and groups
them by each key (_grouping_sql), whatever is asked. Counts are exact.

Before that statement runs, the rows the filter matches are compared with
settings.STAC_AGGREGATE_MAX_ROWS: the planner's estimate on PostgreSQL (EXPLAIN), a
count capped just above the limit on SpatiaLite, which has no row estimate; over the
limit is a 400 naming both numbers, never a statement timeout. The planner takes a
time window's two conditions (start <= end of window, end >= its start) as independent,
so it over-estimates a window in the middle of the archive (300,516 for a year of the
benchmark's 1,000,000 swaths, which holds 99,932): a refusal errs on the safe side.

Which value of a swath each aggregation counts:
- datetime_frequency: its start time (STAC `datetime`), in UTC day, month or year;
- collection_frequency, platform_frequency: its collection id and platform as stored;
- orbit_state_frequency: its orbit direction lowercased (STAC `sat:orbit_state`);
- centroid_geohash_grid_frequency: the geohash of its footprint's centroid (ST_Centroid
  / SpatiaLite Centroid, planar in lon/lat), the first `precision` characters of the
  stored Swath.centroid_geohash (which the database computes from the footprint). A
  footprint split at the antimeridian has its centroid between its parts, on the
  map's far side from the swath.
A swath without the value (no start time, platform, direction or footprint) is in no
bucket; `overflow` says how many.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, connection
from django.db.models.expressions import RawSQL

from api.exceptions import QueryError
from api.search import (
    STATEMENT_TIMEOUT_MS,
    SwathSearch,
    filtered,
    planner_estimate,
    refuse_coverage,
    statement_limit,
)
from api.timelimit import timed_out
from catalog.models import CENTROID_GEOHASH_PRECISION, Collection

INTERVALS = ("day", "month", "year")
DEFAULT_INTERVAL = "month"
# 1: 5,000 km cells .. 8: 38 m, as many characters as Swath.centroid_geohash keeps.
GEOHASH_PRECISIONS = range(1, CENTROID_GEOHASH_PRECISION + 1)
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


# The one place the two databases' bucket keys differ: each key as SQL over
# catalog_swath's columns. A date key is written as text after grouping (_counts): a
# dozen calls rather than one a row.
KEY_SQL = {
    "postgresql": {
        "day": "date_trunc('day', catalog_swath.start_time AT TIME ZONE 'UTC')",
        "month": "date_trunc('month', catalog_swath.start_time AT TIME ZONE 'UTC')",
        "year": "date_trunc('year', catalog_swath.start_time AT TIME ZONE 'UTC')",
    },
    # Django keeps SQLite datetimes as UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
    "sqlite": {
        "day": "strftime('%Y-%m-%d', catalog_swath.start_time)",
        "month": "strftime('%Y-%m-01', catalog_swath.start_time)",
        "year": "strftime('%Y-01-01', catalog_swath.start_time)",
    },
}
# The same SQL on both databases ({p}: the geohash precision, a checked int). A
# geohash's prefix is the geohash of the same point at that precision, so the grid
# reads a short stored column instead of every matching footprint.
COMMON_KEY_SQL = {
    "collection_frequency": "catalog_swath.collection_id",
    "platform_frequency": "NULLIF(catalog_swath.platform, '')",
    "orbit_state_frequency": "NULLIF(lower(catalog_swath.orbit_direction), '')",
    "centroid_geohash_grid_frequency": "substr(catalog_swath.centroid_geohash, 1, {p})",
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
    if name == "datetime_frequency":
        return KEY_SQL[connection.vendor][req.interval]
    return COMMON_KEY_SQL[name].format(p=int(req.precision))


def check_size(search: SwathSearch) -> None:
    """QueryError when the matches are more rows than STAC_AGGREGATE_MAX_ROWS."""
    refuse_coverage(search, "an aggregation")
    limit = settings.STAC_AGGREGATE_MAX_ROWS
    qs = filtered(search, bound_start=False).order_by()
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
    try:
        with statement_limit():
            check_size(search)
            counts, total = _counts(search, req)
    except DatabaseError as e:
        # An estimate under the limit can still be wrong (a CQL2 filter the planner
        # cannot see into): the statement timeout is the last bound, answered as a 400.
        if timed_out(e):
            raise QueryError(f"the aggregation took longer than {STATEMENT_TIMEOUT_MS / 1000:g}"
                             " s: narrow the collections, the time window or the area") from e
        raise
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
    """{aggregation: {key as text: count}} and the total, read by one statement."""
    grouped = [n for n in req.names if KINDS[n].bucket_type is not None]
    keys = {f"k{i}": RawSQL(_key_sql(n, req), []) for i, n in enumerate(grouped)}  # noqa: S611
    qs = filtered(search).order_by().annotate(**keys).values(*keys) if keys else \
        filtered(search).order_by().values("id")
    try:
        inner, params = qs.query.sql_with_params()
    except EmptyResultSet:  # a filter Django proves empty without the database
        return {}, 0
    counts: dict[str, dict[str, int]] = {n: {} for n in grouped}
    total = 0
    with connection.cursor() as cur:
        cur.execute(_grouping_sql(inner, list(keys)), params)
        for which, *values, n in cur.fetchall():
            key = values[which] if which >= 0 else None
            if which < 0:
                total = int(n)
            elif key is not None:
                # A date-time key (PostgreSQL) as its day; SQLite's are that text already.
                text = key.strftime("%Y-%m-%d") if hasattr(key, "strftime") else str(key)
                counts[grouped[which]][text] = int(n)
    return counts, total


def _grouping_sql(inner: str, keys: list[str]) -> str:
    """Rows (i, k0..kn, count) over `inner`'s rows, read once: key i's groups, and the
    total as i = -1.

    PostgreSQL groups by every key in one pass (GROUPING SETS: twice as fast as the
    form below over a year of the benchmark's swaths); SQLite has no GROUPING SETS, so
    it groups a materialised copy of the matches once per key.
    """
    if not keys:
        return f"SELECT -1, count(*) FROM ({inner}) AS m"
    if connection.vendor == "postgresql":
        # GROUPING() has a bit per key (the first key's highest), set when a row is
        # grouped without that key: all set for the total, all but key i's for key i.
        every = (1 << len(keys)) - 1
        which = " ".join(f"WHEN {every & ~(1 << (len(keys) - 1 - i))} THEN {i}"
                         for i in range(len(keys)))
        return (f"SELECT CASE GROUPING({', '.join(keys)}) {which} ELSE -1 END,"
                f" {', '.join(keys)}, count(*) FROM ({inner}) AS m"
                f" GROUP BY GROUPING SETS ((), {', '.join(f'({k})' for k in keys)})")
    def row(i: int) -> str:
        return ", ".join(k if j == i else "NULL" for j, k in enumerate(keys))
    parts = [f"SELECT -1, {row(-1)}, count(*) FROM m"]
    parts += [f"SELECT {i}, {row(i)}, count(*) FROM m GROUP BY {k}" for i, k in enumerate(keys)]
    return f"WITH m AS MATERIALIZED ({inner}) " + " UNION ALL ".join(parts)


def _buckets(name: str, counts: dict[str, int], req: Request) -> list[dict[str, Any]]:
    kind = KINDS[name]
    if name == "datetime_frequency":
        # 'YYYY-MM-DD', the interval's first day -> RFC 3339
        return [{"key": f"{k}T00:00:00Z", "data_type": kind.bucket_type, "frequency": n}
                for k, n in sorted(counts.items())]
    if name == "collection_frequency":
        slugs = dict(Collection.objects.filter(id__in=[int(k) for k in counts])
                     .values_list("id", "slug"))
        counts = {slugs[int(k)]: n for k, n in counts.items()}
    # Most frequent first; ties by key, so an answer is stable.
    return [{"key": k, "data_type": kind.bucket_type, "frequency": n}
            for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

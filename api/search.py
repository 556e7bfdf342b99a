"""One query layer under both faces: REST /api/v1/swaths and STAC /stac/search.

A view turns its parameters into a `SwathSearch` (every field checked by
api.params / api.geometry / api.cql2), then `run_search` builds the queryset from
catalog querysets, applies the keyset page and counts the matches.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, connection, transaction
from django.db.models import DateTimeField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from api import paging
from api.exceptions import QueryError
from api.geometry import QueryGeometry
from api.timelimit import sqlite_time_limit, timed_out
from catalog.geometry import bbox_geometry
from catalog.models import Swath, SwathState
from eo.identify import platform_names

# Matches are counted exactly up to this many; beyond it the planner's estimate is
# returned, labelled as one (counting a million rows costs more than the page).
COUNT_CAP = 10_000
# The number ranges a search may bound, each a SwathSearch field of its column's name.
ORBIT_COLUMNS = ("orbit", "relative_orbit", "orbit_cycle", "pass_number")
STATEMENT_TIMEOUT_MS = getattr(settings, "API_STATEMENT_TIMEOUT_MS", 5000)


@dataclass(frozen=True)
class FractionBounds:
    """lo <= fraction <= hi (each end open when None; `lo_strict`/`hi_strict`: < not <=)."""

    lo: float | None = None
    hi: float | None = None
    lo_strict: bool = False
    hi_strict: bool = False

    def holds(self, value: float) -> bool:
        if self.lo is not None and (value <= self.lo if self.lo_strict else value < self.lo):
            return False
        return not (self.hi is not None and (
            value >= self.hi if self.hi_strict else value > self.hi))

    def meet(self, other: FractionBounds) -> FractionBounds:
        """Both bounds at once (CQL2 terms ANDed together)."""
        lo, lo_strict = self.lo, self.lo_strict
        if other.lo is not None and (lo is None or other.lo > lo or (
                other.lo == lo and other.lo_strict)):
            lo, lo_strict = other.lo, other.lo_strict
        hi, hi_strict = self.hi, self.hi_strict
        if other.hi is not None and (hi is None or other.hi < hi or (
                other.hi == hi and other.hi_strict)):
            hi, hi_strict = other.hi, other.hi_strict
        return FractionBounds(lo, hi, lo_strict, hi_strict)


@dataclass
class SwathSearch:
    """Checked search parameters; None means 'no condition'."""

    bbox: tuple[float, float, float, float] | None = None
    area: QueryGeometry | None = None
    start: datetime | None = None
    end: datetime | None = None
    collections: list[str] | None = None
    ids: list[str] | None = None
    platform: str | None = None
    orbit: tuple[int | None, int | None] | None = None
    relative_orbit: tuple[int | None, int | None] | None = None
    orbit_cycle: tuple[int | None, int | None] | None = None
    pass_number: tuple[int | None, int | None] | None = None
    orbit_direction: str | None = None  # a value of api.params.ORBIT_STATES
    equator_crossing: tuple[float, float] | None = None  # (west, east); west > east wraps
    region: str | None = None
    # Who searches: ``region`` must be a region they may see (subset.orders.region_visible);
    # None is anyone, who sees only the shared regions.
    viewer: Any = None
    states: list[str] = field(default_factory=lambda: [SwathState.VERIFIED])
    filter_q: Q | None = None
    filter_key: str = ""  # canonical text of the filter, for the token fingerprint
    filter_repairs: list[str] = field(default_factory=list)
    order: tuple[tuple[str, bool], ...] = paging.DEFAULT_SORT
    limit: int = 100
    token: str | None = None
    count: bool = True
    # Bounds on the fraction of valid pixels over the search's region (api.coverage):
    # computed in Python after the SQL, so only api.coverage.run_page serves them.
    valid_fraction: FractionBounds | None = None

    def fingerprint(self) -> str:
        """Identity of the query (not of the page) for tokens."""
        return paging.fingerprint([
            self.bbox, self.area.geom.wkt if self.area else None, self.start, self.end,
            self.collections, self.ids, self.platform, self.orbit, self.region,
            self.relative_orbit, self.orbit_cycle, self.pass_number, self.orbit_direction,
            self.equator_crossing,
            self.states, self.filter_key, self.order,
            *([self.valid_fraction] if self.valid_fraction else []),
        ])

    @property
    def uses_coverage(self) -> bool:
        """Whether the search filters or sorts on the valid fraction (api.coverage)."""
        return self.valid_fraction is not None or any(
            col == paging.VALID_FRACTION for col, _ in self.order or ())

    @property
    def repairs(self) -> list[str]:
        return (self.area.repairs if self.area else []) + self.filter_repairs


@dataclass
class SearchPage:
    """One page of rows and what is needed to link the next one."""

    rows: list[Any]  # Swath instances, or dicts when run_search was given columns
    next_token: str | None
    matched: int | None
    exact: bool


def filtered(search: SwathSearch, base: QuerySet | None = None,
             bound_start: bool = True) -> QuerySet:
    """The queryset for all matches of a search, unordered.

    `bound_start=False` leaves out _earliest_start's redundant lower bound on start_time,
    whose value the planner cannot know when it plans: an EXPLAIN of the rows a search
    matches (api.stac.aggregation's guard) then estimates them from the time window.
    """
    qs = base if base is not None else Swath.objects.all()
    qs = qs.filter(state__in=search.states) if len(search.states) > 1 else qs.filter(
        state=search.states[0])
    if search.bbox is not None:
        qs = qs.filter(footprint__intersects=bbox_geometry(*search.bbox))
    if search.area is not None:
        geom = search.area.geom
        qs = qs.intersecting(geom) if geom.geom_type.endswith("Polygon") else qs.filter(
            footprint__intersects=geom)
    if search.start is not None or search.end is not None:
        qs = qs.between(search.start, search.end)
        if search.start is not None and connection.vendor == "postgresql" and bound_start:
            qs = qs.filter(start_time__gte=_earliest_start(search.start))
    if search.collections is not None:
        qs = qs.filter(collection__slug__in=search.collections)
    if search.ids is not None:
        qs = qs.filter(uuid__in=_uuids(search.ids))
    if search.platform is not None:
        qs = qs.filter(platform_q(search.platform))
    for column in ORBIT_COLUMNS:
        bounds = getattr(search, column)
        if bounds is not None:
            lo, hi = bounds
            if lo is not None:
                qs = qs.filter(**{f"{column}__gte": lo})
            if hi is not None:
                qs = qs.filter(**{f"{column}__lte": hi})
    if search.orbit_direction is not None:
        # iexact: rows registered before names were normalised may hold "Ascending".
        qs = qs.filter(orbit_direction__iexact=search.orbit_direction)
    if search.equator_crossing is not None:
        qs = qs.filter(longitude_range_q("equator_crossing_longitude", *search.equator_crossing))
    if search.region is not None:
        from subset.orders import region_visible

        if not region_visible(search.region, search.viewer):
            raise QueryError(f"region={search.region!r} is not a known region slug")
        qs = qs.in_region(search.region)
    if search.filter_q is not None:
        qs = qs.filter(search.filter_q)
    return qs


def longitude_range_q(column: str, west: float, east: float) -> Q:
    """A longitude column within [west, east]; west > east is the range across +-180."""
    if west <= east:
        return Q(**{f"{column}__gte": west, f"{column}__lte": east})
    return Q(**{f"{column}__gte": west}) | Q(**{f"{column}__lte": east})


def platform_q(value: str) -> Q:
    """The REST `platform` filter and CQL2 `platform` equality, case-insensitive over
    eo.identify.platform_names()."""
    q = Q()
    for name in platform_names(value):
        q |= Q(platform__iexact=name)
    return q


def _uuids(ids: list[str]) -> list[str]:
    from uuid import UUID

    out = []
    for raw in ids:
        try:
            out.append(str(UUID(raw)))
        except ValueError:
            continue  # an id that is no uuid matches nothing, as an unknown id would
    return out


def _earliest_start(start: datetime) -> RawSQL:
    """The earliest start_time a swath overlapping [start, ...) can have (PostgreSQL).

    start minus the longest swath duration in the catalog gives a time query a lower
    bound on start_time too, which lets the composite (footprint, start_time) GiST index
    bound both ends of its scan. The longest duration is read by the query itself (an
    index-only max over the swath_duration index, evaluated once as an InitPlan) rather
    than cached, which could go stale while an ingest runs and silently drop matches,
    or read in a round trip of its own, which cost as much as the rest of the search's
    SQL.
    """
    return RawSQL("(%s::timestamptz - (SELECT coalesce(max(end_time - start_time),"
                  " interval '0') FROM catalog_swath))", [start], output_field=DateTimeField())


def planner_estimate(qs: QuerySet) -> int:
    """The planner's row estimate for a queryset (PostgreSQL), else -1."""
    if connection.vendor != "postgresql":
        return -1
    sql, params = qs.order_by().values("id").query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cur.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


@dataclass(frozen=True)
class RenderSQL:
    """How PostgreSQL renders each row of a page (see run_search).

    `select` is a select list whose columns are `names`, and `joins` the FROM items it
    reads, both over `p`, the page's row ids (p.id) and the columns of `carry`, a
    select list over the searched catalog_swath row (`{t}` standing for its table);
    `params` fill the %s placeholders of `joins`.
    """

    select: str
    names: tuple[str, ...]
    joins: str
    params: list[Any]
    carry: str = ""


def run_search(search: SwathSearch, base: QuerySet | None = None,
               columns: tuple[str, ...] | None = None,
               render: RenderSQL | None = None) -> SearchPage:
    """Run one page of a search inside a statement timeout; QueryError if too slow.

    With `render` (PostgreSQL only) each row is a dict of "id", the sort columns and
    `render.names`, read by one statement that also counts page 1's matches.
    A search on the valid fraction is api.coverage.run_page's (search pages only).
    """
    refuse_coverage(search, "this request")
    with too_slow_is_a_query_error():
        if render is not None:
            return _run_rendered(search, base, render)
        with statement_limit():
            return _run(search, base, columns)


@contextlib.contextmanager
def too_slow_is_a_query_error() -> Iterator[None]:
    """A statement stopped by the search time limit becomes a QueryError (a 400)
    telling the user how to narrow the search; other database errors pass."""
    try:
        yield
    except DatabaseError as e:
        if timed_out(e):
            raise QueryError(
                f"the search took longer than {STATEMENT_TIMEOUT_MS / 1000:g} s: "
                "narrow the area, the time window or the collections"
            ) from e
        raise


def refuse_coverage(search: SwathSearch, where: str) -> None:
    """QueryError when `where` (an export, an aggregation) is asked for the valid fraction,
    which only search pages compute (api.coverage: after the SQL, in Python)."""
    if search.uses_coverage:
        raise QueryError(
            f"{where} cannot filter or sort on valid_fraction (swathstore:valid_fraction): "
            "it is computed per page of a search (/api/v1/swaths/, /stac/search), not for "
            "exports or aggregations")


@contextlib.contextmanager
def statement_limit() -> Iterator[None]:
    """Each statement run inside the block stops after STATEMENT_TIMEOUT_MS (either database).

    SET LOCAL needs a transaction on PostgreSQL. The embedded default (SQLite) opens
    every transaction IMMEDIATE (settings), which would make a search wait for an
    ingest's writes; there each statement reads its own WAL snapshot instead.
    """
    postgres = connection.vendor == "postgresql"
    with (transaction.atomic() if postgres else contextlib.nullcontext()), \
            sqlite_time_limit(STATEMENT_TIMEOUT_MS):
        if postgres:
            with connection.cursor() as cur:
                cur.execute("SET LOCAL statement_timeout = %s", [STATEMENT_TIMEOUT_MS])
        yield


def _page_query(search: SwathSearch, base: QuerySet | None
                ) -> tuple[str, paging.Cursor, QuerySet, bool, QuerySet]:
    """(fingerprint, cursor, matches, first page?, this page's keyset queryset)."""
    query = search.fingerprint()
    cursor = paging.decode(search.token, search.order, query) if search.token else None
    qs = filtered(search, base)
    first_page = cursor is None
    if first_page:
        cursor = paging.Cursor(values=[], pk=0, snapshot=timezone.now())
    page_qs = paging.page_after(qs, search.order, None if first_page else cursor)
    if search.states == [SwathState.VERIFIED] and not first_page:
        # Rows verified after page 1 stay out of later pages: a stable result set.
        page_qs = page_qs.filter(
            Q(verified_at__lte=cursor.snapshot) | Q(verified_at__isnull=True)
        )
    return query, cursor, qs, first_page, page_qs


def _run(search: SwathSearch, base: QuerySet | None,
         columns: tuple[str, ...] | None) -> SearchPage:
    query, cursor, qs, first_page, page_qs = _page_query(search, base)
    # With `columns`, rows are plain dicts (no model instances: a page of STAC items
    # is rendered straight from them).
    page_qs = page_qs.values(*columns) if columns else page_qs.select_related("collection")
    rows = list(page_qs[: search.limit + 1])
    page, more = rows[: search.limit], len(rows) > search.limit
    if first_page and search.count:
        # A first page that holds everything is its own exact count: no second query.
        matched, exact = (len(page), True) if not more else count_matches(qs)
        cursor = paging.Cursor(values=[], pk=0, snapshot=cursor.snapshot, matched=matched,
                               exact=exact)
    token = paging.encode(search.order, page[-1], cursor, query) if more else None
    return SearchPage(rows=page, next_token=token, matched=cursor.matched, exact=cursor.exact)


def count_matches(qs: QuerySet) -> tuple[int, bool]:
    n = qs.order_by().values("id")[: COUNT_CAP + 1].count()
    if n <= COUNT_CAP:
        return n, True
    estimate = planner_estimate(qs)
    return (max(estimate, n) if estimate >= 0 else n), False


def _order_sql(order: tuple[tuple[str, bool], ...], alias: str) -> str:
    """paging.order_by() as SQL over `alias`'s columns, for the statement around the ids'."""
    terms = [f"{alias}.{col} DESC NULLS FIRST" if desc else f"{alias}.{col} ASC NULLS LAST"
             for col, desc in order]
    terms.append(f"{alias}.id DESC" if (order[-1][1] if order else True) else f"{alias}.id ASC")
    return ", ".join(terms)


def _run_rendered(search: SwathSearch, base: QuerySet | None, render: RenderSQL) -> SearchPage:
    """_run() in one statement: the page's ids, page 1's count, each row rendered.

    The ids come from _page_query()'s queryset, compiled by Django
    (sql_with_params): the same filter and keyset condition as _run(), with only the
    ids, the sort columns and `render.carry` selected; the rendering joins on the id,
    so it runs for the rows of the page alone. On page 1 the count rides along as a window over
    the matches (capped like _count), instead of a second scan of the same index.
    """
    sort_cols = [col for col, _ in search.order]
    query, cursor, qs, first_page, page_qs = _page_query(search, base)
    counting = first_page and search.count
    ids = page_qs.values("id", *sort_cols)
    try:
        inner, inner_params = ids[: (COUNT_CAP + 1) if counting else (search.limit + 1)] \
            .query.sql_with_params()
    except EmptyResultSet:
        # Django proves some filters empty without asking the database (an empty
        # `ids` list, an empty datetime range); the ORM path answers those with no
        # rows too.
        return SearchPage(rows=[], next_token=None, matched=0 if counting else cursor.matched,
                          exact=True if counting else cursor.exact)
    if render.carry:
        # Appended to the ORM's select list of plain columns, whose first FROM is its
        # own (and its ORDER BY counts columns from the left): as annotations the
        # carried columns cost 0.2 ms of Python a request, more than they save.
        table = connection.ops.quote_name(Swath._meta.db_table)
        inner = inner.replace(" FROM ", f", {render.carry.format(t=table)} FROM ", 1)
    cols = ", ".join(f"p.{c}" for c in ["id", *sort_cols])
    if counting:
        page_sql = (f"SELECT m.*, count(*) OVER () AS n FROM ({inner}) AS m "
                    f"ORDER BY {_order_sql(search.order, 'm')} LIMIT {search.limit + 1}")
    else:
        page_sql = f"SELECT m.*, NULL::int AS n FROM ({inner}) AS m"
    sql = (f"SELECT {cols}, p.n, {render.select} FROM ({page_sql}) AS p {render.joins} "
           f"ORDER BY {_order_sql(search.order, 'p')}")
    # One round trip: statements sent together run as one (implicit) transaction, so
    # SET LOCAL holds for the page's statement alone, without a BEGIN and a COMMIT
    # of their own (each round trip costs as much as rendering 30 items).
    with connection.cursor() as cur:
        cur.execute(f"SET LOCAL statement_timeout = {int(STATEMENT_TIMEOUT_MS)}; {sql}",
                    [*inner_params, *render.params])
        fetched = cur.fetchall()
    keys = ["id", *sort_cols, "n", *render.names]
    rows = [dict(zip(keys, r, strict=True)) for r in fetched]
    page, more = rows[: search.limit], len(rows) > search.limit
    if counting:
        n = rows[0]["n"] if rows else 0
        if n <= COUNT_CAP:
            matched, exact = n, True
        else:
            estimate = planner_estimate(qs)
            matched, exact = max(estimate, n), False
        cursor = paging.Cursor(values=[], pk=0, snapshot=cursor.snapshot, matched=matched,
                               exact=exact)
    token = paging.encode(search.order, page[-1], cursor, query) if more else None
    return SearchPage(rows=page, next_token=token, matched=cursor.matched, exact=cursor.exact)

"""Search pages filtered or sorted on the valid fraction over the search's region.

A swath's coverage (Swath.coverage, written at ingest) holds, per H3 cell it touches,
how many of its pixels there are valid; ingest.coverage turns that and a region into
the fraction of valid pixels over the region. That estimator is the one place the
fraction is computed, so it runs here in Python, after the SQL has narrowed the
candidates by every other filter (time, footprint index, collection, CQL2 ...):

- the region is the search's bbox, intersects (REST: point and radius_km too) or
  named region; without one, the swath's whole coverage counts;
- a swath whose coverage is unknown (NULL), or that has no pixel over the region,
  never passes a valid_fraction bound; sorted on, its fraction is NULL (NULLs sort as
  the largest value, as every sort does, api.paging);
- all candidates are read each page (ids and sort columns first, then their coverage),
  so the matches and their order are computed whole: numberMatched is exact and a
  token (the last row's sort values and id, as api.paging writes it) starts the next
  page right after that row, with rows verified after page 1 left out as elsewhere;
- more than settings.SEARCH_COVERAGE_MAX_CANDIDATES candidates is a 400 naming the
  count and the limit: never a statement timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shapely
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from api import paging
from api.exceptions import QueryError
from api.search import (
    SearchPage,
    SwathSearch,
    count_matches,
    filtered,
    run_search,
    statement_limit,
    too_slow_is_a_query_error,
)
from catalog.geometry import bbox_geometry
from catalog.models import Region, Swath, SwathState
from ingest.coverage import Coverage, region_fraction, region_weights, whole_fraction

VF = paging.VALID_FRACTION
Fraction = Callable[[bytes | memoryview | None], float | None]


def run_page(search: SwathSearch, base: QuerySet, columns: tuple[str, ...]) -> SearchPage:
    """One page of a search; rows are dicts of `columns` (from `base`), plus
    "valid_fraction" when the search filters or sorts on it."""
    if not search.uses_coverage:
        return run_search(search, base, columns)
    with too_slow_is_a_query_error(), statement_limit():
        return _run(search, base, columns)


def fraction_for(search: SwathSearch) -> Fraction:
    """The valid fraction of a coverage blob over the search's region (whole without one)."""
    region = _region(search)
    if region is None:
        return lambda blob: None if blob is None else whole_fraction(Coverage.decode(bytes(blob)))
    weights: dict[int, Any] = {}  # per H3 resolution: a request's blobs may mix them

    def fraction(blob: bytes | memoryview | None) -> float | None:
        if blob is None:
            return None
        cov = Coverage.decode(bytes(blob))
        w = weights.get(cov.resolution)
        if w is None:
            w = weights[cov.resolution] = region_weights(region, cov.resolution)
        return region_fraction(cov, w)
    return fraction


def _region(search: SwathSearch) -> Any:
    """The search's region as a shapely geometry in lon/lat, or None."""
    if search.bbox is not None:
        geom = bbox_geometry(*search.bbox)
    elif search.area is not None:
        geom = search.area.geom
    elif search.region is not None:
        geom = Region.objects.only("geometry").get(slug=search.region).geometry
    else:
        return None
    return shapely.from_wkb(bytes(geom.wkb))


def _run(search: SwathSearch, base: QuerySet, columns: tuple[str, ...]) -> SearchPage:
    query = search.fingerprint()
    cursor = paging.decode(search.token, search.order, query) if search.token else None
    qs = filtered(search)  # also checks the named region's visibility
    if search.valid_fraction is not None:
        qs = qs.filter(coverage__isnull=False)  # unknown coverage never passes a bound
    if cursor is not None and search.states == [SwathState.VERIFIED]:
        qs = qs.filter(Q(verified_at__lte=cursor.snapshot) | Q(verified_at__isnull=True))
    limit = settings.SEARCH_COVERAGE_MAX_CANDIDATES
    sort_cols = [col for col, _ in search.order if col != VF]
    # Ids and sort columns first (the filter's index, no blob read), so a request over
    # the limit is refused before any coverage leaves the database.
    found = list(qs.order_by().values_list("id", *sort_cols)[: limit + 1])
    if len(found) > limit:
        n, exact = count_matches(qs)
        raise QueryError(
            f"valid_fraction: the other filters match {'' if exact else 'about '}{n} swaths"
            f"{' of known coverage' if search.valid_fraction else ''}, "
            f"more than the {limit} whose coverage one search may read "
            "(SEARCH_COVERAGE_MAX_CANDIDATES): narrow the area, the time window or the "
            "collections")
    blobs = dict(Swath.objects.filter(id__in=[r[0] for r in found])
                 .values_list("id", "coverage")) if found else {}
    fraction = fraction_for(search)
    bounds = search.valid_fraction
    keys = ["id", *sort_cols, VF]
    rows: list[dict[str, Any]] = []
    for r in found:
        f = fraction(blobs.get(r[0]))
        if bounds is not None and (f is None or not bounds.holds(f)):
            continue
        rows.append(dict(zip(keys, (*r, f), strict=True)))
    _sort(rows, search.order)
    start = 0
    if cursor is not None:
        start = next((i for i, row in enumerate(rows) if _after(row, cursor, search.order)),
                     len(rows))
    else:
        cursor = paging.Cursor(values=[], pk=0, snapshot=timezone.now(),
                               matched=len(rows), exact=True)
    page, more = rows[start:start + search.limit], len(rows) > start + search.limit
    full = {r["id"]: r for r in base.filter(id__in=[p["id"] for p in page]).values(*columns)}
    out = []
    for p in page:
        row = full.get(p["id"])
        if row is not None:  # deleted since the ids were read
            row[VF] = None if p[VF] is None else round(p[VF], 6)
            out.append(row)
    token = paging.encode(search.order, page[-1], cursor, query) if more else None
    return SearchPage(rows=out, next_token=token, matched=cursor.matched, exact=cursor.exact)


def _sort(rows: list[dict[str, Any]], order: tuple[tuple[str, bool], ...]) -> None:
    """Sort as api.paging.order_by does in SQL: NULLs largest, then the id tie-breaker.

    One stable sort per key, the last key first (Python keeps equal rows' order).
    """
    rows.sort(key=lambda r: r["id"], reverse=order[-1][1] if order else True)
    for col, desc in reversed(order):
        rows.sort(key=lambda r, c=col: (r[c] is None, 0 if r[c] is None else r[c]),  # type: ignore[misc]
                  reverse=desc)


def _after(row: dict[str, Any], cursor: paging.Cursor,
           order: tuple[tuple[str, bool], ...]) -> bool:
    """Whether `row` comes after the cursor's row in `order` (api.paging.after's rule)."""
    for (col, desc), c in zip(order, cursor.values, strict=True):
        v = row[col]
        if v == c:
            continue
        if v is None:
            return not desc  # NULL is the largest: last ascending, first descending
        if c is None:
            return desc
        return bool(v < c) if desc else bool(v > c)
    last_desc = order[-1][1] if order else True
    return bool(row["id"] < cursor.pk) if last_desc else bool(row["id"] > cursor.pk)

"""CQL2-JSON to a Django Q over allow-listed queryables only.

Each queryable names one column (or one JSON key) and its type; a property that
is not in QUERYABLES, an operator we do not serve, or a value of the wrong type is
a QueryError naming it, so no user string ever becomes a lookup name (M5).
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

from django.db.models import F, Q

from api import paging
from api.cql2.like import Cql2Like, normalize
from api.cql2.read import parse_json
from api.exceptions import QueryError
from api.geometry import QueryGeometry, parse_geojson
from api.params import (
    MAX_LIST_ITEMS,
    check_bbox,
    clean_text,
    parse_instant,
    parse_orbit_state,
)
from api.search import FractionBounds, longitude_range_q, platform_q
from catalog.geometry import bbox_geometry
from catalog.models import Collection

COMPARISONS = {"=": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
TEMPORAL = {
    "t_after", "t_before", "t_contains", "t_disjoint", "t_during", "t_equals",
    "t_finishedby", "t_finishes", "t_intersects", "t_meets", "t_metby",
    "t_overlappedby", "t_overlaps", "t_startedby", "t_starts",
}
COLLECTION_COLUMN = "collection__slug"
STATE_COLUMN = "orbit_direction"  # "" when unknown: IS NULL and <> read it so
# Longitudes: BETWEEN W AND E with W > E is the range across +-180 (as REST's
# equator_crossing=170,-170), not the empty range it would be on a plain number.
LONGITUDE_COLUMNS = {"equator_crossing_longitude"}
FAR_PAST = datetime(1, 1, 2, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 12, 30, tzinfo=UTC)
VALID_FRACTION = "swathstore:valid_fraction"


@dataclass(frozen=True)
class Queryable:
    """A filterable property: its column, type and a description for /queryables."""

    column: str
    kind: str  # string | number | integer | timestamp | geometry | uuid
    description: str


QUERYABLES: dict[str, Queryable] = {
    "id": Queryable("uuid", "uuid", "Item id (the swath's uuid)"),
    "collection": Queryable(COLLECTION_COLUMN, "string", "Collection id"),
    "datetime": Queryable("start_time", "timestamp",
                          "Start of the swath; temporal functions use [start, end]"),
    "start_datetime": Queryable("start_time", "timestamp", "Start of the swath"),
    "end_datetime": Queryable("end_time", "timestamp", "End of the swath"),
    "created": Queryable("created_at", "timestamp", "When the row was created"),
    "updated": Queryable("updated_at", "timestamp", "When the row last changed"),
    "geometry": Queryable("footprint", "geometry", "Footprint"),
    "platform": Queryable("platform", "string",
                          "Platform, e.g. aqua or metop-b; = and in ignore case and accept "
                          "other spellings (MetOp-B, metopb); no index serves LIKE"),
    "constellation": Queryable("constellation", "string", "Constellation, e.g. sentinel-6"),
    "processing:level": Queryable("processing_level", "string", "Processing level, e.g. L2"),
    "sat:absolute_orbit": Queryable("orbit", "integer", "Absolute orbit number"),
    "sat:relative_orbit": Queryable("relative_orbit", "integer", "Relative orbit number"),
    "sat:orbit_cycle": Queryable("orbit_cycle", "integer", "Repeat cycle number"),
    "sat:orbit_state": Queryable(STATE_COLUMN, "string",
                                 "ascending or descending, any case (=, <>, IN or IS NULL)"),
    "swathstore:pass": Queryable("pass_number", "integer", "Pass number within the cycle"),
    "swathstore:equator_crossing_longitude": Queryable(
        "equator_crossing_longitude", "number",
        "Longitude (-180..180) where the granule's orbit or pass crosses the equator: as "
        "the file states it, else where its track crosses once; BETWEEN 170 AND -170 is "
        "the range across +-180"),
    "file:size": Queryable("size", "integer", "Size of the original file in bytes"),
    "eo:cloud_cover": Queryable("attrs__cloud_cover", "number",
                                "Cloud cover in percent, when the granule states it"),
    VALID_FRACTION: Queryable(
        paging.VALID_FRACTION, "number",
        "Fraction (0..1) of the swath's pixels that are valid over the search's bbox or "
        "intersects (without one, over the whole swath), from the coverage read at ingest; "
        "a swath of unknown coverage, or with no pixel there, never passes. Only as a term "
        "of the filter's top-level AND, with >=, >, <=, < or BETWEEN (it is computed after "
        "the other filters, in Python); sortable"),
}
FRACTION_OPS = {">=", ">", "<=", "<", "between"}


class Compiled(NamedTuple):
    """A compiled filter: the SQL part, repairs made to its geometries, and the bounds
    its top-level AND puts on the valid fraction (api.coverage applies them)."""

    q: Q
    repairs: list[str]
    valid_fraction: FractionBounds | None


class _Compiler:
    def __init__(self) -> None:
        self.repairs: list[str] = []
        self.valid_fraction: FractionBounds | None = None

    def node(self, n: Any, top: bool = False) -> Q:
        """`top`: n is the filter or a term of its top-level AND (a conjunction)."""
        if isinstance(n, bool):
            return Q() if n else Q(pk__in=[])
        if not isinstance(n, dict) or not isinstance(n.get("op"), str):
            raise QueryError('filter: expected an expression such as {"op": "=", "args": [...]}')
        op, args = n["op"].lower(), n.get("args")
        if not isinstance(args, list):
            raise QueryError(f"filter: {op} needs an args array")
        if op in ("and", "or"):
            if len(args) < 2:
                raise QueryError(f"filter: {op} needs at least two arguments")
            parts = [self.node(a, top and op == "and") for a in args]
            out = parts[0]
            for p in parts[1:]:
                out = (out & p) if op == "and" else (out | p)
            return out
        if op == "not":
            if len(args) != 1:
                raise QueryError("filter: not takes one argument")
            return self.false(args[0])
        if args and isinstance(args[0], dict) and isinstance(args[0].get("property"), str) \
                and args[0]["property"].removeprefix("properties.") == VALID_FRACTION:
            return self.fraction(op, args, top)
        if op in COMPARISONS or op == "<>":
            return self.compare(op, args)
        if op == "isnull":
            q = self.prop(args[0] if len(args) == 1 else None, "isNull")
            if q.column == STATE_COLUMN:
                return Q(orbit_direction="")
            return Q(**{f"{q.column}__isnull": True})
        if op == "like":
            return self.like(args)
        if op == "between":
            return self.between(args)
        if op == "in":
            return self.in_(args)
        if op == "s_intersects":
            return self.s_intersects(args)
        if op in TEMPORAL:
            return self.temporal(op, args)
        raise QueryError(f"filter: operator {op!r} is not supported")

    def false(self, n: Any) -> Q:
        """The rows where expression `n` is FALSE, in CQL2's (SQL's) three-valued logic.

        Django's ~Q(x > 5) also keeps the rows where x is NULL, for which `x > 5` is
        unknown and NOT of it still unknown: such a row must not match `NOT x > 5`.
        So a negation is pushed down (De Morgan) to the comparisons, and a negated
        comparison keeps only rows where its property is known.
        """
        if isinstance(n, bool) or not isinstance(n, dict) or not isinstance(
                n.get("args"), list) or not isinstance(n.get("op"), str):
            return ~self.node(n)  # a literal, or an error node() reports
        op, args = n["op"].lower(), n["args"]
        if op in ("and", "or"):
            if len(args) < 2:
                raise QueryError(f"filter: {op} needs at least two arguments")
            parts = [self.false(a) for a in args]
            return functools.reduce(operator.or_ if op == "and" else operator.and_, parts)
        if op == "not":
            if len(args) != 1:
                raise QueryError("filter: not takes one argument")
            return self.node(args[0])
        if op == "isnull":
            return ~self.node(n)  # IS NULL is never unknown
        return ~self.node(n) & self.known(args)

    def known(self, args: list) -> Q:
        """Rows where the property a comparison reads is not NULL (its truth is known)."""
        q = self.prop(args[0] if args else None, "filter")
        if q.column == STATE_COLUMN:
            return ~Q(orbit_direction="")
        if args[0]["property"].removeprefix("properties.") == "datetime":
            return Q(start_time__isnull=False, end_time__isnull=False)
        if q.column == COLLECTION_COLUMN or q.kind == "uuid":
            return Q()  # never NULL
        return Q(**{f"{q.column}__isnull": False})

    # -- pieces ------------------------------------------------------------------
    def prop(self, arg: Any, op: str) -> Queryable:
        if not isinstance(arg, dict) or not isinstance(arg.get("property"), str):
            raise QueryError(f"filter: {op} needs a property as its first argument")
        name = arg["property"].removeprefix("properties.")
        if name not in QUERYABLES:
            raise QueryError(
                f"filter: {name!r} is not a queryable; see /stac/queryables for the list"
            )
        return QUERYABLES[name]

    def value(self, q: Queryable, raw: Any, op: str) -> Any:
        if isinstance(raw, dict) and "property" in raw:
            raise QueryError(f"filter: {op} between two properties is not supported")
        if q.kind == "timestamp":
            if isinstance(raw, dict) and isinstance(raw.get("timestamp"), str):
                return parse_instant(raw["timestamp"], "filter timestamp")
            if isinstance(raw, dict) and isinstance(raw.get("date"), str):
                return parse_instant(raw["date"][:10] + "T00:00:00Z", "filter date")
            if isinstance(raw, str):
                return parse_instant(raw, "filter timestamp")
            raise QueryError(f"filter: {op} on a timestamp needs {{\"timestamp\": ...}}")
        if q.kind in ("number", "integer"):
            if isinstance(raw, bool) or not isinstance(raw, int | float) or (
                    isinstance(raw, float) and not math.isfinite(raw)):
                name = next(n for n, x in QUERYABLES.items() if x is q)
                raise QueryError(f"filter: {op} on {name} needs a number, not {raw!r:.40}")
            # Compared as Python numbers (an int of 400 digits would overflow a float).
            if abs(raw) >= (2**62 if q.kind == "integer" else 1e300):
                raise QueryError(f"filter: {raw!r:.40} is out of range for {op}")
            if q.column in LONGITUDE_COLUMNS and abs(raw) > 180:
                name = next(n for n, x in QUERYABLES.items() if x is q)
                raise QueryError(f"filter: {op} on {name}: {raw:g} is not a longitude "
                                 "in -180..180")
            return raw
        if q.kind in ("string", "uuid"):
            if not isinstance(raw, str):
                raise QueryError(f"filter: {op} needs a string, not {raw!r}")
            return clean_text(raw, "filter string", 1024)
        raise QueryError(f"filter: {op} does not apply to the footprint; use s_intersects")

    def fraction(self, op: str, args: list, top: bool) -> Q:
        """A bound on the valid fraction: recorded, not SQL (Q() leaves the rows as they are)."""
        if op not in FRACTION_OPS:
            raise QueryError(f"filter: {VALID_FRACTION} takes >=, >, <=, < or BETWEEN, not {op}")
        if not top:
            raise QueryError(
                f"filter: {VALID_FRACTION} can only be a term of the filter's top-level AND, "
                "not under OR or NOT: it is computed after the other filters have chosen "
                "the candidates")
        if len(args) != (3 if op == "between" else 2):
            what = "a property and two values" if op == "between" else "two arguments"
            raise QueryError(f"filter: {op} on {VALID_FRACTION} takes {what}")
        values = []
        for raw in args[1:]:
            if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 1:
                raise QueryError(f"filter: {VALID_FRACTION} is compared with a number in "
                                 f"0..1, not {raw!r:.40}")
            values.append(float(raw))
        bounds = {
            ">=": FractionBounds(lo=values[0]), ">": FractionBounds(lo=values[0], lo_strict=True),
            "<=": FractionBounds(hi=values[0]), "<": FractionBounds(hi=values[0], hi_strict=True),
            "between": FractionBounds(lo=values[0], hi=values[-1]),
        }[op]
        self.valid_fraction = bounds if self.valid_fraction is None else \
            self.valid_fraction.meet(bounds)
        return Q()

    def compare(self, op: str, args: list) -> Q:
        if len(args) != 2:
            raise QueryError(f"filter: {op} takes two arguments")
        q = self.prop(args[0], op)
        value = self.value(q, args[1], op)
        if q.kind == "uuid":
            if op not in ("=", "<>"):
                raise QueryError("filter: id can only be compared with = or <>")
            try:
                value = UUID(value)
            except ValueError:
                return Q(pk__in=[]) if op == "=" else Q()
        if q.column == STATE_COLUMN:
            return self.orbit_state(op, [value])
        if q.column == "platform" and op in ("=", "<>"):
            return platform_q(value) if op == "=" else ~platform_q(value)
        if op == "<>":
            return self.text(q, lambda c: ~Q(**{c: value}) & Q(**{f"{c}__isnull": False}))
        return self.text(q, lambda c: Q(**{f"{c}__{COMPARISONS[op]}": value}))

    def orbit_state(self, op: str, values: list[str]) -> Q:
        """=, <> or IN on sat:orbit_state: a known state, any case (as REST's filter)."""
        if op not in ("=", "<>", "in"):
            raise QueryError(f"filter: sat:orbit_state takes =, <>, IN or IS NULL, not {op}")
        states = [parse_orbit_state(v, "filter sat:orbit_state") for v in values]
        q = functools.reduce(operator.or_, (Q(orbit_direction__iexact=v) for v in states),
                             Q(pk__in=[]))
        return ~q & ~Q(orbit_direction="") if op == "<>" else q

    def like(self, args: list) -> Q:
        if len(args) != 2:
            raise QueryError("filter: like takes two arguments")
        q = self.prop(args[0], "like")
        pattern = self.value(q, args[1], "like")
        if q.kind != "string":
            raise QueryError("filter: like applies to string properties")
        if q.column != COLLECTION_COLUMN:
            # No index answers a pattern on the swaths' own text columns: each such
            # filter would be a scan of every swath (1.6 s on 1,000,000), so it is refused.
            raise QueryError(
                f"filter: LIKE is served on collection only; {args[0]['property']!r} has no "
                "index to answer a pattern: use = or IN")
        pattern = normalize(pattern)
        return self.text(q, lambda column: Q(Cql2Like(F(column), pattern)))

    def text(self, q: Queryable, condition: Callable[[str], Q]) -> Q:
        """`condition` on a string queryable's column; collections are looked up first.

        A condition on `collection` is answered by the collections table (a few rows)
        and the swaths are then selected by collection id through an index, so a
        pattern that names no collection costs no scan of the swaths at all.
        """
        if q.column != COLLECTION_COLUMN:
            return condition(q.column)
        ids = _collection_ids(condition("slug"))
        return Q(collection_id__in=ids) if ids is not None else condition(q.column)

    def between(self, args: list) -> Q:
        q = self.prop(args[0], "between")
        if q.column == STATE_COLUMN:
            return self.orbit_state("between", [])
        if len(args) != 3:
            raise QueryError("filter: between takes a property and two values")
        lo, hi = (self.value(q, b, "between") for b in args[1:])
        if q.column in LONGITUDE_COLUMNS and lo > hi:
            return longitude_range_q(q.column, lo, hi)
        return Q(**{f"{q.column}__gte": lo, f"{q.column}__lte": hi})

    def in_(self, args: list) -> Q:
        if len(args) != 2 or not isinstance(args[1], list):
            raise QueryError("filter: in takes a property and a list")
        if len(args[1]) > MAX_LIST_ITEMS:
            raise QueryError(f"filter: in lists are limited to {MAX_LIST_ITEMS} values")
        q = self.prop(args[0], "in")
        values = [self.value(q, v, "in") for v in args[1]]
        if q.kind == "uuid":
            ok = []
            for v in values:
                try:
                    ok.append(UUID(v))
                except ValueError:
                    continue
            values = ok
        if q.column == "platform":
            return functools.reduce(operator.or_, map(platform_q, values), Q(pk__in=[]))
        if q.column == STATE_COLUMN:
            return self.orbit_state("in", values)
        return self.text(q, lambda c: Q(**{f"{c}__in": values}))

    def s_intersects(self, args: list) -> Q:
        if len(args) != 2:
            raise QueryError("filter: s_intersects takes two arguments")
        q = self.prop(args[0], "s_intersects")
        if q.kind != "geometry":
            raise QueryError("filter: s_intersects applies to geometry")
        area = self.geometry(args[1])
        self.repairs += area.repairs
        return Q(footprint__intersects=area.geom)

    def geometry(self, raw: Any) -> QueryGeometry:
        if isinstance(raw, dict) and "bbox" in raw:
            if not isinstance(raw["bbox"], list):
                raise QueryError("filter: bbox must be an array")
            return QueryGeometry(bbox_geometry(*check_bbox(raw["bbox"], "filter bbox")))
        return parse_geojson(raw, "filter geometry")

    def interval(self, raw: Any) -> tuple[datetime, datetime]:
        if isinstance(raw, dict) and isinstance(raw.get("interval"), list) and len(
                raw["interval"]) == 2:
            ends = []
            for i, end in enumerate(raw["interval"]):
                if end == "..":
                    ends.append(FAR_PAST if i == 0 else FAR_FUTURE)
                elif isinstance(end, dict):
                    ends.append(self.value(QUERYABLES["datetime"], end, "interval"))
                else:
                    ends.append(parse_instant(end, "filter interval"))
            if ends[0] > ends[1]:
                raise QueryError("filter: the interval ends before it starts")
            return ends[0], ends[1]
        t = self.value(QUERYABLES["datetime"], raw, "temporal function")
        return t, t

    def temporal(self, op: str, args: list) -> Q:
        if len(args) != 2:
            raise QueryError(f"filter: {op} takes two arguments")
        q = self.prop(args[0], op)
        if q.kind != "timestamp":
            raise QueryError(f"filter: {op} applies to datetime properties")
        a, b = self.interval(args[1])
        # The item's interval is [start_time, end_time] for 'datetime'; an instant
        # property (start_datetime, ...) is [value, value].
        s, e = (("start_time", "end_time") if args[0]["property"].removeprefix(
            "properties.") == "datetime" else (q.column, q.column))
        rel = {
            "t_after": Q(**{f"{s}__gt": b}),
            "t_before": Q(**{f"{e}__lt": a}),
            "t_contains": Q(**{f"{s}__lt": a, f"{e}__gt": b}),
            "t_disjoint": Q(**{f"{e}__lt": a}) | Q(**{f"{s}__gt": b}),
            "t_during": Q(**{f"{s}__gt": a, f"{e}__lt": b}),
            "t_equals": Q(**{s: a, e: b}),
            "t_finishedby": Q(**{f"{s}__lt": a, e: b}),
            "t_finishes": Q(**{f"{s}__gt": a, e: b}),
            "t_intersects": Q(**{f"{s}__lte": b, f"{e}__gte": a}),
            "t_meets": Q(**{e: a}),
            "t_metby": Q(**{s: b}),
            "t_overlappedby": Q(**{f"{s}__gt": a, f"{s}__lt": b, f"{e}__gt": b}),
            "t_overlaps": Q(**{f"{s}__lt": a, f"{e}__gt": a, f"{e}__lt": b}),
            "t_startedby": Q(**{s: a, f"{e}__gt": b}),
            "t_starts": Q(**{s: a, f"{e}__lt": b}),
        }
        return rel[op]


def _collection_ids(condition: Q) -> list[int] | None:
    """Ids of the collections meeting `condition` (on their slug); None when too many."""
    ids = list(Collection.objects.filter(condition).values_list("id", flat=True)
               [:MAX_LIST_ITEMS + 1])
    return ids if len(ids) <= MAX_LIST_ITEMS else None


def compile_filter(node: Any) -> Compiled:
    """Compile a CQL2-JSON expression (Compiled: the Q, repairs, valid-fraction bounds)."""
    c = _Compiler()
    q = c.node(parse_json(node), top=True)
    return Compiled(q, c.repairs, c.valid_fraction)

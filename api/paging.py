"""Sorting and keyset paging: page 1,000 costs what page 1 costs (no OFFSET).

Order is a list of (column, descending) pairs followed by the primary key as the
tie-breaker. NULLs sort as the largest value in both directions (PostgreSQL's
default), so `ORDER BY start_time DESC, id DESC` walks the b-tree on
(start_time, id) backwards. A token carries the last row's sort values, the
snapshot time of page 1 and the number matched then, so later pages neither
repeat nor skip rows that existed when the search began, whatever is ingested
meanwhile.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import F, OrderBy, Q, QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor as DrfCursor
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

from api.exceptions import QueryError
from eo.times import parse_instant

MAX_LIMIT = 1000
MAX_SORT_KEYS = 3

# public sort name -> column; REST and STAC spellings both accepted
SORT_COLUMNS = {
    "datetime": "start_time", "start_datetime": "start_time", "start_time": "start_time",
    "end_datetime": "end_time", "end_time": "end_time",
    "sat:absolute_orbit": "orbit", "orbit": "orbit",
    "created": "created_at", "created_at": "created_at",
    "updated": "updated_at", "updated_at": "updated_at",
    "id": "uuid", "uuid": "uuid", "size": "size", "file:size": "size",
    "valid_fraction": "valid_fraction", "swathstore:valid_fraction": "valid_fraction",
}
# Not a column: the valid fraction over the search's region, computed in Python after
# the SQL (api.coverage sorts and pages on it; api.search refuses it elsewhere).
VALID_FRACTION = "valid_fraction"
DATETIME_COLUMNS = {"start_time", "end_time", "created_at", "updated_at"}
DEFAULT_SORT: tuple[tuple[str, bool], ...] = (("start_time", True),)


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts, and what page 1 saw."""

    values: list[Any]
    pk: int
    snapshot: datetime | None = None
    matched: int | None = None
    exact: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def parse_limit(raw: object, default: int = 100) -> int:
    """Return the page size, 1..MAX_LIMIT."""
    if raw in (None, ""):
        return default
    if isinstance(raw, bool):
        raise QueryError(f"limit={raw!r} is not an integer")
    try:
        value = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError) as e:  # OverflowError: int(1e400)
        raise QueryError(f"limit={raw!r} is not an integer") from e
    if isinstance(raw, float) and raw != value:
        raise QueryError(f"limit={raw!r} is not an integer")
    if value < 1:
        raise QueryError(f"limit={value} must be between 1 and {MAX_LIMIT}")
    # Above the maximum the server pages at its maximum (OGC API Features, STAC).
    return min(value, MAX_LIMIT)


def parse_sortby(raw: object) -> tuple[tuple[str, bool], ...]:
    """Parse '-datetime,+id' (GET) or [{"field": ..., "direction": ...}] (POST).

    >>> parse_sortby("-datetime,id")
    (('start_time', True), ('uuid', False))
    """
    if raw in (None, "", []):
        return DEFAULT_SORT
    items: list[tuple[str, bool]] = []
    if isinstance(raw, str):
        for part in raw.split(","):
            part = part.strip()
            desc = part.startswith("-")
            items.append((part.lstrip("+- "), desc))
    elif isinstance(raw, list):
        for entry in raw:
            if not isinstance(entry, dict) or not isinstance(entry.get("field"), str):
                raise QueryError('sortby items must be {"field": name, "direction": "asc|desc"}')
            direction = entry.get("direction", "asc")
            if direction not in ("asc", "desc"):
                raise QueryError(f"sortby direction {direction!r} must be asc or desc")
            items.append((entry["field"], direction == "desc"))
    else:
        raise QueryError("sortby must be a string such as -datetime or a list of objects")
    if len(items) > MAX_SORT_KEYS:
        raise QueryError(f"sortby accepts at most {MAX_SORT_KEYS} fields")
    out = []
    for name, desc in items:
        key = name.removeprefix("properties.")
        if key not in SORT_COLUMNS:
            raise QueryError(
                f"sortby field {name!r} is not sortable; use one of "
                f"{', '.join(sorted(set(SORT_COLUMNS)))}"
            )
        column = SORT_COLUMNS[key]
        if column not in [c for c, _ in out]:
            out.append((column, desc))
    return tuple(out)


def order_by(order: tuple[tuple[str, bool], ...]) -> list[OrderBy]:
    """ORDER BY terms with NULLs as the largest value, then the pk tie-breaker."""
    terms = [
        F(col).desc(nulls_first=True) if desc else F(col).asc(nulls_last=True)
        for col, desc in order
    ]
    last_desc = order[-1][1] if order else True
    terms.append(F("id").desc() if last_desc else F("id").asc())
    return terms


def after(order: tuple[tuple[str, bool], ...], cursor: Cursor) -> Q:
    """Rows strictly after the cursor's row in `order`, as a Q."""
    if len(cursor.values) != len(order):
        raise QueryError("next token does not belong to this sort order: start again")
    last_desc = order[-1][1] if order else True
    result = Q(id__lt=cursor.pk) if last_desc else Q(id__gt=cursor.pk)
    # Build from the last key outwards: (k1 after) | (k1 == v1 & ((k2 after) | ...)).
    for (col, desc), value in reversed(list(zip(order, cursor.values, strict=True))):
        if value is None:
            equal, beyond = Q(**{f"{col}__isnull": True}), Q(pk__in=[])
            if desc:  # NULLs come first when descending: every non-NULL is after
                beyond = Q(**{f"{col}__isnull": False})
        else:
            equal = Q(**{col: value})
            beyond = Q(**{f"{col}__lt" if desc else f"{col}__gt": value})
            if not desc:  # NULLs come last when ascending
                beyond |= Q(**{f"{col}__isnull": True})
        result = beyond | (equal & result)
    col, desc = order[0]
    if desc and cursor.values[0] is not None:
        # Implied by the OR above (NULLs come first when descending), but said
        # plainly it bounds the index scan: page 1,000 then starts where page 999
        # ended instead of filtering its way past 99,900 rows.
        result &= Q(**{f"{col}__lte": cursor.values[0]})
    elif not desc and cursor.values[0] is not None:
        result &= Q(**{f"{col}__gte": cursor.values[0]}) | Q(**{f"{col}__isnull": True})
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def fingerprint(parts: object) -> str:
    """A short hash of the query, so a token is not reused with other filters."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def encode(order: tuple[tuple[str, bool], ...], row: Any, cursor: Cursor, query: str) -> str:
    """Token for 'after this row'; carries page 1's snapshot and match count."""
    payload = {
        "v": [_plain(row[col] if isinstance(row, dict) else getattr(row, col))
              for col, _ in order],
        "id": row["id"] if isinstance(row, dict) else row.pk,
        "s": cursor.snapshot.isoformat() if cursor.snapshot else None,
        "n": cursor.matched,
        "e": cursor.exact,
        "q": query,
    }
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode(token: str, order: tuple[tuple[str, bool], ...], query: str) -> Cursor:
    """Read a token made by encode(); QueryError if it is not one.

    A token is only base64 JSON, so anyone can edit one: every value is checked as a
    request parameter would be (an instant through api.params, ids and integers
    within the columns' range), never trusted to be what encode() wrote.
    """
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        same_query = payload["q"] == query
        cursor = _cursor(payload, order) if same_query else None
    except (QueryError, ValueError, KeyError, TypeError, AttributeError, UnicodeError,
            RecursionError) as e:
        raise QueryError("next token is not valid: start again from the first page") from e
    if cursor is None:
        raise QueryError("next token belongs to another query: start again from page 1")
    return cursor


def _cursor(payload: dict[str, Any], order: tuple[tuple[str, bool], ...]) -> Cursor:
    values: list[Any] = []
    for (col, _), raw in zip(order, payload["v"], strict=True):
        if raw is None:
            values.append(None)
        elif col in DATETIME_COLUMNS:
            values.append(parse_instant(raw, "next token"))
        elif col == "uuid":
            values.append(UUID(raw))
        elif col == VALID_FRACTION:
            if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 1:
                raise ValueError(f"{raw!r} is not a fraction")
            values.append(float(raw))
        else:
            values.append(_bigint(raw))
    snapshot = parse_instant(payload["s"], "next token") if payload["s"] else None
    matched = payload["n"]
    if matched is not None and _bigint(matched) < 0:
        raise ValueError("n")
    return Cursor(values=values, pk=_bigint(payload["id"]), snapshot=snapshot,
                  matched=matched, exact=bool(payload["e"]))


def _bigint(raw: object) -> int:
    """An integer a bigint column can hold; ValueError for anything else (bool, 1e400)."""
    if isinstance(raw, bool) or not isinstance(raw, int) or not -(2**63) <= raw < 2**63:
        raise ValueError(f"{raw!r} is not a 64-bit integer")
    return raw


def page_after(qs: QuerySet, order: tuple[tuple[str, bool], ...],
               cursor: Cursor | None) -> QuerySet:
    """Apply the order and, for later pages, the keyset condition."""
    if cursor is not None:
        qs = qs.filter(after(order, cursor))
    return qs.order_by(*order_by(order))


class IdCursorPagination(CursorPagination):
    """DRF's cursor pages over the primary key (newest first), edited cursors a 400.

    DRF checks a cursor's offset but passes its position to the query as it is, so
    `?cursor=cD1hYmM=` (p=abc) reached the database as `id < 'abc'`.
    """

    ordering = "-id"
    page_size = 100
    max_page_size = MAX_LIMIT
    page_size_query_param = "limit"

    def get_page_size(self, request: Request) -> int:
        """`limit` as the swath searches read it: a 400 when it is no integer >= 1.

        DRF falls back to the default page size for limit=null or limit=0 instead.
        """
        return parse_limit(request.query_params.get(self.page_size_query_param),
                           default=self.page_size)

    def decode_cursor(self, request: Request) -> DrfCursor | None:
        """The cursor of the request, None on page 1; QueryError if it was edited."""
        invalid = QueryError("cursor is not valid: start again from the first page")
        try:
            cursor = super().decode_cursor(request)
        except NotFound as e:
            raise invalid from e
        if cursor is not None and cursor.position is not None:
            text = str(cursor.position)  # the text after p= (typed int in DRF's stubs)
            if not (text.isascii() and text.isdigit() and len(text) < 19):
                raise invalid
        return cursor

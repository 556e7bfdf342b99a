"""Parsers for query parameters; each raises QueryError naming the parameter.

Every value is checked here, before anything reaches the database: PostGIS would
silently coerce a latitude of 95 with only a NOTICE (RELIABILITY D6).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from api.exceptions import QueryError

MAX_LIST_ITEMS = 100  # ids, collections: a huge IN list is refused, not run (M5)
MAX_TOKEN_CHARS = 256

# RFC 3339 date-time: a date, 'T' (or 't' or ' '), a time, optional fraction, a zone.
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?"
    r"([Zz]|[+-]\d{2}:\d{2})?$"
)


def clean_text(value: str, name: str, max_len: int = 255) -> str:
    """A text value with no NUL or other control characters (PostgreSQL refuses NUL)."""
    if not isinstance(value, str):
        raise QueryError(f"{name} must be a string")
    if len(value) > max_len:
        raise QueryError(f"{name} is longer than {max_len} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise QueryError(f"{name} contains control characters")
    return value


def parse_float(raw: str, name: str) -> float:
    """Parse a finite number."""
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError) as e:
        raise QueryError(f"{name}={raw!r} is not a number") from e
    if not math.isfinite(value):
        raise QueryError(f"{name}={raw!r} must be a finite number")
    return value


def check_bbox(values: list[float], name: str = "bbox") -> tuple[float, float, float, float]:
    """Check a 4- or 6-number bbox (heights are ignored); return (W, S, E, N).

    Numbers beyond +-180/+-90 are accepted: the box covers only the part of the world
    it overlaps (catalog.geometry.bbox_pieces), so one wholly outside matches nothing.

    >>> check_bbox([170, -10, -170, 10])
    (170.0, -10.0, -170.0, 10.0)
    >>> check_bbox([0, 0, -5, 10, 10, 5])
    (0.0, 0.0, 10.0, 10.0)
    """
    if len(values) == 6:  # W,S,zmin,E,N,zmax
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4:
        raise QueryError(f"{name} must be four numbers W,S,E,N (or six with heights)")
    try:
        west, south, east, north = (float(v) for v in values)
    except (TypeError, ValueError, OverflowError) as e:  # OverflowError: a 400-digit int
        raise QueryError(f"{name} must be four numbers W,S,E,N") from e
    for label, value in (("west", west), ("east", east), ("south", south), ("north", north)):
        if not math.isfinite(value):
            raise QueryError(f"{name} {label}={value} must be a finite number")
    if south > north:
        raise QueryError(
            f"{name} south={south} is greater than north={north}: the order is W,S,E,N"
        )
    return west, south, east, north


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    """Parse 'W,S,E,N' (west > east crosses the antimeridian).

    >>> parse_bbox("170,-10,-170,10")
    (170.0, -10.0, -170.0, 10.0)
    """
    parts = raw.split(",")
    if len(parts) not in (4, 6):
        raise QueryError(f"bbox={raw!r} must be four numbers W,S,E,N")
    return check_bbox([parse_float(p, "bbox") for p in parts])


def parse_instant(raw: str, name: str = "datetime") -> datetime:
    """Parse an RFC 3339 instant; a time zone (Z or offset) is required.

    >>> parse_instant("2024-01-01T00:00:00Z").isoformat()
    '2024-01-01T00:00:00+00:00'
    >>> parse_instant("2024-01-01t10:00:00.123456789z").microsecond
    123456
    """
    if not isinstance(raw, str):
        raise QueryError(f"{name}={raw!r} is not an RFC 3339 date-time string")
    text = raw.strip()
    m = _RFC3339.match(text)
    if m is None:
        raise QueryError(
            f"{name}={raw!r} is not an RFC 3339 date-time such as 2024-01-31T12:00:00Z"
        )
    if m.group(8) is None:
        raise QueryError(f"{name}={raw!r} has no time zone: add Z or an offset such as +00:00")
    frac = (m.group(7) or "")[1:7].ljust(6, "0") if m.group(7) else "0"
    zone = "+00:00" if m.group(8) in ("Z", "z") else m.group(8)
    try:
        value = datetime.fromisoformat(
            f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}:{m.group(5)}:{m.group(6)}"
            f".{int(frac):06d}{zone}"
        )
    except ValueError as e:
        raise QueryError(f"{name}={raw!r} is not a valid date-time: {e}") from e
    try:
        return value.astimezone(UTC)
    except OverflowError as e:
        # 9999-12-31T23:59:59-01:00 is a valid local time whose UTC instant is past
        # the calendar Python (and the catalog) can hold.
        raise QueryError(
            f"{name}={raw!r} is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z"
        ) from e


def parse_interval(raw: str, name: str = "datetime") -> tuple[datetime | None, datetime | None]:
    """Parse an instant or 'start/end' with '..' or '' for an open end.

    >>> parse_interval("2024-01-01T00:00:00Z/..")[1] is None
    True
    """
    if not isinstance(raw, str):
        raise QueryError(f"{name} must be a string")
    if "/" not in raw:
        instant = parse_instant(raw, name)
        return instant, instant
    start_raw, _, end_raw = raw.partition("/")
    start = None if start_raw in ("", "..") else parse_instant(start_raw, name)
    end = None if end_raw in ("", "..") else parse_instant(end_raw, name)
    if start is None and end is None:
        raise QueryError(f"{name}={raw!r} is open at both ends")
    if start and end and start > end:
        raise QueryError(f"{name}={raw!r} ends before it starts")
    return start, end


def parse_list(raw: str | list, name: str, max_items: int = MAX_LIST_ITEMS) -> list[str]:
    """Parse a comma-separated list (or a JSON list of strings), at most max_items."""
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise QueryError(f"{name} must be a list of strings")
    if isinstance(raw, list) and len(raw) > max_items:  # as sent: its schema's maxItems
        raise QueryError(f"{name} has {len(raw)} values; at most {max_items} are allowed")
    items = [i.strip() for i in items if i.strip()]
    if len(items) > max_items:
        raise QueryError(f"{name} has {len(items)} values; at most {max_items} are allowed")
    return [clean_text(i, name) for i in items]


def parse_orbit(raw: str) -> tuple[int | None, int | None]:
    """Parse an orbit number 'N' or a range 'A..B' (either end may be empty).

    >>> parse_orbit("100..200")
    (100, 200)
    >>> parse_orbit("7")
    (7, 7)
    """
    lo_raw, sep, hi_raw = raw.partition("..")
    try:
        lo = int(lo_raw) if lo_raw.strip() else None
        hi = (int(hi_raw) if hi_raw.strip() else None) if sep else lo
    except ValueError as e:
        raise QueryError(f"orbit={raw!r} must be a number or a range such as 100..200") from e
    if lo is None and hi is None:
        raise QueryError(f"orbit={raw!r} must be a number or a range such as 100..200")
    for v in (lo, hi):
        if v is not None and not 0 <= v < 2**31:
            raise QueryError(f"orbit={raw!r} is out of range")
    if lo is not None and hi is not None and lo > hi:
        raise QueryError(f"orbit={raw!r}: the range ends before it starts")
    return lo, hi


def parse_point(raw: str) -> tuple[float, float]:
    """Parse 'lon,lat' within the valid ranges."""
    parts = raw.split(",")
    if len(parts) != 2:
        raise QueryError(f"point={raw!r} must be lon,lat")
    lon, lat = (parse_float(p, "point") for p in parts)
    if abs(lon) > 180 or abs(lat) > 90:
        raise QueryError(f"point={raw!r} is outside lon -180..180, lat -90..90")
    return lon, lat


def parse_token(raw: str | None) -> str | None:
    """A paging token is opaque but bounded in size."""
    if raw in (None, ""):
        return None
    if not isinstance(raw, str) or len(raw) > MAX_TOKEN_CHARS:
        raise QueryError("next token is not valid: start again from the first page")
    return raw

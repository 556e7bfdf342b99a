"""Parsers for query parameters; each raises QueryError naming the parameter.

Every value is checked here, before anything reaches the database: PostGIS would
silently coerce a latitude of 95 with only a NOTICE (RELIABILITY D6).
"""

from __future__ import annotations

import math

from api.exceptions import QueryError

# The box and time rules live in eo (one rule for every entry point); the CQL2 compiler
# still reads these two names here.
from eo.boxes import parse_box as check_bbox  # noqa: F401
from eo.times import parse_instant  # noqa: F401

MAX_LIST_ITEMS = 100  # ids, collections: a huge IN list is refused, not run (M5)
MAX_TOKEN_CHARS = 256


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


def parse_orbit(raw: str, name: str = "orbit") -> tuple[int | None, int | None]:
    """Parse an orbit-like number 'N' or a range 'A..B' (either end may be empty).

    The one rule for `orbit`, `relative_orbit`, `orbit_cycle` and `pass_number`.

    >>> parse_orbit("100..200")
    (100, 200)
    >>> parse_orbit("7")
    (7, 7)
    >>> parse_orbit("..12", "pass_number")
    (None, 12)
    """
    what = f"{name}={raw!r} must be a whole number N or a range A..B (either end may be empty)"
    lo_raw, sep, hi_raw = raw.partition("..")
    try:
        lo = int(lo_raw) if lo_raw.strip() else None
        hi = (int(hi_raw) if hi_raw.strip() else None) if sep else lo
    except ValueError as e:
        raise QueryError(what) from e
    if lo is None and hi is None:
        raise QueryError(what)
    for v in (lo, hi):
        if v is not None and not 0 <= v < 2**31:
            raise QueryError(f"{name}={raw!r} is out of range: numbers are 0 to {2**31 - 1}")
    if lo is not None and hi is not None and lo > hi:
        raise QueryError(f"{name}={raw!r}: the range ends before it starts")
    return lo, hi


def parse_longitude_range(raw: str, name: str = "equator_crossing") -> tuple[float, float]:
    """'W,E' longitudes in -180..180; W > E is the range across +-180.

    >>> parse_longitude_range("170,-170")
    (170.0, -170.0)
    """
    parts = raw.split(",")
    if len(parts) != 2:
        raise QueryError(f"{name}={raw!r:.40} must be W,E: two longitudes in -180..180 "
                         "(W > E crosses the antimeridian, e.g. 170,-170)")
    west, east = (parse_float(p, name) for p in parts)
    if abs(west) > 180 or abs(east) > 180:
        raise QueryError(f"{name}={raw!r:.40}: longitudes must be within -180..180")
    return west, east


# sat:orbit_state's values (sat extension v1.1.0); rows hold the first two.
ORBIT_STATES = ("ascending", "descending", "geostationary")


def parse_fraction_range(raw: str, name: str = "valid_fraction"
                         ) -> tuple[float | None, float | None]:
    """A fraction in 0..1 'X' (at least X) or a range 'A..B' (either end may be empty).

    >>> parse_fraction_range("0.5")
    (0.5, None)
    >>> parse_fraction_range("0.2..0.8")
    (0.2, 0.8)
    """
    what = (f"{name}={raw!r:.40} must be a number in 0..1 (at least that) or a range A..B "
            "within 0..1 (either end may be empty)")
    lo_raw, sep, hi_raw = raw.partition("..")
    try:
        lo = float(lo_raw) if lo_raw.strip() else None
        hi = float(hi_raw) if sep and hi_raw.strip() else None
    except ValueError as e:
        raise QueryError(what) from e
    if (lo is None and hi is None) or any(v is not None and not 0 <= v <= 1 for v in (lo, hi)):
        raise QueryError(what)  # NaN fails 0 <= v too
    if lo is not None and hi is not None and lo > hi:
        raise QueryError(f"{name}={raw!r:.40}: the range ends before it starts")
    return lo, hi


def parse_orbit_state(raw: str, name: str = "orbit_direction") -> str:
    """An orbit state, case-insensitive: one of ORBIT_STATES, lowercased.

    >>> parse_orbit_state("Ascending")
    'ascending'
    """
    value = raw.strip().lower()
    if value not in ORBIT_STATES:
        raise QueryError(f"{name}={raw!r:.40} must be one of {', '.join(ORBIT_STATES)}")
    return value


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

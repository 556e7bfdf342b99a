"""Time instants and intervals as users write them, one rule for the API and every command.

An instant is RFC 3339 with a zone (``2024-01-31T12:00:00Z``, ``...+02:00``); a date-time
without a zone is refused rather than guessed. An interval is one instant, or
``START/END`` where ``..`` or nothing is an open end. Either end of ``START/END`` may
be a bare date: as START it is that day's first instant (00:00Z), as END its last
(23:59:59.999999Z), so ``2024-01-01/2024-01-31`` is all of January. A bare date alone
is refused: STAC API's conformance tests require a 400 for ``datetime=1985-04-12``
(a single value is an instant), so the whole day is written ``2024-01-31/2024-01-31``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from eo.errors import InputError

# A date, 'T' (or 't' or ' '), a time, an optional fraction, a zone.
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?$"
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_LAST_MICROSECOND = timedelta(days=1, microseconds=-1)
_RANGE = "0001-01-01T00:00:00Z..9999-12-31T23:59:59Z"


def parse_instant(raw: object, name: str = "datetime") -> datetime:
    """Return the aware UTC datetime of an RFC 3339 date-time (a zone is required).

    >>> parse_instant("2024-01-01t10:00:00.123456789+01:00").isoformat()
    '2024-01-01T09:00:00.123456+00:00'
    """
    if not isinstance(raw, str):
        raise InputError(f"{name}={raw!r:.80} is not an RFC 3339 date-time string")
    m = _RFC3339.match(raw.strip())
    if m is None:
        raise InputError(
            f"{name}={raw!r:.80} is not an RFC 3339 date-time such as 2024-01-31T12:00:00Z")
    if m.group(8) is None:
        raise InputError(f"{name}={raw!r:.80} has no time zone: add Z or an offset such as +00:00")
    frac = (m.group(7) or ".0")[1:7].ljust(6, "0")
    zone = "+00:00" if m.group(8) in ("Z", "z") else m.group(8)
    y, mo, d, h, mi, s = m.group(1, 2, 3, 4, 5, 6)
    try:
        value = datetime.fromisoformat(f"{y}-{mo}-{d}T{h}:{mi}:{s}.{frac}{zone}")
    except ValueError as e:
        raise InputError(f"{name}={raw!r:.80} is not a valid date-time: {e}") from e
    try:
        return value.astimezone(UTC)
    except OverflowError as e:
        # 9999-12-31T23:59:59-01:00 is a valid local time whose UTC instant is past
        # the calendar Python (and the catalog) can hold.
        raise InputError(f"{name}={raw!r:.80} is outside {_RANGE}") from e


def _day(raw: str, name: str) -> datetime | None:
    """Midnight UTC starting the day ``raw`` names, or None if it is not a bare date."""
    m = _DATE.match(raw.strip())
    if m is None:
        return None
    try:
        return datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=UTC)
    except ValueError as e:
        raise InputError(f"{name}={raw!r:.80} is not a valid date: {e}") from e


def _end(raw: str, name: str) -> datetime:
    day = _day(raw, name)
    if day is None:
        return parse_instant(raw, name)
    try:
        return day + _LAST_MICROSECOND
    except OverflowError:  # 9999-12-31
        return datetime.max.replace(tzinfo=UTC)


def _start(raw: str, name: str) -> datetime:
    day = _day(raw, name)
    return day if day is not None else parse_instant(raw, name)


def parse_interval(raw: object, name: str = "datetime") -> tuple[datetime | None, datetime | None]:
    """Return (start, end), None for an open end, from an instant, a date or START/END.

    >>> [t and t.isoformat() for t in parse_interval("2024-01-01/2024-01-31")]
    ['2024-01-01T00:00:00+00:00', '2024-01-31T23:59:59.999999+00:00']
    >>> parse_interval("2024-01-01T00:00:00Z/..")[1] is None
    True
    """
    if not isinstance(raw, str):
        raise InputError(f"{name} must be a string such as 2024-01-01T00:00:00Z/..")
    if "/" not in raw:
        if _DATE.match(raw.strip()):
            raise InputError(f"{name}={raw!r:.80} is a date, not an instant: write "
                             f"{raw.strip()}/{raw.strip()} for that whole day")
        instant = parse_instant(raw, name)
        return instant, instant
    first, _, last = raw.partition("/")
    start = None if first.strip() in ("", "..") else _start(first, name)
    end = None if last.strip() in ("", "..") else _end(last, name)
    if start is None and end is None:
        raise InputError(f"{name}={raw!r:.80} is open at both ends")
    if start is not None and end is not None and start > end:
        raise InputError(f"{name}={raw!r:.80} ends before it starts")
    return start, end

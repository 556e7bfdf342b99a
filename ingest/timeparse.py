"""Decode swath times from the data: CF units, offsets, GPS, TAI-93 and ATLAS epochs.

Shared with the subset kernel and MPI workers: no Django. Works on :class:`ingest.geoloc.VarRef`.
Granule attributes (time_coverage_start/end and kin) are used only by
:func:`attribute_time_range`, the fallback when no time variable can be decoded.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from eo.attributes import parse_pvl
from ingest.geoloc import GeoPair, VarRef, core_shape, read_masked

GPS_EPOCH = datetime(1980, 1, 6, tzinfo=UTC)
TAI93_EPOCH = datetime(1993, 1, 1, tzinfo=UTC)
# (UTC instant from which it applies, TAI-UTC seconds); IERS Bulletin C, since the GPS epoch.
TAI_MINUS_UTC = [(datetime(year, month, 1, tzinfo=UTC), seconds) for year, month, seconds in (
    (1980, 1, 19), (1981, 7, 20), (1982, 7, 21), (1983, 7, 22), (1985, 7, 23), (1988, 1, 24),
    (1990, 1, 25), (1991, 1, 26), (1992, 7, 27), (1993, 7, 28), (1994, 7, 29), (1996, 1, 30),
    (1997, 7, 31), (1999, 1, 32), (2006, 1, 33), (2009, 1, 34), (2012, 7, 35), (2015, 7, 36),
    (2017, 1, 37),
)]
DURATION_SECONDS = {
    "us": 1e-6, "microsecond": 1e-6, "microseconds": 1e-6,
    "ms": 1e-3, "msec": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}
EARLIEST = datetime(1957, 10, 4, tzinfo=UTC)  # Sputnik: nothing older is a satellite time
SINCE = re.compile(r"^\s*([a-zA-Z]+)\s+since\s+(.+?)\s*$")
OFFSET_NAME = re.compile(r"(dtime|delta_time|time_offset|offset_time)$", re.I)
TIME_NAME = re.compile(r"^(time|delta_time|timemidscan|utc_time|scan_time|time_utc|"
                       r"time_\w+|\w+_time)$", re.I)
NOT_TIME = re.compile(r"(bnds|bounds|localsolartime|solar|_flag|coverage|duration|"
                      r"resolution|offset$)", re.I)
# (start key, end key) pairs of granule attributes, most specific first.
ATTRIBUTE_PAIRS = [
    ("time_coverage_start", "time_coverage_end"),
    ("StartGranuleDateTime", "StopGranuleDateTime"),
    ("first_measurement_time", "last_measurement_time"),
    ("first_meas_time", "last_meas_time"),
    ("sensing_start", "sensing_stop"),
    ("StartUTC", "EndUTC"),
    ("RangeBeginningDateTime", "RangeEndingDateTime"),
    ("start_time", "stop_time"),
    ("start_time", "end_time"),
]


@dataclass(frozen=True)
class TimeRange:
    """A granule's time range, where it came from and how it was encoded."""

    start: datetime
    end: datetime
    source: str  # "data" or "attribute fallback"
    variable: str  # variable path(s) or attribute names
    encoding: str  # e.g. "CF seconds since 1990-01-01", "GPS seconds", "TAI-93 seconds"


def leap_offset(when: datetime) -> int:
    """Return TAI-UTC (seconds) in force at a UTC instant (19 before 1981-07-01)."""
    after = bisect.bisect_right(TAI_MINUS_UTC, when, key=lambda entry: entry[0])
    return TAI_MINUS_UTC[max(after - 1, 0)][1]


def from_gps_seconds(seconds: float) -> datetime:
    """Return the UTC instant of GPS seconds since 1980-01-06 (leap seconds removed)."""
    approx = GPS_EPOCH + timedelta(seconds=float(seconds))
    return approx - timedelta(seconds=leap_offset(approx) - 19)


def from_tai93_seconds(seconds: float) -> datetime:
    """Return the UTC instant of TAI-93 seconds (SI seconds since 1993-01-01 UTC)."""
    approx = TAI93_EPOCH + timedelta(seconds=float(seconds))
    return approx - timedelta(seconds=leap_offset(approx) - 27)


def parse_datetime(text: str) -> datetime | None:
    """Return an aware UTC datetime from the timestamp spellings found in granule attributes."""
    text = str(text).strip().strip('"')
    text = re.sub(r"^(UTC|TAI|GPS)=", "", text)
    if not text:
        return None
    formats = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y%m%dT%H%M%SZ", "%Y%m%dT%H%M%S",
               "%d-%b-%Y %H:%M:%S.%f", "%d-%b-%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f",
               "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")
    for fmt in formats:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _plausible(when: datetime) -> bool:
    return EARLIEST <= when <= datetime.now(UTC) + timedelta(days=366)


def _to_datetime(value: Any) -> datetime:
    """Return an aware UTC datetime from num2date output (cftime dates clamped to real days)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    # Non-standard calendars (360_day, noleap) have dates like Feb 30: clamp to a real day.
    day = min(value.day, 28) if value.month == 2 else min(value.day, 30)
    return datetime(value.year, value.month, day, value.hour, value.minute, value.second,
                    getattr(value, "microsecond", 0), tzinfo=UTC)


def decode_cf(values: Sequence[float], units: str, calendar: str = "standard") -> list[datetime]:
    """Return aware UTC datetimes for numbers in CF ``<unit> since <epoch>`` units."""
    import cftime

    calendar = (calendar or "standard").lower()
    dates = cftime.num2date(np.asarray(values, dtype=np.float64), units, calendar=calendar,
                            only_use_cftime_datetimes=False, only_use_python_datetimes=False)
    return [_to_datetime(d) for d in np.atleast_1d(dates)]


def _extremes(var: VarRef) -> tuple[float, float] | None:
    """Return the least and greatest finite values of ``var``; None if none or unreadable."""
    try:
        values = read_masked(var)
    except (TypeError, ValueError, OSError):
        return None
    data = values.compressed() if np.ma.isMaskedArray(values) else np.asarray(values).ravel()
    data = data[np.isfinite(data)]
    if data.size == 0:
        return None
    return float(data.min()), float(data.max())


def _units(var: VarRef) -> str:
    return var.attr_str("units", "Units")


def _duration(var: VarRef) -> float | None:
    return DURATION_SECONDS.get(_units(var).strip().lower())


def _compatible(var: VarRef, geo_shape: tuple[int, ...]) -> int:
    """Score how well a time variable's shape matches the geolocation (0 = unrelated)."""
    shape = core_shape(var)
    if var.size == 0:
        return 0
    if shape == geo_shape:
        return 8
    if geo_shape[: len(shape)] == shape:
        return 6
    if var.size == 1:
        return 1
    return 0


def _location(var: VarRef, group: str) -> int:
    if var.group == group:
        return 30
    if var.group.startswith(group.rstrip("/") + "/"):
        return 20
    if group.startswith(var.group.rstrip("/") + "/") or var.group == "/":
        return 10
    if group != "/" and _parent(var.group) == _parent(group):
        return 5  # a sibling: OBPG L2 keeps time in scan_line_attributes, beside navigation_data
    return 0


def _parent(group: str) -> str:
    return group.rstrip("/").rsplit("/", 1)[0] or "/"


def _is_time_like(var: VarRef) -> bool:
    if NOT_TIME.search(var.name) or var.dtype.startswith(("str", "|S", "object")):
        return False
    return (var.attr_str("standard_name").lower() == "time" or " since " in _units(var)
            or bool(TIME_NAME.match(var.name)))


def _decode_var(var: VarRef, epoch: str | None) -> tuple[datetime, datetime, str] | None:
    """Return (start, end, encoding) of one time variable, or None if it cannot be decoded."""
    ext = _extremes(var)
    if ext is None:
        return None
    units = _units(var)
    if SINCE.match(units):
        try:
            first, last = decode_cf(ext, units, var.attr_str("calendar") or "standard")
        except (ValueError, TypeError, OverflowError):
            return None
        label = var.attr_str("long_name")
        if re.search(r"\bTAI\b", label) and not re.search(r"\bUTC\b", label):
            # The clock is TAI, which counts leap seconds (CryoSat-2 time_20_ku):
            # UTC = TAI - (TAI-UTC).
            first -= timedelta(seconds=leap_offset(first))
            last -= timedelta(seconds=leap_offset(last))
            return first, last, f"CF {units} (TAI scale, leap seconds removed)"
        return first, last, f"CF {units}"
    scale = _duration(var)
    if scale is None:
        return None
    if epoch == "gps" or var.name.lower() == "timemidscan":
        return (from_gps_seconds(ext[0] * scale), from_gps_seconds(ext[1] * scale),
                "GPS seconds since 1980-01-06")
    if epoch == "tai93":
        return (from_tai93_seconds(ext[0] * scale), from_tai93_seconds(ext[1] * scale),
                "TAI-93 seconds")
    return None


def _decode_offset(offset: VarRef, reference: VarRef) -> tuple[datetime, datetime, str] | None:
    """Return the range of ``reference + offset`` (TROPOMI delta_time, GHRSST sst_dtime)."""
    ref = _decode_var(reference, None)
    scale = _duration(offset)
    if ref is None or scale is None:
        return None
    ext = _extremes(offset)
    if ext is None:
        return None
    base = ref[0]
    return (base + timedelta(seconds=ext[0] * scale), base + timedelta(seconds=ext[1] * scale),
            f"{ref[2]} + {_units(offset)} offset")


def _candidates(variables: Sequence[VarRef], pair: GeoPair) -> list[tuple[int, Any]]:
    geo_shape = core_shape(pair.lat)
    group = pair.lat.group
    scored: list[tuple[int, Any]] = []
    for var in variables:
        loc = _location(var, group)
        fit = _compatible(var, geo_shape)
        if not loc or not fit:
            continue
        if OFFSET_NAME.search(var.name) and _duration(var) is not None:
            refs = [r for r in variables if r.group == var.group and r.size == 1
                    and SINCE.match(_units(r)) and r is not var]
            if refs and fit > 1:
                scored.append((loc + fit + 4, (var, refs[0])))
            continue
        if not _is_time_like(var):
            continue
        bonus = 3 if var.name.lower() == "time" else 2 if var.name.lower().startswith("time") else 0
        if "tai" in var.name.lower():
            bonus -= 3  # a TAI twin of a UTC time variable (Sentinel-6 time_tai)
        scored.append((loc + fit + bonus, var))
    scored.sort(key=lambda item: -item[0])
    return scored


def pair_time_range(variables: Sequence[VarRef], pair: GeoPair,
                    epoch: str | None = None) -> TimeRange | None:
    """Return the time range of the best decodable time variable for one lat/lon pair.

    ``epoch`` ('gps' or 'tai93') says how to read bare seconds without an epoch in the unit.
    """
    for _score, cand in _candidates(variables, pair):
        if isinstance(cand, tuple):
            got = _decode_offset(*cand)
            label = f"{cand[1].path} + {cand[0].path}"
        else:
            got = _decode_var(cand, epoch)
            label = cand.path
        if got and _plausible(got[0]) and _plausible(got[1]):
            return TimeRange(got[0], got[1], "data", label, got[2])
    return None


def data_time_range(variables: Sequence[VarRef], pairs: Iterable[GeoPair],
                    epoch: str | None = None) -> TimeRange | None:
    """Return the overall range over all pairs (all beams/swaths), or None if none decode."""
    ranges = [r for r in (pair_time_range(variables, p, epoch) for p in pairs) if r]
    if not ranges:
        return None
    labels = list(dict.fromkeys(r.variable for r in ranges))
    return TimeRange(min(r.start for r in ranges), max(r.end for r in ranges), "data",
                     ", ".join(labels), ranges[0].encoding)


def attribute_time_range(attrs: Mapping[str, Any]) -> TimeRange | None:
    """Return the granule's time range from global attributes (the fallback only)."""
    flat: dict[str, Any] = dict(attrs)
    for value in attrs.values():
        if isinstance(value, str) and "StartGranuleDateTime" in value:
            flat.update(parse_pvl(value))
    for start_key, end_key in ATTRIBUTE_PAIRS:
        if start_key in flat and end_key in flat:
            start, end = parse_datetime(flat[start_key]), parse_datetime(flat[end_key])
            if start and end and _plausible(start) and _plausible(end):
                return TimeRange(min(start, end), max(start, end), "attribute fallback",
                                 f"{start_key}/{end_key}", "attribute timestamps")
    split_pairs = (("start_date", "stop_date"), ("RangeBeginningDate", "RangeEndingDate"))
    for start_key, end_key in split_pairs:
        time_start = "start_time" if start_key == "start_date" else "RangeBeginningTime"
        time_end = "stop_time" if start_key == "start_date" else "RangeEndingTime"
        if start_key in flat and end_key in flat:
            start = parse_datetime(f"{flat[start_key]} {flat.get(time_start, '00:00:00')}")
            end = parse_datetime(f"{flat[end_key]} {flat.get(time_end, '00:00:00')}")
            if start and end:
                return TimeRange(min(start, end), max(start, end), "attribute fallback",
                                 f"{start_key}/{end_key}", "attribute timestamps")
    return None


def pair_seconds(variables: Sequence[VarRef], pair: GeoPair) -> np.ndarray | None:
    """Seconds (from any epoch: for differences) at each sample of a 1-D track, from its
    best time variable of the track's own shape; None when it has none (masked: NaN)."""
    shape = core_shape(pair.lat)
    for _score, cand in _candidates(variables, pair):
        if isinstance(cand, tuple) or core_shape(cand) != shape:
            continue
        match = SINCE.match(_units(cand))
        scale = DURATION_SECONDS.get(match.group(1).lower()) if match else _duration(cand)
        if scale is None:
            continue
        try:
            values = np.ma.masked_invalid(read_masked(cand).astype(float))
        except (TypeError, ValueError, OSError):
            continue
        return values.filled(np.nan).reshape(-1) * scale
    return None

"""Bounding boxes W,S,E,N as users send them, one rule for search, STAC and subsets.

A box is four numbers W,S,E,N, or six W,S,zmin,E,N,zmax (a 3-D STAC box: the heights
are ignored, as STAC API clients may send them). West > east crosses the antimeridian.
South may equal north and west may equal east: such a box is a line or a point, which
still touches what it crosses. Numbers beyond +-180/+-90 are accepted: the box is the
part of the world it overlaps (``world_pieces``), so one wholly outside covers nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from eo.errors import InputError

Box = tuple[float, float, float, float]


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(f"{name} value {value!r:.40} is not a number")
    try:
        number = float(value)
    except (ValueError, OverflowError) as e:  # OverflowError: an integer of 400 digits
        raise InputError(f"{name} value {value!r:.40} is not a number") from e
    if not math.isfinite(number):
        raise InputError(f"{name} value {value!r:.40} must be a finite number")
    return number


def parse_box(raw: object, name: str = "bbox", text: bool = True) -> Box:
    """Return (W, S, E, N) from 'W,S,E,N' text or a list of 4 (or 6, with heights) numbers.

    ``text=False`` refuses the text form: a STAC POST body's bbox is a JSON array.

    >>> parse_box("170,-10,-170,10")
    (170.0, -10.0, -170.0, 10.0)
    >>> parse_box([0, 0, -5, 10, 10, 5])
    (0.0, 0.0, 10.0, 10.0)
    """
    if isinstance(raw, str) and text:
        parts: Sequence[object] = raw.split(",")
    elif isinstance(raw, list | tuple):
        parts = raw
    else:
        kind = "" if text else "an array of "
        raise InputError(f"{name} must be {kind}four numbers W,S,E,N (or six with heights)")
    if len(parts) == 6:  # W,S,zmin,E,N,zmax
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4:
        raise InputError(f"{name} must be four numbers W,S,E,N (or six with heights)")
    west, south, east, north = (_number(p, name) for p in parts)
    if south > north:
        raise InputError(
            f"{name} south={south:g} is greater than north={north:g}: the order is W,S,E,N")
    return west, south, east, north


def world_pieces(west: float, south: float, east: float, north: float) -> list[Box]:
    """Return the rectangles of a box split at +-180 (two when west > east), cut to the world.

    Longitudes beyond +-180 and latitudes beyond +-90 cover nothing (they are not
    wrapped), so a box wholly outside has no pieces.

    >>> world_pieces(170, -10, -170, 10)
    [(170, -10, 180.0, 10), (-180.0, -10, -170, 10)]
    >>> world_pieces(170, 80, 190, 95)
    [(170, 80, 180.0, 90.0)]
    >>> world_pieces(181, 91, 182, 92)
    []
    """
    south, north = max(south, -90.0), min(north, 90.0)
    if south > north:
        return []
    spans = [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]
    pieces = []
    for w, e in spans:
        w, e = max(w, -180.0), min(e, 180.0)
        if w <= e:
            pieces.append((w, south, e, north))
    return pieces

"""Orbit, pass and equator-crossing facts a granule states outside its root attributes.

The rules are keyed on attribute conventions, not on file names:

- S5P/TROPOMI (and other KNMI L2 products) state the dayside equator crossing in
  ``/METADATA/GRANULE_DESCRIPTION`` (``LongitudeOfDaysideNadirEquatorCrossing``);
- ICESat-2 products list their input granules under ``/METADATA/Lineage/ATLnn`` with
  ``start_/end_`` rgt, cycle and orbit: a granule made from inputs that all lie on one
  reference ground track, cycle and orbit lies on them too (ATL03 files trimmed of
  ``/orbit_info`` still carry this). ``ANCnn`` entries (ancillary files spanning many
  orbits) are not inputs of that kind and are ignored.

What is found here ranks below the root attributes and the granule's own orbit
variables (``ingest.readers.build``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from ingest.geoloc import plain_attr

# Group -> attributes read from it (only these: a whole METADATA tree is ~1300 groups).
GROUP_KEYS = {
    "METADATA/GRANULE_DESCRIPTION": ("LongitudeOfDaysideNadirEquatorCrossing",),
}
LINEAGE = "METADATA/Lineage"
LINEAGE_INPUT = re.compile(r"ATL\d\d$")
# Lineage start_/end_ names -> the names eo.identify and build read.
LINEAGE_KEYS = {"rgt": "start_rgt", "cycle": "start_cycle", "orbit": "start_orbit"}

# Where the orbit or pass crosses the equator, as files state it. The first three are
# ECHO/ISO/CMR spellings; equator_longitude is the Jason/Sentinel-6 GDR one (the pass's
# own node), equator_cross_long CryoSat-2's (its orbit's ascending node, in 1e-6 degrees).
EQUATOR_KEYS = ("EquatorCrossingLongitude", "equator_crossing_longitude",
                "equatorCrossingLongitude", "EQUATOR_CROSSING_LONGITUDE", "equator_longitude",
                "equator_cross_long", "LongitudeOfDaysideNadirEquatorCrossing")
MICRODEGREES = 1e-6  # ESA product headers give angles as integers in 1e-6 degrees


def _group(handle: Any, path: str) -> Any:
    """The group at ``path`` of an open netCDF4.Dataset or h5py.File, or None."""
    node = handle
    for part in path.split("/"):
        if hasattr(node, "groups") and hasattr(node, "ncattrs"):  # netCDF4
            node = node.groups.get(part)
        else:
            node = node.get(part) if hasattr(node, "get") else None
            if node is not None and not hasattr(node, "keys"):
                return None  # a dataset, not a group
        if node is None:
            return None
    return node


def _attrs(group: Any) -> dict[str, Any]:
    if hasattr(group, "ncattrs"):
        return {a: plain_attr(group.getncattr(a)) for a in group.ncattrs()}
    out = {}
    for key in group.attrs:
        try:
            out[key] = plain_attr(group.attrs[key])
        except (OSError, TypeError, ValueError):
            continue
    return out


def _children(group: Any) -> dict[str, Any]:
    if hasattr(group, "ncattrs"):
        return dict(group.groups)
    return {name: group[name] for name in group if hasattr(group[name], "keys")}


def _one_number(value: Any) -> int | None:
    """The single whole number an attribute holds (all its items equal), else None."""
    try:
        items = {int(v) for v in np.atleast_1d(np.asarray(value)).reshape(-1)}
    except (TypeError, ValueError, OverflowError):
        return None
    return items.pop() if len(items) == 1 else None


def lineage_track(handle: Any) -> dict[str, int]:
    """start_rgt/start_cycle/start_orbit shared by every ICESat-2 input granule, if any."""
    group = _group(handle, LINEAGE)
    if group is None:
        return {}
    found: dict[str, set[int | None]] = {}
    for name, child in _children(group).items():
        if not LINEAGE_INPUT.match(name):
            continue
        attrs = _attrs(child)
        for what in LINEAGE_KEYS:
            start = _one_number(attrs.get(f"start_{what}"))
            end = _one_number(attrs.get(f"end_{what}"))
            found.setdefault(what, set()).add(start if start == end else None)
    out = {}
    for what, values in found.items():
        if len(values) == 1 and None not in values:
            (value,) = values
            if value is not None and value > 0:
                out[LINEAGE_KEYS[what]] = value
    return out


def track_attrs(handle: Any) -> dict[str, Any]:
    """Orbit facts from the groups above, by the names build and eo.identify read."""
    out: dict[str, Any] = {}
    try:
        for path, keys in GROUP_KEYS.items():
            group = _group(handle, path)
            if group is not None:
                attrs = _attrs(group)
                out.update({k: attrs[k] for k in keys if k in attrs})
        out.update(lineage_track(handle))
    except (KeyError, OSError, TypeError, ValueError):
        return out  # metadata groups are optional: a damaged one costs only these facts
    return out


def equator_from_attrs(attrs: Mapping[str, Any]) -> float | None:
    """The equator-crossing longitude (-180..180) the attributes state, else None.

    >>> equator_from_attrs({"equator_longitude": 265.74})
    -94.26
    >>> equator_from_attrs({"equator_cross_long": [169871359]})
    169.8714
    """
    for key in EQUATOR_KEYS:
        if key not in attrs:
            continue
        try:
            value = float(np.atleast_1d(np.asarray(attrs[key], dtype=object))[0])
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(value) and abs(value) > 360.0 and value == int(value):
            value *= MICRODEGREES
        if math.isfinite(value) and -360.0 <= value <= 360.0:
            return round((value + 180.0) % 360.0 - 180.0, 4)
    return None


def direction_from_pass(pass_number: int | None) -> str | None:
    """The pass convention of TOPEX/Jason, Sentinel-6, Sentinel-3, SARAL and SWOT: a pass
    runs from one extreme latitude to the other, odd passes ascending, even descending.

    >>> direction_from_pass(191), direction_from_pass(2), direction_from_pass(None)
    ('ascending', 'descending', None)
    """
    if pass_number is None or pass_number <= 0:
        return None
    return "ascending" if pass_number % 2 else "descending"

"""Assemble SwathMetadata from the variables and attributes of an open file."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eo.attributes import flatten_attrs
from eo.identify import identify
from ingest.footprint import footprint
from ingest.geoloc import GeoPair, VarRef, read_lonlat, read_masked
from ingest.geoselect import select_geolocation
from ingest.metadata import SwathMetadata, json_safe
from ingest.orbitnode import orbit_node
from ingest.readers.base import NoGeolocationError
from ingest.readers.track import direction_from_pass, equator_from_attrs
from ingest.timeparse import attribute_time_range, data_time_range, pair_seconds
from ingest.validdata import measure_granule

ORBIT_KEYS = ("orbit_number", "orbit", "abs_orbit_number", "absolute_orbit_number",
              "absolute_rev_number", "orbit_num", "OrbitNumber", "StartOrbitNumber",
              "GranuleNumber", "abs_orbit_start", "start_orbit_number", "start_orbit")
GRANULE_KEYS = ("granule_id", "LocalGranuleID", "LOCALGRANULEID", "granule_name", "product_name",
                "FileName", "producer_granule_id", "GranuleID")
DIRECTION_KEYS = ("orbit_direction", "pass_direction", "ascending_flag", "OrbitDirection",
                  "ORBITDIRECTION")
DATA_EXTENSIONS = {"nc", "nc4", "h5", "he5", "hdf", "hdf5", "gz", "bz2", "zst", "cdf", "n1"}
ORBIT_VARIABLES = ("orbit_number", "orbit", "abs_orbit_number")
# Small variables numbering the track (ICESat-2's /orbit_info, /ancillary_data), which
# identify() reads beside the attributes.
TRACK_VARIABLES = ("rgt", "cycle_number", "start_rgt", "start_cycle")
NODE_SAMPLES = 4096  # at most this many track samples fit the orbit plane



def first_text(attrs: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = attrs.get(key)
        if value is None:
            continue
        text = str(json_safe(value)).strip()
        if text and text.lower() not in ("n/a", "none", "unknown", "-1"):
            return text
    return None


def _orbit(attrs: Mapping[str, Any], variables: Sequence[VarRef]) -> int | None:
    for key in ORBIT_KEYS:
        if key not in attrs:
            continue
        for item in np.atleast_1d(np.asarray(attrs[key], dtype=object)).reshape(-1):
            try:
                number = int(float(str(item).strip()))
            except ValueError:
                continue
            if number > 0:
                return number
    for var in variables:
        if var.name in ORBIT_VARIABLES and 0 < var.size <= 16:
            try:
                values = read_masked(var).compressed()
            except (TypeError, ValueError, OSError):
                continue
            if values.size and values[0] > 0:
                return int(values[0])
    return None


def _direction_from_data(lat: np.ma.MaskedArray) -> str | None:
    """Return 'ascending'/'descending' if >= 90 % of along-track latitude steps agree."""
    along = lat.mean(axis=tuple(range(1, lat.ndim))) if lat.ndim > 1 else lat
    values = np.ma.compressed(along)
    steps = np.diff(values)
    steps = steps[steps != 0]
    if steps.size < 2:
        return None
    up = float(np.mean(steps > 0))
    if up >= 0.9:
        return "ascending"
    if up <= 0.1:
        return "descending"
    return None


def equator_crossing(lon: np.ma.MaskedArray, lat: np.ma.MaskedArray,
                     direction: str | None) -> float | None:
    """Longitude where a one-way track crosses the equator once, in -180..180, else None.

    Read along the middle of the swath (the nadir track of a cross-track scanner, the
    track itself of a 1-D profile), interpolated between the two samples either side.

    >>> lat = np.ma.array([-2.0, -1.0, 3.0, 4.0]); lon = np.ma.array([179.0, 179.5, -179.5, 181])
    >>> equator_crossing(lon, lat, "ascending")
    179.75
    >>> equator_crossing(lon, lat, None) is None
    True
    """
    if direction not in ("ascending", "descending") or lat.shape != lon.shape:
        return None
    if lat.ndim > 1:  # the middle cross-track sample of each along-track line
        mid = tuple(n // 2 for n in lat.shape[1:])
        lat, lon = lat[(slice(None), *mid)], lon[(slice(None), *mid)]
    keep = ~(np.ma.getmaskarray(lat) | np.ma.getmaskarray(lon))
    la = np.asarray(lat, dtype=float)[keep]
    lo = np.asarray(lon, dtype=float)[keep]
    north = la >= 0
    changes = np.flatnonzero(north[1:] != north[:-1])
    if changes.size != 1:
        return None
    i = int(changes[0])
    step = (lo[i + 1] - lo[i] + 180.0) % 360.0 - 180.0  # the short way, across +-180 too
    x = lo[i] + step * (0.0 - la[i]) / (la[i + 1] - la[i])
    return round(float((x + 180.0) % 360.0 - 180.0), 4)


def _extrapolated_crossing(variables: Sequence[VarRef], pair: GeoPair,
                           lon: np.ma.MaskedArray, lat: np.ma.MaskedArray,
                           direction: str) -> float | None:
    """The crossing of a 1-D track's pass in its direction, extrapolated along its orbit
    (ingest.orbitnode) from its samples and their own times. A 2-D swath is left out:
    the middle of a regional subset is no nadir track."""
    if lat.ndim != 1 or lon.shape != lat.shape:
        return None
    seconds = pair_seconds(variables, pair)
    if seconds is None or seconds.shape != lat.shape:
        return None
    keep = np.flatnonzero(~(np.ma.getmaskarray(lat) | np.ma.getmaskarray(lon))
                          & np.isfinite(seconds))
    # A few thousand samples fix a plane as well as ATL03's millions of photons do.
    keep = keep[::max(1, math.ceil(keep.size / NODE_SAMPLES))]
    keep = keep[np.argsort(seconds[keep], kind="stable")]
    node = orbit_node(np.asarray(lon[keep], dtype=float), np.asarray(lat[keep], dtype=float),
                      seconds[keep], direction)
    return node.longitude if node is not None else None


def _direction_from_attrs(attrs: Mapping[str, Any]) -> str | None:
    text = (first_text(attrs, DIRECTION_KEYS) or "").lower()
    if text in ("a", "asc", "ascending"):
        return "ascending"
    if text in ("d", "desc", "descending"):
        return "descending"
    return None


def identity_fields(path: str | Path, flat: Mapping[str, Any], variables: Sequence[VarRef],
                    granule_id: str, track: Mapping[str, Any] | None = None
                    ) -> dict[str, Any]:
    """SwathMetadata's platform, instrument, orbit numbers and level (eo.identify).

    ``track`` (ingest.readers.track) ranks below the root attributes and the orbit
    variables."""
    track = track or {}
    values: dict[str, Any] = {}
    for var in variables:
        if var.name in TRACK_VARIABLES and var.name not in values and 0 < var.size <= 16:
            try:
                data = read_masked(var).compressed()
            except (TypeError, ValueError, OSError):
                continue
            if data.size:
                values[var.name] = data[0].item()
    ident = identify({**track, **values, **flat}, [Path(path).name, granule_id])
    return {
        "platform": ident.platform, "constellation": ident.constellation,
        "instrument": ident.instrument, "processing_level": ident.processing_level,
        "orbit": _orbit(flat, variables) or _orbit(track, []) or ident.absolute_orbit,
        "relative_orbit": ident.relative_orbit, "orbit_cycle": ident.orbit_cycle,
        "pass_number": ident.pass_number,
    }


def granule_stem(path: str | Path) -> str:
    """Return the file name without data/compression extensions."""
    name = Path(path).name
    while True:
        stem, dot, ext = name.rpartition(".")
        if not dot or ext.lower() not in DATA_EXTENSIONS:
            return name
        name = stem


def describe_variables(variables: Sequence[VarRef]) -> dict[str, dict[str, Any]]:
    """Return path -> {shape, dtype, dims, units, long_name} for every variable."""
    return {
        v.path: {"shape": list(v.shape), "dtype": v.dtype, "dims": list(v.dims),
                 "units": v.attr_str("units", "Units") or None,
                 "long_name": v.attr_str("long_name", "Title", "title") or None}
        for v in variables
    }


def build_metadata(path: str | Path, fmt: str, variables: Sequence[VarRef],
                   attrs: Mapping[str, Any], hints: Mapping[str, Any] | None = None,
                   epoch: str | None = None, track: Mapping[str, Any] | None = None
                   ) -> SwathMetadata:
    """Return SwathMetadata from an open file's variables and global attributes.

    The footprint, times and direction come from the geolocation the science variables
    use (:func:`ingest.geoselect.select_geolocation`); ``geolocation`` records which pairs
    that was, which were set aside and why, and any warning. ``hints`` may carry collection
    geolocation hints and ``epoch`` ('gps'/'tai93') for bare-seconds time variables;
    ``track`` the orbit facts found outside the root (ingest.readers.track.track_attrs).
    Raises NoGeolocationError.
    """
    hints = dict(hints or {})
    epoch = hints.get("time_epoch", epoch)
    selection = select_geolocation(variables, hints)
    pairs: list[GeoPair] = selection.pairs
    if not pairs:
        raise NoGeolocationError(path, "no latitude/longitude variables found")
    arrays = []
    for pair in pairs:
        lon, lat = read_lonlat(pair)
        arrays.append((lon, lat, pair.kind))
    fp = footprint(arrays)
    measured = measure_granule(variables, [(p, lon, lat) for p, (lon, lat, _) in
                                           zip(pairs, arrays, strict=True)])
    flat = flatten_attrs(attrs)
    times = data_time_range(variables, pairs, epoch) or attribute_time_range(flat)
    primary = pairs[0]
    granule_id = first_text(flat, GRANULE_KEYS) or granule_stem(path)
    track = dict(track or {})
    identity = identity_fields(path, flat, variables, granule_id, track)
    direction = _direction_from_data(arrays[0][1]) if fp.n_valid else None
    # The crossing the file states first (its orbit's or pass's, as CMR's
    # EquatorCrossingLongitude: one mission's files then agree whether or not each
    # reaches the equator); else the granule's own, when its track crosses once.
    crossing = equator_from_attrs({**track, **flat})
    if crossing is None and fp.n_valid:
        crossing = equator_crossing(arrays[0][0], arrays[0][1], direction)
    # A track that turns (over a pole) has no one direction in its data; its pass
    # number may still name one.
    direction = direction or _direction_from_attrs(flat) or direction_from_pass(
        identity["pass_number"])
    if crossing is None and fp.n_valid and direction:
        crossing = _extrapolated_crossing(variables, primary, arrays[0][0], arrays[0][1],
                                          direction)
    geolocation = {
        "lat": primary.lat.path, "lon": primary.lon.path,
        "time": times.variable if times else None,
        "time_encoding": times.encoding if times else None,
        "shape": list(primary.describe()["shape"]), "kind": primary.kind,
        **selection.describe(),
        "margin_km": round(fp.margin_km, 3),
        "coverage": {**measured.info, **({"reason": measured.reason} if measured.reason
                                         else {})},
    }
    if measured.reason and fp.geometry is not None:
        # Where footprint warnings go (Swath.footprint_warning): a swath with data but no
        # coverage is left out of valid-fraction searches.
        geolocation["warnings"] = [*geolocation.get("warnings", []),
                                   f"no valid-data coverage: {measured.reason}"]
    return SwathMetadata(
        path=str(path), format=fmt,
        start_time=times.start if times else None, end_time=times.end if times else None,
        time_source=times.source if times else None,
        footprint=fp.geometry, is_empty=fp.geometry is None, n_valid_points=fp.n_valid,
        geolocation=geolocation,
        orbit_direction=direction,
        equator_crossing_longitude=crossing,
        granule_id=granule_id,
        coverage=measured.coverage.encode() if measured.coverage is not None else None,
        **identity,
        variables=describe_variables(variables),
        global_attrs=json_safe(dict(attrs)),
    )

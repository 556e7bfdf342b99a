"""Which variable is a granule's main one: one rule for the quicklook and the coverage.

No file access here: callers describe each variable (name, kind, attributes, dimensions)
and pick the smallest :func:`rank` among those :func:`is_data_variable` accepts (and
whatever shape they need: an image needs two sides, coverage a geolocation grid).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PREFERRED = (
    "sea_surface_temperature", "sst", "chlor_a", "wind_speed", "sea_ice_fraction",
    "precipitationRate", "precipitation", "surfacePrecipitation", "methane_mixing_ratio",
    "brightness_temperature", "radiance", "reflectance",
    # along-track products (altimeters, lidar): one value per point of a 1-D track
    "ssha", "sea_surface_height_anomaly", "swh", "height_segment_height", "freeboard", "h_ph",
)
# Words of coordinates, flags and quality fields, and of the uncertainty of a value. A name's
# words: split at characters other than letters and digits and at lower-to-upper case
# changes, lowercased (L2gpPrecision: l2gp, precision).
_SKIP_WORDS = frozenset({
    "lat", "lon", "latitude", "longitude", "time", "flag", "flags", "quality", "mask", "qual",
    "precision", "err", "error", "uncertainty", "sigma", "std", "stdev",
})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_FLAG_ATTRS = {"flag_values", "flag_masks", "flag_meanings"}
_SKIP_STANDARD = {"latitude", "longitude", "time", "status_flag"}
_RANK = {name.lower(): i for i, name in enumerate(PREFERRED)}


def is_data_variable(name: str, kind: str, attrs: Iterable[str], dims: Iterable[str],
                     standard_name: str = "") -> bool:
    """Return True for a numeric variable that is no coordinate, flag or quality field.

    ``kind`` is the numpy dtype kind, ``attrs`` the attribute names, ``dims`` the
    dimension names.
    """
    if kind not in ("i", "u", "f") or set(attrs) & _FLAG_ATTRS:
        return False
    if name in set(dims) or _SKIP_WORDS & {w.lower() for w in _WORD.findall(name)}:
        return False
    return standard_name not in _SKIP_STANDARD


def rank(name: str, size: int) -> tuple[int, int]:
    """Sort key: a known geophysical name first (in PREFERRED's order), then the largest;
    callers break ties by the file's order."""
    return _RANK.get(name.lower(), len(PREFERRED)), -size

"""Which latitude/longitude pairs make a swath's footprint: the geolocation its data use.

One rule, below both the readers (ingest.readers.build) and the subset kernel
(subset.kernel). The pairs of the first of these tiers that has any are used:

1. ``hints``: pairs a collection's variable hints name, when the file has them.
2. ``science``: pairs outside auxiliary groups that science variables use: named by
   their CF ``coordinates`` attribute, or sharing all of the pair's dimensions.
3. ``densest``: the other pairs outside auxiliary groups.
4. ``auxiliary``: pairs in auxiliary groups or with summary names; the swath then
   carries the warning :data:`AUXILIARY_ONLY`.

Within the tier the densest pair of each group is kept (one track at two resolutions,
Jason-1 or CryoSat-2 1 Hz and 20 Hz: the finest) and every group counts (ATL07 beams,
GPM FS and HS swaths: the union); single points go when larger pairs exist.

Auxiliary, the documented rule: a group on the pair's path has a word of
:data:`AUXILIARY_GROUP_WORDS` (``quality_assessment``, ``residual_histogram``,
``ancillary_data``, ``orbit_info``, ``METADATA``...), or the latitude or longitude name has
a word of :data:`SUMMARY_WORDS` (``lat_mean``, ``reference_photon_lat``...). Words are a
name split at characters other than letters and digits and at lower-to-upper case changes,
lowercased. Such pairs summarise a whole granule (per-segment means, reference points,
the orbit) and stay whole when a data centre subsets the science data to a region.

``coordinates`` attributes are resolved as CF 1.8+ (section 2.7) says: an absolute path,
a path relative to the referring variable's group (``../latitude``), or a bare name
searched in that group and then its ancestors up to the root. A reference that names no
variable, or latitude/longitude whose shape cannot be the variable's, is ignored (it is
kept in ``notes``) and the next rule decides.

Shared dimensions need dimension identities: netCDF's (group path + name), or with h5py
the attached HDF5 dimension scales (DIMENSION_LIST), else netCDF-C's per-group phony
dimensions by length (ingest.geoloc.h5_dimensions).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest.geoloc import (
    EXCLUDED_SUFFIX,
    GeoPair,
    VarRef,
    choose_pairs,
    core_shape,
    find_pairs,
    hinted_pairs,
    name_key,
    pair_kind,
    role,
)

AUXILIARY_GROUP_WORDS = frozenset({
    "metadata", "ancillary", "quality", "qa", "qc", "assessment", "histogram", "histograms",
    "orbit", "summary", "statistics", "stats", "reference", "browse",
})
SUMMARY_WORDS = frozenset({
    "mean", "avg", "average", "median", "ref", "reference", "min", "max", "minimum", "maximum",
    "first", "last", "start", "end", "stop", "beg", "begin",
})
AUXILIARY_ONLY = "footprint from summary or auxiliary geolocation only"
MAX_NOTES = 8
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_TOKEN = re.compile(r"[\s,]+")


def words(name: str) -> set[str]:
    """Return the lowercased words of a name.

    >>> sorted(words("quality_assessment")), sorted(words("SwathStatistics"))
    (['assessment', 'quality'], ['statistics', 'swath'])
    """
    return {w.lower() for w in _WORD.findall(name)}


def auxiliary_reason(pair: GeoPair) -> str | None:
    """Return why a pair is auxiliary (its group or its names), or None for science geolocation."""
    for part in pair.lat.group.strip("/").split("/"):
        if part and words(part) & AUXILIARY_GROUP_WORDS:
            return f"auxiliary group {part!r}"
    for var in (pair.lat, pair.lon):
        if words(var.name) & SUMMARY_WORDS:
            return f"summary or reference name {var.name!r}"
    return None


def _in_auxiliary_group(var: VarRef) -> bool:
    return any(words(part) & AUXILIARY_GROUP_WORDS for part in var.group.strip("/").split("/"))


def resolve(token: str, group: str, by_path: Mapping[str, VarRef]) -> VarRef | None:
    """Return the variable a CF reference names from ``group`` (absolute, relative, or a bare
    name found in the group or its nearest ancestor), or None."""
    if token.startswith("/") or "/" in token:
        joined = token if token.startswith("/") else f"{group.rstrip('/')}/{token}"
        return by_path.get("/" + posixpath.normpath(joined).lstrip("/"))
    here = group
    while True:
        hit = by_path.get(f"{here.rstrip('/')}/{token}")
        if hit is not None or here == "/":
            return hit
        here = here.rsplit("/", 1)[0] or "/"


def _coordinate_role(var: VarRef) -> str | None:
    """Return 'lat'/'lon' for a variable a coordinates attribute names (looser than role():
    the reference already says it is a coordinate)."""
    found = role(var)
    if found or var.dtype.startswith(("str", "|S", "object", "<U")):
        return found
    units = var.attr_str("units", "Units").lower()
    if units not in ("", "deg", "degree", "degrees") or EXCLUDED_SUFFIX.search(var.name):
        return None
    names = words(var.name)
    if any(w.startswith("lat") for w in names):
        return "lat"
    if any(w.startswith("lon") for w in names):
        return "lon"
    return None


def _fits(pair: GeoPair, var: VarRef) -> bool:
    """Return True if the pair's core shape can be ``var``'s (its lengths, in order)."""
    want = list(core_shape(pair.lat)) if pair.kind != "grid" else [pair.lat.size, pair.lon.size]
    have = iter(n for n in var.shape if n != 1)
    return all(n in have for n in want)  # want is a subsequence of have (``in`` consumes it)


def pair_dim_keys(pair: GeoPair) -> tuple[str, ...]:
    """Return the keys of the pair's swath dimensions (a grid: its lat and lon dimensions)."""
    if pair.kind == "grid":
        return (pair.lat.dim_keys[0], pair.lon.dim_keys[0])
    keys = [k for k, n in zip(pair.lat.dim_keys, pair.lat.shape, strict=False) if n != 1]
    return tuple(keys) or pair.lat.dim_keys[-1:]


@dataclass
class Selection:
    """The pairs a footprint is made of, the rule that chose them, and the others."""

    pairs: list[GeoPair]
    rule: str  # hints | science | densest | auxiliary | none
    others: list[tuple[GeoPair, str]] = field(default_factory=list)  # (pair, why not used)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def ordered(self) -> list[GeoPair]:
        """Return every pair: the footprint's first, then the others, largest first."""
        rest = sorted((p for p, _ in self.others), key=lambda p: -p.size)
        return [*self.pairs, *rest]

    def describe(self) -> dict[str, Any]:
        """Return a JSON-safe account: rule, pairs used, pairs set aside and why, warnings."""
        return {
            "rule": self.rule,
            "pairs": [p.describe() for p in self.pairs],
            "set_aside": [{**p.describe(), "reason": why} for p, why in self.others],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }


class _Usage:
    """Which pairs the science variables of a file use, and what their attributes got wrong."""

    def __init__(self, variables: Sequence[VarRef], pairs: list[GeoPair]) -> None:
        self.by_path = {v.path: v for v in variables}
        self.pairs = pairs
        self.notes: list[str] = []
        self.named: set[int] = set()  # ids of pairs a coordinates attribute names
        geo_paths = {v.path for p in pairs for v in (p.lat, p.lon)}
        referenced = {ref.path for v in variables for ref in self._refs(v)}
        self.data = [v for v in variables if v.path not in geo_paths | referenced
                     and v.dim_keys != (v.path,) and not _in_auxiliary_group(v)]

    def _refs(self, var: VarRef) -> list[VarRef]:
        tokens = [t for t in _TOKEN.split(str(var.attrs.get("coordinates", ""))) if t]
        return [r for r in (resolve(t, var.group, self.by_path) for t in tokens) if r]

    def _note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)

    def from_coordinates(self) -> list[GeoPair]:
        """Mark the pairs science variables name; return pairs formed only by such names."""
        extra: list[GeoPair] = []
        by_members = {(p.lat.path, p.lon.path): p for p in self.pairs}
        for var in self.data:
            text = str(var.attrs.get("coordinates", "")).strip()
            if not text:
                continue
            tokens = [t for t in _TOKEN.split(text) if t]
            refs = self._refs(var)
            if len(refs) < len(tokens):
                missing = [t for t in tokens if resolve(t, var.group, self.by_path) is None]
                self._note(f"coordinates of {var.path} name {', '.join(missing)}: "
                           "no such variable")
            lats = [r for r in refs if _coordinate_role(r) == "lat"]
            lons = [r for r in refs if _coordinate_role(r) == "lon"]
            if not lats or not lons:
                continue
            pair = self._pair_of(lats, lons, by_members, var)
            if pair is None:
                self._note(f"coordinates of {var.path} name latitude/longitude that cannot "
                           f"be its geolocation (shape {list(var.shape)}): ignored")
                continue
            if (pair.lat.path, pair.lon.path) not in by_members:
                by_members[(pair.lat.path, pair.lon.path)] = pair
                extra.append(pair)
            self.named.add(id(pair))
        return extra

    @staticmethod
    def _pair_of(lats: list[VarRef], lons: list[VarRef],
                 by_members: dict[tuple[str, str], GeoPair], var: VarRef) -> GeoPair | None:
        """Return the pair the named lat/lon make that can geolocate ``var``, or None."""
        for lat in lats:
            ranked = sorted(lons, key=lambda lon: name_key(lon.name, "lon")
                            != name_key(lat.name, "lat"))
            for lon in ranked:
                pair = by_members.get((lat.path, lon.path))
                if pair is None:
                    kind = pair_kind(lat, lon)
                    if not kind or kind == "grid" and lat.dim_keys == lon.dim_keys:
                        continue
                    pair = GeoPair(lat, lon, kind)
                if _fits(pair, var):
                    return pair
        return None

    def by_dimensions(self) -> set[int]:
        """Return ids of the pairs whose every dimension some science variable has."""
        keys = [set(v.dim_keys) for v in self.data]
        return {id(p) for p in self.pairs if (need := set(pair_dim_keys(p)))
                and any(need <= have for have in keys)}


def select_geolocation(variables: Iterable[VarRef],
                       hints: Mapping[str, Any] | None = None) -> Selection:
    """Return the pairs to build the footprint from, with the rule that chose them."""
    variables = list(variables)
    hinted = hinted_pairs(variables, hints)
    if hinted:
        chosen = choose_pairs(hinted)
        return Selection(chosen, "hints", _others(hinted, chosen, {}))
    warnings = []
    if hints and hints.get("lat"):
        warnings.append("the collection's geolocation hints name no variable of this file; "
                        "the file's own geolocation was used")
    pairs = find_pairs(variables)
    usage = _Usage(variables, pairs)
    pairs = sorted(pairs + usage.from_coordinates(), key=lambda p: -p.size)
    usage.pairs = pairs
    used = usage.named | usage.by_dimensions()
    auxiliary = {id(p): why for p in pairs if (why := auxiliary_reason(p))}
    science = [p for p in pairs if id(p) not in auxiliary and id(p) in used]
    rest = [p for p in pairs if id(p) not in auxiliary and id(p) not in used]
    aside = dict(auxiliary)
    if science:
        rule, tier = "science", science
        aside.update({id(p): "used by no science variable" for p in rest})
    elif rest:
        rule, tier = "densest", rest
    elif pairs:
        rule, tier = "auxiliary", pairs
        aside = {}
        listed = ", ".join(p.lat.path for p in choose_pairs(pairs))
        warnings.append(f"{AUXILIARY_ONLY} ({listed}): it may cover more than the data")
    else:
        return Selection([], "none", warnings=warnings, notes=usage.notes)
    chosen = choose_pairs(tier)
    return Selection(chosen, rule, _others(pairs, chosen, aside), warnings, usage.notes)


def _others(pairs: list[GeoPair], chosen: list[GeoPair],
            reasons: dict[int, str]) -> list[tuple[GeoPair, str]]:
    """Return the pairs not chosen, each with the reason."""
    picked = {id(p) for p in chosen}
    out = []
    for pair in pairs:
        if id(pair) in picked:
            continue
        why = reasons.get(id(pair))
        if why is None:
            finer = next((c for c in chosen if c.lat.group == pair.lat.group), None)
            why = (f"coarser than {finer.lat.path} in the same group" if finer is not None
                   else "a single point" if pair.size <= 1 else "not chosen")
        out.append((pair, why))
    return out

"""Which satellite and instrument made a granule, its processing level and orbit numbers.

One call at ingest, ``identify(attrs, names)`` (from ingest.readers.build), gives the
values every renderer and filter uses: they are stored on the swath. The tables are
in eo.missions; the rule that applies them, for each value, is:

1. the file's attributes that name it (``platform``, ``mission_name``, ``SatelliteName``,
   ``sensor``, ``altimeter_sensor_name``, ``processing_level``, ``cycle_number``...),
   matched against the tables' spellings (a GCMD "ICESat-2 > Ice, Cloud..." is read up
   to its ">");
2. the file-naming conventions of the agencies (eo.missions.NAME_RULES), tried on
   the file name and the granule id: ``S6A_P4_2__...``, ``ascat_..._metopa_...``,
   ``CS_LTA__SIR_SAR_2__...``, ``JA1_GPN_2PeP001_002_...``, ``2A.GPM.DPR...``;
3. for platform and instrument, a known spelling as a word of the title or source
   ("MetOp-A ASCAT Level 2 ..."), then the platform's main instrument;
4. an attribute naming a platform or instrument the tables do not know is kept,
   lowercased and hyphenated ("Foo Sat 1" -> "foo-sat-1"), never dropped.

The processing level follows the mission's own definition where the product code
fixes it (ICESat-2's ATLnn), then attributes, then names (``_L2_``, ``-L2P-``, ``.l2.``).
Orbit numbers must be >= 1 (the STAC sat extension's bound); others are left out.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eo.missions import (
    ICESAT2_LEVELS,
    INSTRUMENTS,
    LEVEL_IN_NAME,
    NAME_RULES,
    PLATFORMS,
    Platform,
    squash,
)

PLATFORM_KEYS = ("platform", "Platform", "platform_name", "PlatformShortName", "SatelliteName",
                 "satellite", "satellite_name", "spacecraft", "mission_name", "mission",
                 "Mission")
INSTRUMENT_KEYS = ("instrument", "Instrument", "sensor", "Sensor", "instrument_name",
                   "InstrumentName", "InstrumentShortName", "sensor_name",
                   "altimeter_sensor_name")
# Free text searched for a known spelling as a word, when the keys above say nothing.
TEXT_KEYS = ("title", "source", "title_short_name", "project", "ShortName", "LongName",
             "product_name", "id")
LEVEL_KEYS = ("processing_level", "ProcessingLevel", "processingLevel", "ProcessLevel",
              "product_level", "ProductLevel", "level", "Level", "data_level")
PRODUCT_KEYS = ("short_name", "ShortName", "identifier_product_type", "granule_type")
CYCLE_KEYS = ("cycle_number", "cycle", "CycleNumber", "orbit_cycle", "cycle_num",
              "start_cycle")
PASS_KEYS = ("pass_number", "pass", "PassNumber", "pass_num")
RELATIVE_KEYS = ("rel_orbit_number", "relative_orbit_number", "relative_orbit",
                 "RelativeOrbitNumber", "rel_orbit", "rgt", "start_rgt")


def _aliases() -> tuple[dict[str, Platform], dict[str, str]]:
    platforms: dict[str, Platform] = {}
    for p in PLATFORMS:
        for alias in (p.name, *p.aliases):
            platforms.setdefault(squash(alias), p)
    instruments: dict[str, str] = {}
    for name, others in INSTRUMENTS.items():
        for alias in (name, *others):
            instruments.setdefault(squash(alias), name)
    return platforms, instruments


PLATFORM_ALIASES, INSTRUMENT_ALIASES = _aliases()
BY_NAME = {p.name: p for p in PLATFORMS}


@dataclass(frozen=True)
class Identity:
    """What identify() found; None where nothing said."""

    platform: str | None = None
    constellation: str | None = None
    instrument: str | None = None
    processing_level: str | None = None
    absolute_orbit: int | None = None
    relative_orbit: int | None = None
    orbit_cycle: int | None = None
    pass_number: int | None = None


def canonical_platform(text: str) -> str | None:
    """The STAC platform name a spelling stands for, or None when it is not a known one.

    >>> canonical_platform("MetOp-B"), canonical_platform("S6A"), canonical_platform("x")
    ('metop-b', 'sentinel-6a', None)
    """
    found = _known(text, PLATFORM_ALIASES)
    return found.name if found else None


def platform_names(value: str) -> list[str]:
    """What a platform filter matches (case-insensitively): the value as given (a
    platform no table knows, or a row stored before identification), and the STAC name
    it stands for ("MetOp-B", "metopb", "M01" all find "metop-b").

    >>> platform_names("METOPB"), platform_names("MetOp-B"), platform_names("foo")
    (['METOPB', 'metop-b'], ['MetOp-B'], ['foo'])
    """
    canonical = canonical_platform(value)
    return [value] if canonical is None or canonical == value.lower() else [value, canonical]


@functools.lru_cache(maxsize=4096)
def stac_names(platform: str, instrument: str) -> tuple[str, str, str]:
    """(platform, constellation, instrument) in STAC form for values given as text, as a
    registration manifest gives them; "" where there is none. Cached: a manifest repeats
    a handful of values over millions of lines.

    >>> stac_names("Aqua", "MODIS"), stac_names("", "")
    (('aqua', '', 'modis'), ('', '', ''))
    """
    found = identify({"platform": platform, "instrument": instrument}, [])
    return found.platform or "", found.constellation or "", found.instrument or ""


def slug(text: str) -> str:
    """A name no table knows, as a STAC value: lowercase, hyphens for separators.

    >>> slug("Foo Sat_1 > the long name")
    'foo-sat-1'
    """
    head = text.split(">")[0].strip().lower()
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9+.]+", "-", head)).strip("-.")[:100]


def _parts(text: str) -> list[str]:
    """A value, its part before a GCMD '>', its comma/slash/bracket pieces, its words."""
    head = text.split(">")[0]
    pieces = [p for p in re.split(r"[,;/()\[\]]", head) if p.strip()]
    words = [w for p in pieces for w in p.split()]
    return [text, head, *pieces, *words]


def _known(text: str, table: Mapping[str, Any], min_len: int = 1) -> Any:
    for part in _parts(text):
        key = squash(part)
        if len(key) >= min_len and key in table and not key.isdigit():
            return table[key]
    return None


def _texts(attrs: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    out = []
    for key in keys:
        if key not in attrs:
            continue
        value = attrs[key]
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if value is None or isinstance(value, bool):
            continue
        text = str(value).strip()
        if text and text.lower() not in ("n/a", "na", "none", "unknown", "-1", "null"):
            out.append(text)
    return out


def _positive(value: Any) -> int | None:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 1 <= number < 2**31 else None


def normalise_level(text: str) -> str | None:
    """A processing level as STAC's processing extension spells it, or None.

    >>> [normalise_level(t) for t in ("2A", "L2P", "Level 2", "level-1b", "02", "RAW", "x")]
    ['L2A', 'L2P', 'L2', 'L1B', 'L2', 'RAW', None]
    """
    t = text.strip().strip("_").strip()
    if t.upper() == "RAW":
        return "RAW"
    if re.fullmatch(r"0[0-4]", t):
        t = t[1]
    m = re.match(r"(?i)(?:level|lvl|l)?[\s_-]*([0-4])([a-z]?)(?![a-z0-9])", t)
    return f"L{m.group(1)}{m.group(2).upper()}" if m else None


@dataclass
class _Found:
    platform: Platform | None = None
    instrument: str | None = None
    level: str | None = None
    product: str | None = None
    absolute_orbit: int | None = None
    relative_orbit: int | None = None
    orbit_cycle: int | None = None
    pass_number: int | None = None


def _from_names(names: Sequence[str]) -> _Found:
    """What the naming conventions say; the first rule to give a value wins it."""
    found = _Found()
    for name in names:
        for rule in NAME_RULES:
            m = rule.pattern.search(name)
            if m is None:
                continue
            groups = m.groupdict()
            if found.platform is None:
                code = groups.get("platform")
                found.platform = (BY_NAME.get(rule.platform_codes.get(code or "", ""))
                                  or (PLATFORM_ALIASES.get(squash(code)) if code else None)
                                  or BY_NAME.get(rule.platform))
            if found.instrument is None:
                code = groups.get("instrument")
                found.instrument = (rule.instrument_codes.get(code or "")
                                    or (INSTRUMENT_ALIASES.get(squash(code)) if code else None)
                                    or rule.instrument or None)
            if found.level is None:
                found.level = normalise_level(groups.get("level") or rule.level or "")
            found.product = found.product or groups.get("product")
            for attr, group in (("absolute_orbit", "abs_orbit"), ("relative_orbit", "rel_orbit"),
                                ("orbit_cycle", "cycle"), ("pass_number", "pass_")):
                if getattr(found, attr) is None:
                    setattr(found, attr, _positive(groups.get(group)))
        if found.level is None:
            m = LEVEL_IN_NAME.search(name)
            found.level = normalise_level(m.group(1)) if m else None
    return found


def identify(attrs: Mapping[str, Any], names: Sequence[str]) -> Identity:
    """Platform, constellation, instrument, level and orbit numbers of one granule.

    `attrs` are its global attributes (flattened; small orbit variables such as
    ICESat-2's /orbit_info/rgt may be added under their names), `names` its file name
    and granule id.
    """
    # A granule id is often the file name without its extension: read such a name once.
    unique = [n for n in names if n and not any(n != o and n in o for o in names)]
    by_name = _from_names(list(dict.fromkeys(unique)))
    platform_texts = _texts(attrs, PLATFORM_KEYS)
    instrument_texts = _texts(attrs, INSTRUMENT_KEYS)
    free = _texts(attrs, TEXT_KEYS)

    # An attribute naming a platform no table knows is still the file's own statement:
    # it comes before a guess from the title.
    platform = next((p for t in platform_texts if (p := _known(t, PLATFORM_ALIASES))), None)
    platform = platform or by_name.platform
    unknown = next((name for t in platform_texts if (name := slug(t))), None)
    if platform is None and unknown is None:
        platform = next((p for t in free if (p := _known(t, PLATFORM_ALIASES, 3))), None)
    platform_name = platform.name if platform else unknown

    instrument = next((i for t in instrument_texts if (i := _known(t, INSTRUMENT_ALIASES))), None)
    instrument = (instrument or by_name.instrument
                  or next((name for t in instrument_texts if (name := slug(t))), None)
                  or next((i for t in free if (i := _known(t, INSTRUMENT_ALIASES, 4))), None)
                  or (platform.instrument if platform else None) or None)

    product = next((t.upper() for t in _texts(attrs, PRODUCT_KEYS)
                    if t.upper() in ICESAT2_LEVELS), None) or by_name.product
    level = ICESAT2_LEVELS.get(product or "") or next(
        (lv for t in _texts(attrs, LEVEL_KEYS) if (lv := normalise_level(t))), None
    ) or by_name.level

    def number(keys: Sequence[str], from_name: int | None) -> int | None:
        return next((n for k in keys if (n := _positive(attrs.get(k))) is not None), from_name)

    return Identity(
        platform=platform_name,
        constellation=(platform.constellation or None) if platform else None,
        instrument=instrument,
        processing_level=level,
        absolute_orbit=by_name.absolute_orbit,
        relative_orbit=number(RELATIVE_KEYS, by_name.relative_orbit),
        orbit_cycle=number(CYCLE_KEYS, by_name.orbit_cycle),
        pass_number=number(PASS_KEYS, by_name.pass_number),
    )

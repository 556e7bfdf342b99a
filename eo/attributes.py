"""Global attributes as readers find them: PVL text blocks opened into key=value items."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def parse_pvl(text: str) -> dict[str, str]:
    """Return key=value items of a GPM-style 'Key=Value;' text attribute.

    >>> parse_pvl("StartGranuleDateTime=2019-03-19T11:08:35.000Z;\\nSatellite=GPM;")
    {'StartGranuleDateTime': '2019-03-19T11:08:35.000Z', 'Satellite': 'GPM'}
    """
    items = {}
    for line in re.split(r"[;\n]", str(text)):
        if "=" in line:
            key, _, value = line.partition("=")
            items[key.strip()] = value.strip()
    return items


def flatten_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Return attrs plus the key=value items of PVL text blocks (GPM FileHeader)."""
    flat = dict(attrs)
    for key, value in attrs.items():
        if isinstance(value, str) and value.count("=") >= 2 and ";" in value:
            for sub, item in parse_pvl(value).items():
                flat.setdefault(sub, item)
        elif key == "FileHeader" and isinstance(value, str):
            flat.update(parse_pvl(value))
    return flat

"""/stac/queryables: the filter properties as a JSON Schema (from api.cql2.QUERYABLES)."""

from __future__ import annotations

from typing import Any

from api.cql2 import QUERYABLES

_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "uuid": {"type": "string", "format": "uuid"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "timestamp": {"type": "string", "format": "date-time"},
    "geometry": {"$ref": "https://geojson.org/schema/Geometry.json"},
}


def queryables_body(self_url: str) -> dict[str, Any]:
    """The JSON Schema document for one queryables URL."""
    props = {name: {"description": q.description, **_TYPES[q.kind]}
             for name, q in QUERYABLES.items()}
    props["sat:orbit_state"]["enum"] = ["ascending", "descending", "geostationary"]
    for name in ("sat:absolute_orbit", "sat:relative_orbit", "sat:orbit_cycle",
                 "swathstore:pass"):
        props[name]["minimum"] = 1  # the sat extension's bound; ingest keeps no 0
    props["swathstore:equator_crossing_longitude"].update(minimum=-180, maximum=180)
    props["swathstore:valid_fraction"].update(minimum=0, maximum=1)
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": self_url,
        "type": "object",
        "title": "swathstore queryables",
        "properties": props,
        "additionalProperties": False,
    }

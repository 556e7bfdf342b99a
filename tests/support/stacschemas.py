"""Offline schemas for the STAC validators: the shared core copies plus extension stand-ins.

The STAC core and GeoJSON schemas are local copies in ../shared/validators (see its
README). The extension schemas our items name are published on the web, which the
tests cannot reach, so each is stood in for by a schema written here from the
extension's field table: the fields we emit with their types and bounds, the
"at least one field" rule, and (for sat) no unknown `sat:` field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from api.stac.itemdef import EO_EXT, FILE_EXT, PROCESSING_EXT, SAT_EXT
from tests.conftest import REPO

VALIDATORS = REPO.parent / "shared" / "validators"
SCHEMAS = VALIDATORS / "stac-schemas"
DRAFT7 = "http://json-schema.org/draft-07/schema#"


def require_schemas() -> None:
    """Fail, naming the folder, when the shared schemas are absent (CI puts shared/ beside
    the repository, as it does the granules); a validator run without them proves nothing."""
    assert SCHEMAS.is_dir(), f"{SCHEMAS} is missing: put ../shared beside the repository"


def _item_fields(url: str, fields: dict[str, Any], prefix: str,
                 closed: bool = False) -> dict[str, Any]:
    """An item schema: the extension listed, one of its fields at least, each well typed."""
    props: dict[str, Any] = {"type": "object", "properties": fields,
                             "anyOf": [{"required": [name]} for name in fields]}
    if closed:  # no other field with this prefix
        props["patternProperties"] = {f"^(?!{prefix})": {}}
        props["additionalProperties"] = False
    return {
        "$schema": DRAFT7, "type": "object",
        "required": ["stac_extensions", "properties"],
        "properties": {"stac_extensions": {"type": "array", "contains": {"const": url}},
                       "properties": props},
    }


_POSITIVE = {"type": "integer", "minimum": 1}
EXTENSION_SCHEMAS: dict[str, dict[str, Any]] = {
    SAT_EXT: _item_fields(SAT_EXT, {
        "sat:platform_international_designator": {"type": "string"},
        "sat:orbit_state": {"enum": ["ascending", "descending", "geostationary"]},
        "sat:absolute_orbit": _POSITIVE,
        "sat:relative_orbit": _POSITIVE,
        "sat:anx_datetime": {"type": "string", "format": "date-time"},
        "sat:orbit_cycle": _POSITIVE,
        "sat:orbit_state_vectors": {"type": "object"},
    }, "sat:", closed=True),
    PROCESSING_EXT: _item_fields(PROCESSING_EXT, {
        "processing:level": {"type": "string", "minLength": 1},
        "processing:lineage": {"type": "string"},
        "processing:facility": {"type": "string"},
        "processing:version": {"type": "string"},
        "processing:datetime": {"type": "string", "format": "date-time"},
        "processing:software": {"type": "object",
                                "additionalProperties": {"type": "string"}},
    }, "processing:"),
    EO_EXT: _item_fields(EO_EXT, {
        "eo:cloud_cover": {"type": "number", "minimum": 0, "maximum": 100},
    }, "eo:"),
    FILE_EXT: {
        "$schema": DRAFT7, "type": "object",
        "required": ["stac_extensions"],
        "properties": {
            "stac_extensions": {"type": "array", "contains": {"const": FILE_EXT}},
            "assets": {"type": "object", "additionalProperties": {
                "type": "object", "properties": {
                    "file:size": {"type": "integer", "minimum": 0},
                    # a multihash in hex: sha2-256 is 0x12, 32 bytes (0x20), the digest
                    "file:checksum": {"type": "string", "pattern": "^[a-f0-9]+$"}}}}},
    },
}


def schema_map(workdir: Path) -> dict[str, str]:
    """URL -> local file for every schema an item of ours refers to (files written here)."""
    out: dict[str, str] = {}
    core = SCHEMAS / "v1.0.0"
    for d, _, files in os.walk(core):
        for f in files:
            path = Path(d) / f
            out["https://schemas.stacspec.org/v1.0.0/" + str(path.relative_to(core))] = str(path)
    for f in (SCHEMAS / "geojson").iterdir():
        out["https://geojson.org/schema/" + f.name] = str(f)
    for url, schema in EXTENSION_SCHEMAS.items():
        path = workdir / (url.split("/")[3] + ".json")
        path.write_text(json.dumps(schema))
        out[url] = str(path)
    return out


# stac-api-validator calls stac-validator without a schema map: this launcher gives it one
# (SCHEMA_MAP, JSON), as ../shared/validators/README.md describes.
API_VALIDATOR_LAUNCHER = """
import json, os, sys
import stac_validator.validate as v
m = json.loads(os.environ["SCHEMA_MAP"])
_init = v.StacValidate.__init__
def init(self, *a, **k):
    k["schema_map"] = {**m, **(k.get("schema_map") or {})}
    _init(self, *a, **k)
v.StacValidate.__init__ = init
from stac_api_validator.__main__ import main
sys.exit(main())
"""

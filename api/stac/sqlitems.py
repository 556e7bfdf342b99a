"""STAC Items rendered by PostgreSQL: the same JSON as api.stac.items.item(), built in SQL.

A page of 100 items built in Python costs several milliseconds of dicts, timestamps
and JSON encoding per request; PostgreSQL builds the same text while it reads the
rows, and the view splices it into the response as it is (items.Raw). Every rule of
items.item() has its counterpart here, and tests/api/test_stac_sql.py checks that
both give equal items for the same rows. PostgreSQL only: the embedded SpatiaLite
default keeps the Python renderer.

Each item is concatenated as text (values through to_json, which escapes them, or
JSON literals made here with json.dumps) in the key order of items.item(): cheaper
than json_build_object, whose json arguments PostgreSQL parses again, and an
optional field is simply a CASE that adds it or not.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from api.renderers import COORD_DECIMALS
from api.stac.boxes import rounded_box_sql
from api.stac.items import (
    EO_EXT,
    FILE_EXT,
    GEOJSON,
    MEDIA_TYPES,
    ORBIT_STATES,
    PROCESSING_EXT,
    SAT_EXT,
    STAC_VERSION,
    bbox_of,
)


def _lit(text: str) -> str:
    """A SQL string literal for a constant of ours (never for request input)."""
    return "'" + text.replace("'", "''") + "'"


def _iso(col: str) -> str:
    """items.iso() in SQL: RFC 3339 in UTC with a Z, microseconds only when non-zero."""
    return (
        f"(to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN date_trunc('second', {col}) = {col} THEN ''"
        f" ELSE to_char({col} AT TIME ZONE 'UTC', '.US') END || 'Z')"
    )


# JSON values Python reads as false (items.quicklook_asset tests them with truthiness).
_FALSY = "('null', '\"\"', '0', 'false', '[]', '{}')"


def _truthy(expr: str) -> str:
    return f"({expr} IS NOT NULL AND {expr} NOT IN {_FALSY})"


Entry = tuple[str, str, str | None]  # key, SQL giving the value's JSON text, condition


def _json(value: object) -> str:
    """A constant as a SQL literal of its JSON text."""
    return _lit(json.dumps(value))


def _text(expr: str) -> str:
    """A SQL text value as JSON text (a string, or null)."""
    return f"COALESCE(to_json(({expr})::text)::text, 'null')"


def _obj(entries: list[Entry]) -> str:
    """SQL concatenating a JSON object; an entry with a condition is there only if it holds.

    concat() appends all its arguments to one buffer, where a chain of || would copy
    the growing text once per piece (quadratic in the size of an item). The first
    entry has no condition, so each later one can start with its comma.
    """
    parts = []
    for i, (key, value, cond) in enumerate(entries):
        label = _lit(("{" if i == 0 else ",") + json.dumps(key) + ":")
        parts += [f"CASE WHEN {cond} THEN concat({label}, {value}) ELSE '' END"] if cond else [
            label, value]
    return "concat(" + ", ".join(parts) + ", '}')"


def _array(values: list[str]) -> str:
    return "concat('[', " + ", ',', ".join(values) + ", ']')"


_MEDIA = "CASE lower(s.format) " + " ".join(
    f"WHEN {_lit(k)} THEN {_json(v)}" for k, v in MEDIA_TYPES.items()
) + f" ELSE {_json('application/octet-stream')} END"

_ORBIT_STATES = "(" + ", ".join(_lit(s) for s in sorted(ORBIT_STATES)) + ")"
_CLOUD = "s.attrs -> 'cloud_cover'"
_LOOK = "s.attrs -> 'quicklook'"
_GEOJSON = f"ST_AsGeoJSON(s.footprint, {COORD_DECIMALS}, 0)"


def _quoted(expr: str) -> str:
    """Text known to need no escaping (timestamps, uuids) as a JSON string, or null."""
    return f"COALESCE('\"' || {expr} || '\"', 'null')"


def _href(path: str) -> str:
    """The JSON string of this server's base URL followed by `path` (SQL text, never null).

    u.base holds the base already escaped for JSON (base_param()), or, in an item
    stored by the catalog's trigger, the placeholder STORED_BASE; the path goes
    through to_json, whose opening quote is cut off.
    """
    return f"concat('\"', u.base, substr(to_json(({path})::text)::text, 2))"


# items.bbox_from_box2d(): the Box2D numbers rounded as boxes.FootprintBox rounds them
# for the Python renderer. An item without a footprint has no bbox at all (a null one
# fails the item schema). Footprints whose box touches both +-180 get null here and
# their bbox from items.bbox_of() in finish(): done in SQL, that walk over the GeoJSON
# coordinates cost more than the rest of the item together.
_BBOX = ("CASE WHEN v.wraps THEN 'null' ELSE concat('[', "
         + ", ',', ".join(rounded_box_sql("v.box")) + ", ']') END")

_PROPS = _obj([
    ("datetime", _quoted("v.t0"), None),
    ("start_datetime", _quoted("v.t0"), None),
    ("end_datetime", _quoted("COALESCE(v.t1, v.t0)"), None),
    ("title", _text("s.granule_id"), None),
    ("created", _quoted("v.tc"), None),
    ("updated", _quoted("v.tu"), None),
    ("platform", _text("s.platform"), "s.platform <> ''"),
    ("constellation", _text("s.constellation"), "s.constellation <> ''"),
    ("instruments", _array([_text("s.instrument")]), "s.instrument <> ''"),
    ("processing:level", _text("s.processing_level"), "v.has_level"),
    ("sat:absolute_orbit", "s.orbit::text", "v.has_orbit"),
    ("sat:relative_orbit", "s.relative_orbit::text", "s.relative_orbit >= 1"),
    ("sat:orbit_cycle", "s.orbit_cycle::text", "s.orbit_cycle >= 1"),
    ("sat:orbit_state", _text("lower(s.orbit_direction)"), "v.has_state"),
    ("swathstore:pass", "s.pass_number::text", "s.pass_number >= 1"),
    ("eo:cloud_cover", f"({_CLOUD})::text", "v.has_cloud"),
    ("swathstore:version", "s.version::text", None),
])

_EXTENSIONS = ("concat('[', CASE WHEN v.has_sat"
               f" THEN {_lit(json.dumps(SAT_EXT) + ',')} ELSE '' END,"
               f" CASE WHEN v.has_level THEN {_lit(json.dumps(PROCESSING_EXT) + ',')} ELSE '' END,"
               f" {_json(FILE_EXT)},"
               f" CASE WHEN v.has_cloud THEN {_lit(',' + json.dumps(EO_EXT))} ELSE '' END,"
               " ']')")

_DATA = _obj([
    ("href", _href("'/api/v1/swaths/' || v.uid || '/download'"), None),
    ("type", _MEDIA, None),
    ("title", _text("s.filename"), None),
    ("roles", _json(["data"]), None),
    ("file:size", "s.size::text", "s.size IS NOT NULL"),
    ("file:checksum", _text("'1220' || s.sha256"), "s.sha256 <> ''"),
])

_QUICKLOOK = _obj([
    ("href", _href("'/api/v1/swaths/' || v.uid || '/quicklook.png'"), None),
    ("type", _json("image/png"), None),
    ("roles", _json(["overview"]), None),
    ("title", _text(f"CASE WHEN {_truthy(_LOOK + ' -> ' + _lit('variable'))}"
                    f" THEN 'Quicklook of ' || ({_LOOK} ->> 'variable') ELSE 'Quicklook' END"),
     None),
])


def _link(rel: str, media: str, href: str) -> str:
    return _obj([("rel", _json(rel), None), ("type", _json(media), None), ("href", href, None)])


# The item of `s` (a catalog_swath row) as JSON text, with `c` (its collection), `u`
# (base_values()) and `v` (VALUES) in scope. api.stac.storeditems makes it the body of
# the database function every page and the catalog's trigger call.
ITEM = _obj([
    ("type", _json("Feature"), None),
    ("stac_version", _json(STAC_VERSION), None),
    ("stac_extensions", _EXTENSIONS, None),
    ("id", _quoted("v.uid"), None),
    ("collection", _text("c.slug"), None),
    ("geometry", "COALESCE(v.gj, 'null')", None),
    ("bbox", _BBOX, "v.box IS NOT NULL"),
    ("properties", _PROPS, None),
    ("links", _array([
        _link("self", GEOJSON, _href("'/stac/collections/' || c.slug || '/items/' || v.uid")),
        _link("parent", "application/json", "v.coll_json"),
        _link("collection", "application/json", "v.coll_json"),
        _link("root", "application/json", "u.root_json"),
    ]), None),
    ("assets", _obj([("data", _DATA, None), ("quicklook", _QUICKLOOK, "v.has_look")]), None),
])

# Whether the item's bbox is left to finish().
WRAPS = "(ST_XMin(Box2D(s.footprint)) <= -180 AND ST_XMax(Box2D(s.footprint)) >= 180)"

# Values used more than once per row, computed once: OFFSET 0 keeps PostgreSQL from
# pulling the subquery up and so evaluating each expression at every use.
VALUES = f"""LATERAL (SELECT
    {_GEOJSON} AS gj, Box2D(s.footprint) AS box,
    {WRAPS} AS wraps,
    s.uuid::text AS uid,
    {_href("'/stac/collections/' || c.slug")} AS coll_json,
    {_iso("s.start_time")} AS t0, {_iso("s.end_time")} AS t1,
    {_iso("s.created_at")} AS tc, {_iso("s.updated_at")} AS tu,
    s.orbit >= 1 AS has_orbit, lower(s.orbit_direction) IN {_ORBIT_STATES} AS has_state,
    COALESCE(s.orbit >= 1 OR lower(s.orbit_direction) IN {_ORBIT_STATES}
             OR s.relative_orbit >= 1 OR s.orbit_cycle >= 1, false) AS has_sat,
    s.processing_level <> '' AS has_level,
    CASE WHEN jsonb_typeof({_CLOUD}) = 'number'
         THEN ({_CLOUD})::text::numeric BETWEEN 0 AND 100 ELSE false END AS has_cloud,
    jsonb_typeof({_LOOK}) = 'object' AND {_truthy(_LOOK + " -> 'key'")} AS has_look
  OFFSET 0) AS v"""


def base_values(base: str) -> str:
    """The FROM item `u`: the base URL (SQL giving JSON-escaped text) and the root link."""
    return (f"(SELECT base, concat('\"', base, '/stac/\"') AS root_json"
            f" FROM (SELECT ({base})::text AS base) AS b) AS u")


# What stands for the base URL in a stored item: chr(1), a character to_json always
# escapes, so it can be nowhere else in an item's text.
STORED_BASE = "chr(1)"

NAMES = ("rendered", "wrapping")


def base_param(base: str) -> str:
    """This server's base URL as the text between a JSON string's quotes."""
    return json.dumps(base, ensure_ascii=False)[1:-1]


def finish(row: dict[str, Any]) -> str:
    """The item's JSON text; footprints touching both +-180 get their bbox here.

    Their row says so ("wrapping"), the bbox is worked out from the item's own
    geometry, and it replaces the first '"bbox":null', which is the bbox: only
    numbers and fixed keys precede it.
    """
    if not row["wrapping"]:
        return row["rendered"]
    text = row["rendered"]
    # The geometry is what lies between its key and the bbox's: GeoJSON of numbers
    # and type names only, so neither marker can occur inside it.
    start = text.index('"geometry":') + len('"geometry":')
    end = text.index(',"bbox":null', start)
    bbox = orjson.dumps(bbox_of(orjson.loads(text[start:end]))).decode()
    return text[:end] + ',"bbox":' + bbox + text[end + len(',"bbox":null'):]

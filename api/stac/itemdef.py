"""The STAC Item of a swath, declared once: each field, its value and when it is there.

ITEM is a tree of nodes, and every node is written in both languages side by side: a
Python expression over `row` (a dict of items.ITEM_COLUMNS) and `url`, and PostgreSQL
over `s` (the catalog_swath row), `c` (its collection) and `u.base` (this server's
base URL, already escaped for JSON, or the stored items' placeholder). From the tree
python_renderer() makes one Python function (SpatiaLite, single items, the fields
extension, API_SQL_ITEMS off) and `ITEM.sql()` the SQL building the same JSON text
(the item api.stac.storeditems stores and serves). A field is added, renamed or made
optional here, once, for both; tests/api runs whole over both paths.

The Python is generated as source and compiled once: walking the tree for each item
cost ten times the hand-written renderer this replaced, the compiled function about
what that one did. The SQL builds each item as text with concat(): cheaper than
json_build_object, whose json arguments PostgreSQL parses again, and an optional
field is a CASE that adds it or not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.renderers import COORD_DECIMALS
from api.stac.boxes import rounded_box_sql

Url = Callable[[str], str]  # path -> absolute URL
Row = dict[str, Any]

STAC_VERSION = "1.0.0"
# sat v1.1.0 is the first with sat:orbit_cycle.
SAT_EXT = "https://stac-extensions.github.io/sat/v1.1.0/schema.json"
FILE_EXT = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
EO_EXT = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
PROCESSING_EXT = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
MEDIA_TYPES = {
    "netcdf4": "application/x-netcdf", "netcdf3": "application/x-netcdf",
    "netcdf": "application/x-netcdf", "nc": "application/x-netcdf",
    "hdf5": "application/x-hdf5", "h5": "application/x-hdf5", "hdf4": "application/x-hdf",
    "hdf": "application/x-hdf",
}
# The chunk references' media type (api.references): JSON whose profile names the
# kerchunk reference format. A profile parameter, not a vnd type of our own making: every
# JSON client still reads it as JSON, and the format is named by its specification.
REFERENCES_SPEC = "https://fsspec.github.io/kerchunk/spec.html"
REFERENCES_TYPE = f'application/json; profile="{REFERENCES_SPEC}"'
ORBIT_STATES = ("ascending", "descending", "geostationary")
GEOJSON = "application/geo+json"


def iso(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, as STAC wants."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


class Raw:
    """GeoJSON text from the database, spliced into the response as it is (items.dumps)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def bbox(box2d: str, geojson: str | None) -> list[float]:
    """The bbox from FootprintBox's text (Box2D's form, numbers rounded by the database);
    a footprint touching both +-180 is looked at part by part (bbox_of).

    >>> bbox("BOX(10 -5,20.5 5)", None)
    [10.0, -5.0, 20.5, 5.0]
    """
    lo, hi = box2d[4:-1].split(",")
    west, south = (float(v) for v in lo.split())
    east, north = (float(v) for v in hi.split())
    if west <= -180 and east >= 180 and geojson:
        return bbox_of(json.loads(geojson))
    return [west, south, east, north]


def bbox_of(geometry: dict) -> list[float]:
    """The bbox of a footprint split at +-180; west > east when it crosses the antimeridian.

    >>> east = [[[170, 0], [180, 0], [180, 5], [170, 0]]]
    >>> west = [[[-180, 0], [-175, 0], [-180, 5], [-180, 0]]]
    >>> bbox_of({"type": "MultiPolygon", "coordinates": [east, west]})
    [170, 0, -175, 5]
    """
    polys = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [
        geometry["coordinates"]]
    boxes = []
    for poly in polys:
        xs = [p[0] for p in poly[0]]
        ys = [p[1] for p in poly[0]]
        boxes.append((min(xs), min(ys), max(xs), max(ys)))
    south, north = min(b[1] for b in boxes), max(b[3] for b in boxes)
    east_parts = [b for b in boxes if b[2] >= 180 and b[0] > -180]
    west_parts = [b for b in boxes if b[0] <= -180 and b[2] < 180]
    if east_parts and west_parts and not any(b[0] <= -180 and b[2] >= 180 for b in boxes):
        # Pieces on both sides of the antimeridian: a crossing bbox unless the pieces
        # on one side reach past the other's edge (then the plain one is smaller).
        west = min(b[0] for b in boxes if b[0] > -180)
        east = max(b[2] for b in boxes if b[2] < 180)
        if west > east:
            return [west, south, east, north]
    return [min(b[0] for b in boxes), south, max(b[2] for b in boxes), north]


def _lit(text: str) -> str:
    """A SQL string literal for a constant of ours (never for request input)."""
    return "'" + text.replace("'", "''") + "'"


def _json(value: object) -> str:
    """A constant as a SQL literal of its JSON text."""
    return _lit(json.dumps(value))


# What the generated Python may call, besides the builtins.
_HELPERS: dict[str, Any] = {
    "iso": iso, "Raw": Raw, "bbox": bbox, "MEDIA_TYPES": MEDIA_TYPES,
    "text": lambda v: None if v is None else str(v),
    "lower": lambda v: (v or "").lower(),
    "get": lambda v, key: v.get(key) if isinstance(v, dict) else None,
}


@dataclass(frozen=True)
class Expr:
    """One value in both languages: `py` over row and url, `sql` over s, c and u.

    A node's templates put the value of its `of` where "$" stands.
    """

    py: str
    sql: str

    def __call__(self, of: Expr) -> Expr:
        return Expr(self.py.replace("$", of.py), self.sql.replace("$", of.sql))


def col(name: str) -> Expr:
    return Expr(f"row[{name!r}]", f"s.{name}")


# ---- conditions (SQL: NULL counts as false) and values (SQL: JSON text, never NULL) ----

FILLED = Expr("bool($)", "$ <> ''")
NOT_NULL = Expr("($ is not None)", "$ IS NOT NULL")
KNOWN = Expr("($ is not None)", "$ IS NOT NULL")
COUNTED = Expr("(($ or 0) >= 1)", "$ >= 1")  # an orbit, cycle or pass number STAC takes
ORBIT_STATE = Expr(f"($ in {ORBIT_STATES!r})",
                   "$ IN (" + ", ".join(_lit(v) for v in ORBIT_STATES) + ")")
# A JSON number from 0 to 100 (booleans and strings are not).
PERCENT = Expr("(isinstance($, int | float) and not isinstance($, bool) and 0 <= $ <= 100)",
               "CASE WHEN jsonb_typeof($) = 'number'"
               " THEN $::text::numeric BETWEEN 0 AND 100 ELSE false END")
# A JSON value Python reads as true (compared as jsonb, where 0.0 = 0).
TRUTHY = Expr("bool($)", "($ IS NOT NULL AND $ NOT IN ('null', '\"\"', '0', 'false', '[]', '{}'))")


def any_of(*conds: Expr) -> Expr:
    return Expr("(" + " or ".join(c.py for c in conds) + ")",
                "COALESCE(" + " OR ".join(f"({c.sql})" for c in conds) + ", false)")


TEXT = Expr("text($)", "COALESCE(to_json(($)::text)::text, 'null')")
NUMBER = Expr("$", "COALESCE(($)::text, 'null')")  # an integer column or a JSON number
# Microseconds only when not zero, as datetime.isoformat() writes them.
TIME = Expr("iso($)", "COALESCE('\"' || to_char($ AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
            " || CASE WHEN date_trunc('second', $) = $ THEN ''"
            " ELSE to_char($ AT TIME ZONE 'UTC', '.US') END || 'Z\"', 'null')")


def const(value: object) -> Expr:
    return Expr(repr(value), _json(value))  # a literal: a new list or dict for each item


def link(*parts: str | Expr) -> Expr:
    """This server's URL of a path made of constants and text values."""
    return Expr(
        "url(" + " + ".join(repr(p) if isinstance(p, str) else f"str({p.py})" for p in parts)
        + ")",
        # to_json escapes the path; its opening quote is cut off to follow the base.
        "concat('\"', u.base, substr(to_json(concat("
        + ", ".join(_lit(p) if isinstance(p, str) else f"({p.sql})::text" for p in parts)
        + "))::text, 2))")


Entry = tuple[str, Expr] | tuple[str, Expr, Expr]


def obj(*entries: Entry) -> Expr:
    """A JSON object; an entry with a third element, a condition, is there when it holds.

    Python unpacks an optional entry in place, so the keys keep their order. SQL
    concatenates: concat() appends all its arguments to one buffer, where a chain of
    || copies the growing text once per piece; the first entry has no condition, so
    each later one can start with its comma.
    """
    if len(entries[0]) != 2:
        raise ValueError(f"the first entry of an object, {entries[0][0]!r}, has a condition")
    py, sql = [], []
    for i, (key, value, *cond) in enumerate(entries):
        label = _lit(("{" if i == 0 else ",") + json.dumps(key) + ":")
        if cond:
            py.append(f"**({{{key!r}: {value.py}}} if {cond[0].py} else {{}})")
            sql.append(f"CASE WHEN {cond[0].sql} THEN concat({label}, {value.sql}) ELSE '' END")
        else:
            py.append(f"{key!r}: {value.py}")
            sql.append(f"{label}, {value.sql}")
    return Expr("{" + ", ".join(py) + "}", "concat(" + ", ".join(sql) + ", '}')")


def arr(*items: Expr | tuple[Expr, Expr]) -> Expr:
    """A JSON array; an element given as (value, condition) is there when it holds."""
    py, sql = [], []
    for item in items:
        if isinstance(item, tuple):
            py.append(f"*([{item[0].py}] if {item[1].py} else [])")
            sql.append(f"CASE WHEN {item[1].sql} THEN concat(',', {item[0].sql}) ELSE '' END")
        else:
            py.append(item.py)
            sql.append(f"',', {item.sql}")
    # SQL: every element with a leading comma, the first comma cut off.
    return Expr("[" + ", ".join(py) + "]",
                f"concat('[', substr(concat({', '.join(sql)}), 2), ']')")


# ---- the item ------------------------------------------------------------------------

UUID = Expr("str(row['uuid'])", "s.uuid::text")
SLUG = Expr("row['collection__slug']", "c.slug")
DIRECTION = Expr("lower(row['orbit_direction'])", "lower(s.orbit_direction)")
CLOUD = Expr("row['cloud_cover']", "(s.attrs -> 'cloud_cover')")
START = col("start_time")
HAS_LEVEL, HAS_CLOUD = FILLED(col("processing_level")), PERCENT(CLOUD)
HAS_STATE = ORBIT_STATE(DIRECTION)
HAS_SAT = any_of(COUNTED(col("orbit")), HAS_STATE, COUNTED(col("relative_orbit")),
                 COUNTED(col("orbit_cycle")))
GEOMETRY_SQL = f"ST_AsGeoJSON(s.footprint, {COORD_DECIMALS}, 0)"
# The footprint's box touches both +-180: it may cross the antimeridian. Python takes
# the bbox of such a footprint part by part (bbox_of); in SQL that walk over the
# coordinates cost more than the rest of the item, so SQL writes null and
# storeditems.finish() fills it in.
WRAPS = "(ST_XMin(Box2D(s.footprint)) <= -180 AND ST_XMax(Box2D(s.footprint)) >= 180)"
BBOX = Expr("bbox(row['fp_box'], row['fp_geojson'])",
            f"CASE WHEN {WRAPS} THEN 'null' ELSE concat('[', "
            + ", ',', ".join(rounded_box_sql("Box2D(s.footprint)")) + ", ']') END")
MEDIA_TYPE = Expr(
    "MEDIA_TYPES.get(lower(row['format']), 'application/octet-stream')",
    "CASE lower(s.format) " + " ".join(f"WHEN {_lit(k)} THEN {_json(v)}"
                                       for k, v in MEDIA_TYPES.items())
    + f" ELSE {_json('application/octet-stream')} END")
LOOK_KEY = Expr("get(row['quicklook'], 'key')", "(s.attrs -> 'quicklook' -> 'key')")
HAS_LOOK = Expr(TRUTHY(LOOK_KEY).py, "(jsonb_typeof(s.attrs -> 'quicklook') = 'object'"
                f" AND {TRUTHY(LOOK_KEY).sql})")
LOOK_VARIABLE = Expr("get(row['quicklook'], 'variable')", "(s.attrs -> 'quicklook' -> 'variable')")
LOOK_TITLE = Expr(f"('Quicklook of ' + str({LOOK_VARIABLE.py}) if {LOOK_VARIABLE.py}"
                  " else 'Quicklook')",
                  f"CASE WHEN {TRUTHY(LOOK_VARIABLE).sql}"
                  f" THEN to_json('Quicklook of ' || ({LOOK_VARIABLE.sql} #>> '{{}}'))::text"
                  f" ELSE {_json('Quicklook')} END")
# Chunk references are listed only while they describe the swath's object as it is
# (api.references refuses to serve them otherwise).
REFS_KEY = Expr("get(row['chunk_index'], 'key')", "(s.attrs -> 'chunk_index' -> 'key')")
REFS_OBJECT = Expr("get(row['chunk_index'], 'object_sha256')",
                   "(s.attrs -> 'chunk_index' ->> 'object_sha256')")
HAS_REFS = Expr(f"({TRUTHY(REFS_KEY).py} and bool(row['sha256'])"
                f" and {REFS_OBJECT.py} == row['sha256'])",
                "(jsonb_typeof(s.attrs -> 'chunk_index') = 'object'"
                f" AND {TRUTHY(REFS_KEY).sql} AND {REFS_OBJECT.sql} = s.sha256)")
COLLECTION_LINK = link("/stac/collections/", SLUG)


def _optional(key: str, name: str, value: Expr = TEXT, cond: Expr = FILLED) -> Entry:
    return (key, value(col(name)), cond(col(name)))


ITEM = obj(
    ("type", const("Feature")),
    ("stac_version", const(STAC_VERSION)),
    ("stac_extensions", arr((const(SAT_EXT), HAS_SAT), (const(PROCESSING_EXT), HAS_LEVEL),
                            const(FILE_EXT), (const(EO_EXT), HAS_CLOUD))),
    ("id", TEXT(UUID)),
    ("collection", TEXT(SLUG)),
    ("geometry", Expr("(Raw(row['fp_geojson']) if row['fp_geojson'] else None)",
                      f"COALESCE({GEOMETRY_SQL}, 'null')")),
    # No footprint, no bbox: the item schema allows it absent, never null.
    ("bbox", BBOX, Expr("(row['fp_box'] is not None)", "s.footprint IS NOT NULL")),
    ("properties", obj(
        ("datetime", TIME(START)),
        ("start_datetime", TIME(START)),
        ("end_datetime", TIME(Expr(
            "(row['end_time'] if row['end_time'] is not None else row['start_time'])",
            "COALESCE(s.end_time, s.start_time)"))),
        ("title", TEXT(col("granule_id"))),
        ("created", TIME(col("created_at"))),
        ("updated", TIME(col("updated_at"))),
        _optional("platform", "platform"),
        _optional("constellation", "constellation"),
        ("instruments", arr(TEXT(col("instrument"))), FILLED(col("instrument"))),
        ("processing:level", TEXT(col("processing_level")), HAS_LEVEL),
        _optional("sat:absolute_orbit", "orbit", NUMBER, COUNTED),
        _optional("sat:relative_orbit", "relative_orbit", NUMBER, COUNTED),
        _optional("sat:orbit_cycle", "orbit_cycle", NUMBER, COUNTED),
        ("sat:orbit_state", TEXT(DIRECTION), HAS_STATE),
        _optional("swathstore:pass", "pass_number", NUMBER, COUNTED),  # sat has no pass
        # Neither sat nor any other extension defines it: our own prefix.
        _optional("swathstore:equator_crossing_longitude", "equator_crossing_longitude",
                  NUMBER, KNOWN),
        ("eo:cloud_cover", NUMBER(CLOUD), HAS_CLOUD),
        ("swathstore:version", NUMBER(col("version"))),
    )),
    ("links", arr(
        obj(("rel", const("self")), ("type", const(GEOJSON)),
            ("href", link("/stac/collections/", SLUG, "/items/", UUID))),
        obj(("rel", const("parent")), ("type", const("application/json")),
            ("href", COLLECTION_LINK)),
        obj(("rel", const("collection")), ("type", const("application/json")),
            ("href", COLLECTION_LINK)),
        obj(("rel", const("root")), ("type", const("application/json")),
            ("href", link("/stac/"))),
    )),
    ("assets", obj(
        ("data", obj(
            ("href", link("/api/v1/swaths/", UUID, "/download")),
            ("type", MEDIA_TYPE),
            ("title", TEXT(col("filename"))),
            ("roles", const(["data"])),
            _optional("file:size", "size", NUMBER, NOT_NULL),
            # multihash: sha2-256, 32 bytes
            ("file:checksum", TEXT(Expr("'1220' + row['sha256']", "'1220' || s.sha256")),
             FILLED(col("sha256"))),
        )),
        ("quicklook", obj(
            ("href", link("/api/v1/swaths/", UUID, "/quicklook.png")),
            ("type", const("image/png")),
            ("roles", const(["overview"])),
            ("title", LOOK_TITLE),
        ), HAS_LOOK),
        ("references", obj(
            ("href", link("/api/v1/swaths/", UUID, "/references.json")),
            ("type", const(REFERENCES_TYPE)),
            ("roles", const(["index"])),
            ("title", const("Chunk references (kerchunk, version 1) for xarray and fsspec")),
        ), HAS_REFS),
    )),
)


def python_renderer(expr: Expr) -> Callable[[Row, Url], Any]:
    """The Python rendering of `expr`: one function of (row, url), compiled once."""
    names = dict(_HELPERS)
    source = f"def render(row, url):\n    return {expr.py}\n"
    exec(compile(source, "<api.stac.itemdef>", "exec"), names)  # our own text only
    return names["render"]  # type: ignore[no-any-return]

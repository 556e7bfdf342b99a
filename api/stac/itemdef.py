"""The STAC Item of a swath, declared once: each field, its value and when it is there.

ITEM is a tree of small nodes. Each node compiles two ways, side by side in its class:
`py(ns)` gives a Python expression over `row` (a dict of items.ITEM_COLUMNS) and `url`,
from which python_renderer() makes one function (SpatiaLite, single items, the fields
extension, API_SQL_ITEMS off), and `sql()` gives PostgreSQL text building the same
JSON (the item api.stac.storeditems stores and serves). A field is added, renamed or
made optional here, in one place, for both.

Python is generated as source and compiled once, rather than walking the tree per
item: the walk cost ten times the hand-written renderer it replaced (140 against
14 us an item), the generated function about what that one did.

In SQL the row is `s` (catalog_swath), its collection `c`, and `u.base` this server's
base URL already escaped for JSON (or the stored items' placeholder). JSON is built as
text with concat(): cheaper than json_build_object, whose json arguments PostgreSQL
parses again, and an optional field is a CASE that adds it or not.
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
ORBIT_STATES = ("ascending", "descending", "geostationary")
GEOJSON = "application/geo+json"


def iso(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, as STAC wants."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def _lit(text: str) -> str:
    """A SQL string literal for a constant of ours (never for request input)."""
    return "'" + text.replace("'", "''") + "'"


class Namespace(dict):
    """The globals of the generated Python: helpers and constants, each under a new name."""

    def name(self, value: object) -> str:
        key = f"_{len(self)}"
        self[key] = value
        return key


# ---- values read from the row ------------------------------------------------------

@dataclass(frozen=True)
class Col:
    """A value of the row: `key` in the Python row, `expr` in SQL, `fn` to derive it in Python."""

    key: str
    expr: str
    fn: Callable[[Any], Any] | None = None

    def py(self, ns: Namespace) -> str:
        value = f"row[{self.key!r}]"
        return f"{ns.name(self.fn)}({value})" if self.fn else value


def _col(name: str) -> Col:
    return Col(name, f"s.{name}")


def _lower(value: str | None) -> str:
    return (value or "").lower()


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _variable(look: object) -> object:
    return look.get("variable") if isinstance(look, dict) else None


UUID, SLUG = Col("uuid", "s.uuid::text", str), Col("collection__slug", "c.slug")
DIRECTION = Col("orbit_direction", "lower(s.orbit_direction)", _lower)
CLOUD = Col("cloud_cover", "(s.attrs -> 'cloud_cover')")
LOOK = Col("quicklook", "(s.attrs -> 'quicklook')")
LOOK_VARIABLE = Col("quicklook", "(s.attrs -> 'quicklook' -> 'variable')", _variable)
FOOTPRINT = Col("fp_box", "s.footprint")


# ---- conditions: when an optional field is there -----------------------------------

class Cond:
    def py(self, ns: Namespace) -> str:
        """A Python expression, true when the condition holds."""
        raise NotImplementedError

    def sql(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Filled(Cond):
    """A text that is neither NULL nor empty."""

    col: Col

    def py(self, ns: Namespace) -> str:
        return f"bool({self.col.py(ns)})"

    def sql(self) -> str:
        return f"{self.col.expr} <> ''"


@dataclass(frozen=True)
class NotNull(Cond):
    col: Col

    def py(self, ns: Namespace) -> str:
        return f"({self.col.py(ns)} is not None)"

    def sql(self) -> str:
        return f"{self.col.expr} IS NOT NULL"


@dataclass(frozen=True)
class Counted(Cond):
    """An orbit, cycle or pass number STAC takes (the sat extension wants >= 1)."""

    col: Col

    def py(self, ns: Namespace) -> str:
        return f"(({self.col.py(ns)} or 0) >= 1)"

    def sql(self) -> str:
        return f"{self.col.expr} >= 1"


@dataclass(frozen=True)
class OneOf(Cond):
    col: Col
    values: tuple[str, ...]

    def py(self, ns: Namespace) -> str:
        return f"({self.col.py(ns)} in {self.values!r})"

    def sql(self) -> str:
        return f"{self.col.expr} IN ({', '.join(_lit(v) for v in self.values)})"


@dataclass(frozen=True)
class AnyOf(Cond):
    conds: tuple[Cond, ...]

    def py(self, ns: Namespace) -> str:
        return "(" + " or ".join(c.py(ns) for c in self.conds) + ")"

    def sql(self) -> str:
        return "COALESCE(" + " OR ".join(f"({c.sql()})" for c in self.conds) + ", false)"


@dataclass(frozen=True)
class Percent(Cond):
    """A JSON number from 0 to 100 (booleans and strings are not)."""

    col: Col

    @staticmethod
    def holds(v: object) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 100

    def py(self, ns: Namespace) -> str:
        return f"{ns.name(self.holds)}({self.col.py(ns)})"

    def sql(self) -> str:
        e = self.col.expr
        return (f"CASE WHEN jsonb_typeof({e}) = 'number'"
                f" THEN {e}::text::numeric BETWEEN 0 AND 100 ELSE false END")


# JSON values Python reads as false (compared as jsonb, where 0.0 = 0).
_FALSY = "('null', '\"\"', '0', 'false', '[]', '{}')"


def _truthy(jsonb: str) -> str:
    return f"({jsonb} IS NOT NULL AND {jsonb} NOT IN {_FALSY})"


@dataclass(frozen=True)
class HasKey(Cond):
    """A JSON object whose `key` holds a value Python reads as true."""

    col: Col
    key: str

    def py(self, ns: Namespace) -> str:
        v = self.col.py(ns)
        return f"(isinstance({v}, dict) and bool({v}.get({self.key!r})))"

    def sql(self) -> str:
        value = f"({self.col.expr} -> {_lit(self.key)})"
        return f"(jsonb_typeof({self.col.expr}) = 'object' AND {_truthy(value)})"


# ---- values: JSON in SQL, Python values in py() --------------------------------------

class Node:
    def py(self, ns: Namespace) -> str:
        """A Python expression giving the value, over `row` and `url`."""
        raise NotImplementedError

    def sql(self) -> str:
        """SQL giving the value's JSON text (never NULL)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Const(Node):
    value: Any

    def py(self, ns: Namespace) -> str:
        return repr(self.value)  # a literal: a new list or dict for each item

    def sql(self) -> str:
        return _lit(json.dumps(self.value))


@dataclass(frozen=True)
class Text(Node):
    col: Col

    def py(self, ns: Namespace) -> str:
        return f"{ns.name(_text)}({self.col.py(ns)})"

    def sql(self) -> str:
        return f"COALESCE(to_json(({self.col.expr})::text)::text, 'null')"


@dataclass(frozen=True)
class Num(Node):
    """A number as it is: an integer column, or a JSON number in attrs."""

    col: Col

    def py(self, ns: Namespace) -> str:
        return self.col.py(ns)

    def sql(self) -> str:
        return f"COALESCE(({self.col.expr})::text, 'null')"


@dataclass(frozen=True)
class Time(Node):
    """The first of `cols` that is not NULL, as iso() writes it."""

    cols: tuple[Col, ...]

    def py(self, ns: Namespace) -> str:
        value = self.cols[-1].py(ns)
        for c in reversed(self.cols[:-1]):
            value = f"({c.py(ns)} if {c.py(ns)} is not None else {value})"
        return f"{ns.name(iso)}({value})"

    def sql(self) -> str:
        e = ", ".join(c.expr for c in self.cols)
        e = f"COALESCE({e})" if len(self.cols) > 1 else e
        # Microseconds only when not zero, as datetime.isoformat().
        return (f"COALESCE('\"' || to_char({e} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
                f" || CASE WHEN date_trunc('second', {e}) = {e} THEN ''"
                f" ELSE to_char({e} AT TIME ZONE 'UTC', '.US') END || 'Z\"', 'null')")


@dataclass(frozen=True)
class Link(Node):
    """This server's URL of a path made of constants and row values."""

    parts: tuple[str | Col, ...]

    def py(self, ns: Namespace) -> str:
        return "url(" + " + ".join(repr(p) if isinstance(p, str) else f"str({p.py(ns)})"
                                   for p in self.parts) + ")"

    def sql(self) -> str:
        path = ", ".join(_lit(p) if isinstance(p, str) else f"({p.expr})::text"
                         for p in self.parts)
        # to_json escapes the path; its opening quote is cut off to follow the base.
        return f"concat('\"', u.base, substr(to_json(concat({path}))::text, 2))"


@dataclass(frozen=True)
class Lookup(Node):
    """A text column (case-insensitive) looked up in a table, else `default`."""

    col: Col
    table: dict[str, str]
    default: str

    def py(self, ns: Namespace) -> str:
        return f"{ns.name(self.table)}.get({ns.name(_lower)}({self.col.py(ns)}), {self.default!r})"

    def sql(self) -> str:
        whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(json.dumps(v))}"
                         for k, v in self.table.items())
        return f"CASE lower({self.col.expr}) {whens} ELSE {_lit(json.dumps(self.default))} END"


@dataclass(frozen=True)
class Prefixed(Node):
    """`prefix` + the value when Python reads it as true, else `default`."""

    col: Col
    prefix: str
    default: str

    def text(self, value: object) -> str:
        return f"{self.prefix}{value}" if value else self.default

    def py(self, ns: Namespace) -> str:
        return f"{ns.name(self.text)}({self.col.py(ns)})"

    def sql(self) -> str:
        e = self.col.expr
        text = f"({e} #>> '{{}}')"  # a JSON value as text, strings unquoted
        return (f"CASE WHEN {_truthy(e)} THEN to_json({_lit(self.prefix)} || {text})::text"
                f" ELSE {_lit(json.dumps(self.default))} END")


class Raw:
    """JSON text from the database, spliced into the response as it is (items.dumps)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


GEOMETRY_SQL = f"ST_AsGeoJSON(s.footprint, {COORD_DECIMALS}, 0)"


class Geometry(Node):
    """The footprint as GeoJSON, rounded to COORD_DECIMALS (Python: row["fp_geojson"])."""

    def py(self, ns: Namespace) -> str:
        return f"({ns.name(Raw)}(row['fp_geojson']) if row['fp_geojson'] else None)"

    def sql(self) -> str:
        return f"COALESCE({GEOMETRY_SQL}, 'null')"


# The footprint's box touches both +-180: it may cross the antimeridian.
WRAPS = "(ST_XMin(Box2D(s.footprint)) <= -180 AND ST_XMax(Box2D(s.footprint)) >= 180)"


class BBox(Node):
    """The footprint's box, numbers rounded to COORD_DECIMALS (boxes.FootprintBox).

    A footprint touching both +-180 gets its box from bbox_of(), part by part; in SQL
    that walk over the coordinates cost more than the rest of the item, so SQL writes
    null there and storeditems.finish() fills it in.
    """

    def py(self, ns: Namespace) -> str:
        return f"{ns.name(self.bbox)}(row['fp_box'], row['fp_geojson'])"

    @staticmethod
    def bbox(box2d: str, geojson: str | None) -> list[float]:
        lo, hi = box2d[4:-1].split(",")
        west, south = (float(v) for v in lo.split())
        east, north = (float(v) for v in hi.split())
        if west <= -180 and east >= 180 and geojson:
            return bbox_of(json.loads(geojson))
        return [west, south, east, north]

    def sql(self) -> str:
        numbers = ", ',', ".join(rounded_box_sql("Box2D(s.footprint)"))
        return f"CASE WHEN {WRAPS} THEN 'null' ELSE concat('[', {numbers}, ']') END"


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


Entry = tuple[str, Node] | tuple[str, Node, Cond]


@dataclass(frozen=True)
class Obj(Node):
    """A JSON object; an entry with a condition is there only when it holds."""

    entries: tuple[Entry, ...]

    def py(self, ns: Namespace) -> str:
        # An optional entry is a dict unpacked in place, so the order of keys holds.
        return "{" + ", ".join(
            f"{e[0]!r}: {e[1].py(ns)}" if len(e) == 2
            else f"**({{{e[0]!r}: {e[1].py(ns)}}} if {e[2].py(ns)} else {{}})"  # type: ignore[misc]
            for e in self.entries) + "}"

    def sql(self) -> str:
        # concat() appends all its arguments to one buffer, where a chain of || copies the
        # growing text once per piece. The first entry has no condition, so each later
        # one can start with its comma.
        assert len(self.entries[0]) == 2, "an object's first entry is unconditional"
        parts = []
        for i, e in enumerate(self.entries):
            label = _lit(("{" if i == 0 else ",") + json.dumps(e[0]) + ":")
            parts.append(f"CASE WHEN {e[2].sql()} THEN concat({label}, {e[1].sql()}) ELSE '' END"
                         if len(e) == 3 else f"{label}, {e[1].sql()}")
        return "concat(" + ", ".join(parts) + ", '}')"


@dataclass(frozen=True)
class Arr(Node):
    """A JSON array; an element given with a condition is there only when it holds."""

    items: tuple[Node | tuple[Node, Cond], ...]

    def py(self, ns: Namespace) -> str:
        return "[" + ", ".join(f"*([{i[0].py(ns)}] if {i[1].py(ns)} else [])"
                               if isinstance(i, tuple) else i.py(ns) for i in self.items) + "]"

    def sql(self) -> str:
        # Every element with a leading comma; the first comma is cut off.
        parts = [f"CASE WHEN {i[1].sql()} THEN concat(',', {i[0].sql()}) ELSE '' END"
                 if isinstance(i, tuple) else f"',', {i.sql()}" for i in self.items]
        return f"concat('[', substr(concat({', '.join(parts)}), 2), ']')"


# ---- the item -----------------------------------------------------------------------

START, END = _col("start_time"), _col("end_time")
LEVEL, ORBIT = _col("processing_level"), _col("orbit")
HAS_LEVEL, HAS_CLOUD = Filled(LEVEL), Percent(CLOUD)
HAS_STATE = OneOf(DIRECTION, ORBIT_STATES)
HAS_SAT = AnyOf((Counted(ORBIT), HAS_STATE, Counted(_col("relative_orbit")),
                 Counted(_col("orbit_cycle"))))
COLLECTION_LINK = Link(("/stac/collections/", SLUG))


def _prop(key: str, name: str, node: Callable[[Col], Node] = Text,
          cond: Callable[[Col], Cond] = Filled) -> Entry:
    col = _col(name)
    return (key, node(col), cond(col))


ITEM = Obj((
    ("type", Const("Feature")),
    ("stac_version", Const(STAC_VERSION)),
    ("stac_extensions", Arr(((Const(SAT_EXT), HAS_SAT), (Const(PROCESSING_EXT), HAS_LEVEL),
                             Const(FILE_EXT), (Const(EO_EXT), HAS_CLOUD)))),
    ("id", Text(UUID)),
    ("collection", Text(SLUG)),
    ("geometry", Geometry()),
    # No footprint, no bbox: the item schema allows it absent, never null.
    ("bbox", BBox(), NotNull(FOOTPRINT)),
    ("properties", Obj((
        ("datetime", Time((START,))),
        ("start_datetime", Time((START,))),
        ("end_datetime", Time((END, START))),
        ("title", Text(_col("granule_id"))),
        ("created", Time((_col("created_at"),))),
        ("updated", Time((_col("updated_at"),))),
        _prop("platform", "platform"),
        _prop("constellation", "constellation"),
        ("instruments", Arr((Text(_col("instrument")),)), Filled(_col("instrument"))),
        ("processing:level", Text(LEVEL), HAS_LEVEL),
        _prop("sat:absolute_orbit", "orbit", Num, Counted),
        _prop("sat:relative_orbit", "relative_orbit", Num, Counted),
        _prop("sat:orbit_cycle", "orbit_cycle", Num, Counted),
        ("sat:orbit_state", Text(DIRECTION), HAS_STATE),
        _prop("swathstore:pass", "pass_number", Num, Counted),  # the sat extension has none
        ("eo:cloud_cover", Num(CLOUD), HAS_CLOUD),
        ("swathstore:version", Num(_col("version"))),
    ))),
    ("links", Arr((
        Obj((("rel", Const("self")), ("type", Const(GEOJSON)),
             ("href", Link(("/stac/collections/", SLUG, "/items/", UUID))))),
        Obj((("rel", Const("parent")), ("type", Const("application/json")),
             ("href", COLLECTION_LINK))),
        Obj((("rel", Const("collection")), ("type", Const("application/json")),
             ("href", COLLECTION_LINK))),
        Obj((("rel", Const("root")), ("type", Const("application/json")),
             ("href", Link(("/stac/",))))),
    ))),
    ("assets", Obj((
        ("data", Obj((
            ("href", Link(("/api/v1/swaths/", UUID, "/download"))),
            ("type", Lookup(_col("format"), MEDIA_TYPES, "application/octet-stream")),
            ("title", Text(_col("filename"))),
            ("roles", Const(["data"])),
            _prop("file:size", "size", Num, NotNull),
            # multihash: sha2-256, 32 bytes
            ("file:checksum", Text(Col("sha256", "'1220' || s.sha256", lambda v: "1220" + v)),
             Filled(_col("sha256"))),
        ))),
        ("quicklook", Obj((
            ("href", Link(("/api/v1/swaths/", UUID, "/quicklook.png"))),
            ("type", Const("image/png")),
            ("roles", Const(["overview"])),
            ("title", Prefixed(LOOK_VARIABLE, "Quicklook of ", "Quicklook")),
        )), HasKey(LOOK, "key")),
    ))),
))


def python_renderer(node: Node) -> Callable[[Row, Url], Any]:
    """The Python rendering of `node`: one function of (row, url), compiled once."""
    ns = Namespace()
    source = f"def render(row, url):\n    return {node.py(ns)}\n"
    names = dict(ns)  # a plain dict: globals of a dict subclass are looked up slowly
    exec(compile(source, f"<itemdef {type(node).__name__}>", "exec"), names)  # our text only
    return names["render"]  # type: ignore[no-any-return]

"""STAC Items stored ahead of searches (api.models.StacItem), kept by triggers.

Rendering the 100 items of a search page in SQL cost PostgreSQL about as much again
as finding the rows. pgSTAC keeps each item's JSON; so does this module:
statement-level triggers on catalog_swath store the item of every VERIFIED row
written, rendered by the SQL of the one item declaration (api.stac.itemdef.ITEM)
with chr(1) where the base URL goes, and a page replaces that placeholder in the
stored text. This is the fast path settings.API_SQL_ITEMS chooses; the whole API
suite runs over both paths (tests/api/conftest.py).

- Triggers, not save(): rows change through queryset updates, the bulk COPY of
  catalog/bulkload.py and raw SQL, none of which call Python. Statement-level, with
  transition tables, so a COPY of 50,000 rows renders them in one set-based INSERT.
- A cache, never the truth: a page serves an item only when its `rev` (a hash of
  the functions below) is this code's, its uuid the row's, its `row_xmin` the xmin of
  the row version it was rendered from (so a write that bypassed the triggers,
  session_replication_role = replica or a restore, is noticed) and the row VERIFIED,
  and renders the item itself otherwise.
- A bulk load may set `swathstore.bulk_load` for its transaction and have its rows'
  items stored beside it on another connection (api.stac.itemfill). `manage.py
  refresh_stac_items` stores what is missing, stale or of another revision.

PostgreSQL only (the embedded SpatiaLite default renders every item in Python).
Installed by migration api/0002 and again after every `migrate` (api.apps), so the
database runs this module's revision.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from functools import cache
from typing import Any

import orjson

from api.search import RenderSQL
from api.stac.itemdef import ITEM, WRAPS, bbox_of

# What stands for the base URL in a stored item: chr(1), a character to_json always
# escapes, so it can be nowhere else in an item's text.
STORED_BASE = "chr(1)"


def _xmin(t: str) -> str:
    """The xmin of table (alias) `t`'s row version as a number (the xid type has no order
    or cast to bigint)."""
    return f"{t}.xmin::text::bigint"


_XMIN = _xmin("s")


def _current(rev: int, row: str, uuid: str, xmin: str, state: str) -> str:
    """When the stored item `i` may serve the swath row `row` (its id), whose uuid, xmin
    and state are the other arguments: of revision `rev`, made from the row as it is now,
    and the row VERIFIED."""
    return (f"i.swath_id = {row} AND i.rev = {int(rev)} AND i.uuid = {uuid}"
            f" AND i.row_xmin = {xmin} AND {state} = 'VERIFIED'")


# The item of one row for a base URL (JSON-escaped text). A function rather than the
# expression in each page's statement: PostgreSQL plans its large expression once per
# session, where a statement carrying it was planned again on every request.
_ITEM_FUNCTION = f"""
CREATE OR REPLACE FUNCTION swathstore_item(s catalog_swath, base_url text) RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  item text;
BEGIN
  SELECT {ITEM.sql} INTO item
  FROM catalog_collection c CROSS JOIN (SELECT base_url AS base) AS u
  WHERE c.id = s.collection_id;
  RETURN item;
END $fn$"""

# Store the items of these swaths: each VERIFIED one gets this revision's item. With
# `refill`, an item already of this revision and uuid is kept (it may be fresher than
# this call's snapshot: a trigger wrote it). `prune` first removes the items of those
# no longer VERIFIED or gone.
_STORE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION swathstore_store_items(ids bigint[], prune boolean, refill boolean)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  n integer;
BEGIN
  IF prune THEN
    DELETE FROM api_stacitem i WHERE i.swath_id = ANY(ids) AND NOT EXISTS (
      SELECT 1 FROM catalog_swath s
      WHERE s.id = i.swath_id AND s.state = 'VERIFIED');
  END IF;
  INSERT INTO api_stacitem (swath_id, uuid, row_xmin, rev, wraps, text)
  SELECT s.id, s.uuid, {_XMIN}, %(rev)d, COALESCE({WRAPS}, false), {ITEM.sql}
  FROM catalog_swath s
  JOIN catalog_collection c ON c.id = s.collection_id
  CROSS JOIN (SELECT {STORED_BASE} AS base) AS u
  WHERE s.id = ANY(ids) AND s.state = 'VERIFIED'
  ON CONFLICT (swath_id) DO UPDATE SET uuid = EXCLUDED.uuid, row_xmin = EXCLUDED.row_xmin,
                                       rev = EXCLUDED.rev, wraps = EXCLUDED.wraps,
                                       text = EXCLUDED.text
  WHERE NOT refill OR api_stacitem.rev <> EXCLUDED.rev OR api_stacitem.uuid <> EXCLUDED.uuid
     OR api_stacitem.row_xmin <> EXCLUDED.row_xmin;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $fn$"""

_WRITE_TRIGGER = """
CREATE OR REPLACE FUNCTION swathstore_swaths_written() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF current_setting('swathstore.bulk_load', true) = 'on' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM swathstore_store_items(
      ARRAY(SELECT id FROM new_rows WHERE state = 'VERIFIED'), false, false);
  ELSE
    PERFORM swathstore_store_items(ARRAY(SELECT id FROM new_rows), true, false);
  END IF;
  RETURN NULL;
END $fn$"""

_DELETE_TRIGGER = """
CREATE OR REPLACE FUNCTION swathstore_swaths_deleted() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM api_stacitem WHERE swath_id IN (SELECT id FROM old_rows);
  RETURN NULL;
END $fn$"""

_SLUG_TRIGGER = """
CREATE OR REPLACE FUNCTION swathstore_collection_renamed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM swathstore_store_items(
    ARRAY(SELECT id FROM catalog_swath WHERE collection_id = NEW.id AND state = 'VERIFIED'),
    false, false);
  RETURN NULL;
END $fn$"""

_FUNCTIONS = [_ITEM_FUNCTION, _STORE_FUNCTION, _WRITE_TRIGGER, _DELETE_TRIGGER, _SLUG_TRIGGER]
# The revision: a hash of the functions' text (before the revision is written in).
REV = zlib.crc32("".join(_FUNCTIONS).replace("%(rev)d", "0").encode()) & 0x7FFFFFFF

_TRIGGERS = [
    ("swath_items_inserted", "catalog_swath", "AFTER INSERT", "NEW TABLE AS new_rows",
     "swathstore_swaths_written"),
    ("swath_items_updated", "catalog_swath", "AFTER UPDATE", "NEW TABLE AS new_rows",
     "swathstore_swaths_written"),
    ("swath_items_deleted", "catalog_swath", "AFTER DELETE", "OLD TABLE AS old_rows",
     "swathstore_swaths_deleted"),
]

INSTALL = [
    *(f.replace("%(rev)d", str(REV)) for f in _FUNCTIONS),
    *(f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, table, *_ in _TRIGGERS),
    *(f"CREATE TRIGGER {name} {when} ON {table} REFERENCING {ref} FOR EACH STATEMENT"
      f" EXECUTE FUNCTION {fn}()" for name, table, when, ref, fn in _TRIGGERS),
    "DROP TRIGGER IF EXISTS collection_items_renamed ON catalog_collection",
    "CREATE TRIGGER collection_items_renamed AFTER UPDATE OF slug ON catalog_collection"
    " FOR EACH ROW WHEN (OLD.slug IS DISTINCT FROM NEW.slug)"
    " EXECUTE FUNCTION swathstore_collection_renamed()",
]

UNINSTALL = [
    "DROP TRIGGER IF EXISTS collection_items_renamed ON catalog_collection",
    *(f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, table, *_ in _TRIGGERS),
    "DROP FUNCTION IF EXISTS swathstore_collection_renamed()",
    "DROP FUNCTION IF EXISTS swathstore_swaths_deleted()",
    "DROP FUNCTION IF EXISTS swathstore_swaths_written()",
    "DROP FUNCTION IF EXISTS swathstore_store_items(bigint[], boolean, boolean)",
    "DROP FUNCTION IF EXISTS swathstore_item(catalog_swath, text)",
]


def install(connection: Any) -> None:
    """(Re)create this revision's functions and triggers (PostgreSQL; else nothing)."""
    _run(connection, INSTALL)


def uninstall(connection: Any) -> None:
    _run(connection, UNINSTALL)


def _run(connection: Any, statements: list[str]) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        for sql in statements:
            cur.execute(sql)


# The VERIFIED rows of ids [%s, %s) that have no item of this revision.
_MISSING = ("SELECT s.id FROM catalog_swath s LEFT JOIN api_stacitem i ON "
            f"{_current(REV, 's.id', 's.uuid', _XMIN, 's.state')}"
            " WHERE s.id >= %s AND s.id < %s AND s.state = 'VERIFIED' AND i.swath_id IS NULL")


@cache
def _page_render(rev: int) -> RenderSQL:
    """How a page reads each row's item: "rendered" (with the placeholder), "wrapping".

    The item stored for the row when it is current (the row's uuid, xmin and state
    ride along from the search, see CARRY); otherwise the item rendered now, the
    same text as a stored one. COALESCE runs the subqueries only for a row without a
    current item: joining every row of the page back to catalog_swath cost a tenth
    of the page's statement. The base URL goes in in Python (finish()): replace() in
    SQL cost as much again.
    """
    own = "FROM catalog_swath s WHERE s.id = p.id"
    select = (f"u.base, COALESCE(i.text, (SELECT swathstore_item(s, {STORED_BASE}) {own}))"
              f" AS rendered, COALESCE(i.wraps, (SELECT {WRAPS} {own})) AS wrapping")
    current = _current(rev, "p.id", "p.row_uuid", "p.row_xmin", "p.row_state")
    joins = f"CROSS JOIN (SELECT %s::text AS base) AS u LEFT JOIN api_stacitem i ON {current}"
    return RenderSQL(select, ("base", "rendered", "wrapping"), joins, [], CARRY)


# What each of the page's rows carries from the search, to tell a current stored item.
CARRY = ("{t}.uuid AS row_uuid, {t}.state AS row_state, "
         + _xmin("{t}") + " AS row_xmin")


def render(base: str, rev: int = REV) -> RenderSQL:
    """How run_search renders a page's items for a server whose base URL is `base`."""
    # The base as the text between a JSON string's quotes.
    return replace(_page_render(rev), params=[json.dumps(base, ensure_ascii=False)[1:-1]])


def finish(row: dict[str, Any]) -> str:
    """The item's JSON text, its placeholders replaced by the row's "base"; footprints
    touching both +-180 get their bbox here.

    Their row says so ("wrapping"), the bbox is worked out from the item's own
    geometry (itemdef.bbox_of), and it replaces the first '"bbox":null', which is the
    bbox: only numbers and fixed keys precede it.
    """
    text = row["rendered"].replace("\x01", row["base"])
    if not row["wrapping"]:
        return text
    # The geometry is what lies between its key and the bbox's: GeoJSON of numbers
    # and type names only, so neither marker can occur inside it.
    start = text.index('"geometry":') + len('"geometry":')
    end = text.index(',"bbox":null', start)
    bbox = orjson.dumps(bbox_of(orjson.loads(text[start:end]))).decode()
    return text[:end] + ',"bbox":' + bbox + text[end + len(',"bbox":null'):]


def _id_range(cur: Any) -> tuple[int, int] | None:
    cur.execute("SELECT min(id), max(id) FROM catalog_swath")
    lo, hi = cur.fetchone()
    return None if lo is None else (lo, hi + 1)


def stale(connection: Any) -> int:
    """How many VERIFIED rows have no item of this revision."""
    with connection.cursor() as cur:
        span = _id_range(cur)
        if span is None:
            return 0
        cur.execute(f"SELECT count(*) FROM ({_MISSING}) AS m", list(span))
        return cur.fetchone()[0]


def store(cursor: Any, ids: list[int]) -> int:
    """Store the items of these swaths unless a current one is there; return how many."""
    cursor.execute("SELECT swathstore_store_items(%s::bigint[], false, true)", [ids])
    return cursor.fetchone()[0]


def refresh(connection: Any, batch: int = 10_000) -> int:
    """Store this revision's item for every VERIFIED row that has none; return how many.

    In batches of ids, each its own transaction, so a large catalog is not locked
    as a whole and an interrupted refresh keeps what it did.
    """
    done = 0
    with connection.cursor() as cur:
        span = _id_range(cur)
        if span is None:
            return 0
        for start in range(span[0], span[1], batch):
            cur.execute(f"SELECT swathstore_store_items(ARRAY({_MISSING}), false, true)",
                        [start, start + batch])
            done += cur.fetchone()[0]
    return done

"""STAC Items stored with their swath: rendered by a trigger when a row is written.

Rendering 100 items as a search page is read (api.stac.sqlitems) cost PostgreSQL
about as much again as finding the rows. pgSTAC's answer is to keep each item's JSON;
this is ours: a BEFORE INSERT OR UPDATE trigger on catalog_swath renders the item of
every VERIFIED row with sqlitems' own SQL into `stac_item`, with chr(1) where this
server's base URL goes, and a search page only replaces that placeholder.

Why a trigger and not save(): rows change through queryset updates, the bulk COPY of
catalog/bulkload.py and raw SQL, none of which call Python. A trigger sees them all.

`stac_rev` is a hash of the function's text. A page uses a stored item only when its
revision is this code's, so an item stored by an older renderer is never served: the
page renders it live until `manage.py refresh_stac_items` stores it again. Rows that
are not VERIFIED keep no item (a search of other states renders them live), nor do
footprints whose box touches both +-180 (their bbox is finished in Python, see
sqlitems.finish). A collection's new slug re-renders its swaths' items.

PostgreSQL only; the columns are not on the Django model, so no ORM query reads the
text it does not need. Installed by migration api/0002 and again after every
`migrate` (api.apps), so the database always runs this module's revision.
"""

from __future__ import annotations

import zlib
from typing import Any

from api.search import RenderSQL
from api.stac import sqlitems

# The item of one row for a base URL (JSON-escaped text). A function rather than the
# expression in each page's statement: PostgreSQL plans its large expression once per
# session, where a statement carrying it was planned again on every request.
_ITEM_FUNCTION = f"""
CREATE OR REPLACE FUNCTION swathstore_item(s catalog_swath, base_url text) RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  item text;
BEGIN
  SELECT {sqlitems.ITEM} INTO item
  FROM catalog_collection c
  CROSS JOIN {sqlitems.base_values("base_url")}
  CROSS JOIN {sqlitems.VALUES}
  WHERE c.id = s.collection_id;
  RETURN item;
END $fn$"""

_TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION swathstore_stac_item() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  s catalog_swath := NEW;
BEGIN
  IF NEW.state IS DISTINCT FROM 'VERIFIED' THEN
    NEW.stac_item := NULL;
    NEW.stac_rev := NULL;
    RETURN NEW;
  END IF;
  NEW.stac_item := CASE WHEN {sqlitems.WRAPS} THEN NULL
                        ELSE swathstore_item(NEW, {sqlitems.STORED_BASE}) END;
  NEW.stac_rev := %d;
  RETURN NEW;
END $fn$"""

# The revision: a hash of both functions' text, with a zero in its own place.
REV = zlib.crc32((_ITEM_FUNCTION + _TRIGGER_FUNCTION).encode()) & 0x7FFFFFFF

INSTALL = [
    "ALTER TABLE catalog_swath ADD COLUMN IF NOT EXISTS stac_item text",
    "ALTER TABLE catalog_swath ADD COLUMN IF NOT EXISTS stac_rev integer",
    _ITEM_FUNCTION,
    _TRIGGER_FUNCTION % REV,
    "DROP TRIGGER IF EXISTS swath_stac_item ON catalog_swath",
    # The WHEN clause costs no function call for rows that neither are nor were
    # VERIFIED with an item (uploads in progress, failures).
    "CREATE TRIGGER swath_stac_item BEFORE INSERT OR UPDATE ON catalog_swath FOR EACH ROW"
    " WHEN (NEW.state = 'VERIFIED' OR NEW.stac_item IS NOT NULL)"
    " EXECUTE FUNCTION swathstore_stac_item()",
    # The swath trigger renders again the items it sees updated.
    """CREATE OR REPLACE FUNCTION swathstore_collection_items() RETURNS trigger
       LANGUAGE plpgsql AS $fn$
       BEGIN
         UPDATE catalog_swath SET stac_rev = NULL
         WHERE collection_id = NEW.id AND stac_item IS NOT NULL;
         RETURN NULL;
       END $fn$""",
    "DROP TRIGGER IF EXISTS collection_stac_items ON catalog_collection",
    "CREATE TRIGGER collection_stac_items AFTER UPDATE OF slug ON catalog_collection"
    " FOR EACH ROW WHEN (OLD.slug IS DISTINCT FROM NEW.slug)"
    " EXECUTE FUNCTION swathstore_collection_items()",
]

UNINSTALL = [
    "DROP TRIGGER IF EXISTS collection_stac_items ON catalog_collection",
    "DROP FUNCTION IF EXISTS swathstore_collection_items()",
    "DROP TRIGGER IF EXISTS swath_stac_item ON catalog_swath",
    "DROP FUNCTION IF EXISTS swathstore_stac_item()",
    "DROP FUNCTION IF EXISTS swathstore_item(catalog_swath, text)",
    "ALTER TABLE catalog_swath DROP COLUMN IF EXISTS stac_rev",
    "ALTER TABLE catalog_swath DROP COLUMN IF EXISTS stac_item",
]


def install(connection: Any) -> None:
    """Add the columns if missing and (re)create the triggers of this revision."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        for sql in INSTALL:
            cur.execute(sql)


def uninstall(connection: Any) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        for sql in UNINSTALL:
            cur.execute(sql)


def page_render(rev: int) -> tuple[str, str]:
    """(select list, FROM items) of a page's "rendered" and "wrapping" (sqlitems.finish).

    The item stored at write time when it is of revision `rev`, its placeholder
    replaced by the request's base; otherwise (none stored: a box that wraps, a row
    not VERIFIED or written before this revision) the item rendered now. CASE
    evaluates only the branch it takes, so a stored item costs no rendering.
    The FROM items fill one %s: sqlitems.base_param() of the base URL.
    """
    stored = f"s.stac_rev = {int(rev)} AND s.stac_item IS NOT NULL"
    select = (f"CASE WHEN {stored} THEN replace(s.stac_item, {sqlitems.STORED_BASE}, u.base)"
              " ELSE swathstore_item(s, u.base) END AS rendered,"
              f" CASE WHEN {stored} THEN NULL WHEN {sqlitems.WRAPS}"
              f" THEN {sqlitems.GEOJSON} END AS wrapping")
    joins = "JOIN catalog_swath s ON s.id = p.id CROSS JOIN (SELECT %s::text AS base) AS u"
    return select, joins


def render(base: str, rev: int = REV) -> RenderSQL:
    """How run_search renders a page's items for a server whose base URL is `base`."""
    select, joins = page_render(rev)
    return RenderSQL(select, sqlitems.NAMES, joins, [sqlitems.base_param(base)])


def stale(connection: Any) -> int:
    """How many VERIFIED rows have no item of this revision but could."""
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM catalog_swath WHERE state = 'VERIFIED'"
                    " AND stac_rev IS DISTINCT FROM %s", [REV])
        return cur.fetchone()[0]


def refresh(connection: Any, batch: int = 10_000) -> int:
    """Store this revision's item for every VERIFIED row without one; return how many.

    In batches of ids, each its own transaction, so a large catalog is not locked
    as a whole and an interrupted refresh keeps what it did.
    """
    done = 0
    with connection.cursor() as cur:
        cur.execute("SELECT min(id), max(id) FROM catalog_swath")
        lo, hi = cur.fetchone()
        if lo is None:
            return 0
        for start in range(lo, hi + 1, batch):
            # stac_rev := NULL makes the trigger render the row again.
            cur.execute("UPDATE catalog_swath SET stac_rev = NULL WHERE id >= %s AND id < %s"
                        " AND state = 'VERIFIED' AND stac_rev IS DISTINCT FROM %s",
                        [start, start + batch, REV])
            done += cur.rowcount
    return done

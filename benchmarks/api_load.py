"""Load the API search benchmark database: 1,000,000 synthetic swaths, and pgSTAC beside them.

    .venv/bin/python benchmarks/api_load.py swaths   [--dsn ...] [--count 1000000]
    .venv/bin/python benchmarks/api_load.py pgstac   [--dsn ...]

`swaths` migrates the database named in --dsn (created if missing; never the
suite's or the demo's) and COPYs the rows in. `pgstac` installs pgSTAC with
pypgstac (from .venv-peers, which pins psycopg 3) into the same database and
loads the same swaths as STAC Items with pypgstac's COPY-based loader, so both
searches run on the same PostgreSQL over the same footprints.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api_synth  # noqa: E402
from benchdb import ensure_database  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/swathstore_bench_api"
COLLECTION = "modis-aqua-synth"
PEERS = REPO / ".venv-peers" / "bin"
COLUMNS = (
    "uuid", "collection_id", "granule_id", "version", "filename", "source_path", "format",
    "platform", "instrument", "orbit", "orbit_direction", "start_time", "end_time",
    "footprint", "is_empty", "size", "sha256", "state", "lease_owner", "attempts",
    "failure_reason", "attrs", "created_at", "updated_at", "verified_at",
)


def prepare_database(dsn: str) -> None:
    """Create the benchmark's database if needed and migrate it (never the demo's
    or the suite's)."""
    base, _, name = dsn.rpartition("/")
    if name in ("swathstore", "test_swathstore"):
        raise SystemExit(f"refusing to load the benchmark into {name}")
    ensure_database(dsn)
    env = {**os.environ, "DATABASE_URL": dsn.replace("postgresql://", "postgis://"),
           "VAR_DIR": str(REPO / "var" / "bench")}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env,
                   check=True)


def synthetic_collection(cur: psycopg2.extensions.cursor) -> int:
    """The synthetic MODIS-Aqua collection's id (made if missing)."""
    cur.execute(
        "INSERT INTO catalog_collection (slug, title, description, platform, instrument,"
        " processing_level, license, variable_hints, default_codec, default_policy,"
        " created_at) VALUES (%s, 'Synthetic MODIS-Aqua L2', 'benchmark rows', 'aqua',"
        " 'modis', 'L2', 'proprietary', '{}', 'auto', 'single', now())"
        " ON CONFLICT (slug) DO UPDATE SET title = EXCLUDED.title RETURNING id",
        [COLLECTION],
    )
    return int(cur.fetchone()[0])


def drop_swath_indexes(cur: psycopg2.extensions.cursor) -> list[tuple[str, str]]:
    """Drop catalog_swath's indexes for a load; return (name, definition) to rebuild them
    once after it: building a GiST index in bulk is far faster than growing it row by row."""
    cur.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'catalog_swath'"
        " AND indexname NOT IN (SELECT conname FROM pg_constraint)")
    saved = cur.fetchall()
    for name, _ in saved:
        cur.execute(f'DROP INDEX "{name}"')
    return saved


def load_swaths(dsn: str, count: int) -> None:
    """Migrate, then COPY `count` synthetic VERIFIED swaths (replacing earlier ones)."""
    prepare_database(dsn)
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        coll_id = synthetic_collection(cur)
        cur.execute("TRUNCATE catalog_swath CASCADE")
        saved = drop_swath_indexes(cur)
    t0, done = time.monotonic(), 0
    for batch in api_synth.batches(count):
        buf = io.StringIO()
        wkb = shapely.to_wkb(batch.footprints, hex=True, include_srid=False)
        for i, idx in enumerate(batch.index):
            start = batch.start[i]
            end = start + api_synth.timedelta(seconds=api_synth.GRANULE_S)
            name = f"MYD.{start:%Y%j.%H%M%S}.L2.nc"
            row = (
                str(uuid.UUID(int=int(idx) + 1)), str(coll_id), name, "1", name, "", "netcdf4",
                "aqua", "modis", str(batch.orbit[i]),
                "ascending" if batch.ascending[i] else "descending",
                start.isoformat(), end.isoformat(), "SRID=4326;" + wkb[i], "f",
                str(100_000_000 + int(idx)), f"{int(idx):064x}", "VERIFIED", "", "0", "", "{}",
                start.isoformat(), start.isoformat(), start.isoformat(),
            )
            buf.write("\t".join(row) + "\n")
        buf.seek(0)
        with conn, conn.cursor() as cur:
            cur.copy_expert(f"COPY catalog_swath ({', '.join(COLUMNS)}) FROM STDIN", buf)
        done += len(batch.index)
        rate = done / (time.monotonic() - t0)
        print(f"{done:>9,} rows  {rate:,.0f} rows/s", flush=True)
    with conn, conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '512MB'")
        for name, definition in saved:
            t1 = time.monotonic()
            cur.execute(definition)
            print(f"index {name}: {time.monotonic() - t1:.0f} s", flush=True)
    # VACUUM as well as ANALYZE: it marks the pages all-visible, which an index-only
    # scan (the STAC aggregation's) needs to skip the table, as autovacuum would later.
    # The whole database: the aggregation guard's estimate joins catalog_collection,
    # whose one row autovacuum never analyses (unanalysed, a year of the collection is
    # estimated at 5,998 rows; analysed, 299,889: the guard's docstring).
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()


ITEM_SQL = """
SELECT jsonb_build_object(
  'type', 'Feature', 'stac_version', '1.0.0', 'id', s.uuid::text, 'collection', '{coll}',
  'geometry', ST_AsGeoJSON(s.footprint, 6)::jsonb,
  'bbox', jsonb_build_array(ST_XMin(s.footprint), ST_YMin(s.footprint),
                            ST_XMax(s.footprint), ST_YMax(s.footprint)),
  'properties', jsonb_build_object(
     'datetime', s.start_time, 'start_datetime', s.start_time, 'end_datetime', s.end_time,
     'platform', s.platform, 'instruments', jsonb_build_array(s.instrument),
     'sat:absolute_orbit', s.orbit, 'sat:orbit_state', s.orbit_direction),
  'assets', jsonb_build_object('data', jsonb_build_object(
     'href', '/api/v1/swaths/' || s.uuid || '/download', 'roles', jsonb_build_array('data'),
     'file:size', s.size, 'file:checksum', '1220' || s.sha256)),
  'links', '[]'::jsonb)
FROM catalog_swath s WHERE s.state = 'VERIFIED' ORDER BY s.start_time
"""


def load_pgstac(dsn: str) -> None:
    """Install pgSTAC (pypgstac migrate) and load every VERIFIED swath as an Item.

    The Items stream out of catalog_swath by COPY into `pypgstac load items stdin`:
    pypgstac's Loader dehydrates them in Python and COPYs each chunk straight into
    its partition. (Inserting through pgstac.items_staging, whose trigger handles
    row by row, managed about 200 items/s on a loaded machine: days for 1,000,000.)
    Partitioned by year, as pgSTAC advises for collections this size.
    """
    subprocess.run([str(PEERS / "pypgstac"), "migrate", "--dsn", dsn], check=True)
    conn = psycopg2.connect(dsn)
    collection = {
        "type": "Collection", "stac_version": "1.0.0", "id": COLLECTION,
        "description": "benchmark rows", "license": "proprietary", "links": [],
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                   "temporal": {"interval": [["2015-01-01T00:00:00Z", None]]}},
    }
    with conn, conn.cursor() as cur:
        cur.execute("SET search_path TO pgstac, public")
        cur.execute("DELETE FROM pgstac.items WHERE collection = %s", [COLLECTION])
        cur.execute("SELECT pgstac.upsert_collection(%s::jsonb)", [json.dumps(collection)])
        cur.execute("UPDATE pgstac.collections SET partition_trunc = 'year' WHERE id = %s",
                    [COLLECTION])
    t0 = time.monotonic()
    loader = subprocess.Popen(
        [str(PEERS / "pypgstac"), "load", "items", "stdin", "--dsn", dsn,
         "--method", "insert", "--chunksize", "50000"], stdin=subprocess.PIPE)
    assert loader.stdin is not None
    with conn.cursor() as cur:
        sql = ITEM_SQL.replace("{coll}", COLLECTION)
        cur.copy_expert(f"COPY ({sql}) TO STDOUT", loader.stdin)
    loader.stdin.close()
    if loader.wait() != 0:
        raise SystemExit("pypgstac load failed")
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pgstac.items WHERE collection = %s", [COLLECTION])
        (n,) = cur.fetchone()
        print(f"{n:,} items in {time.monotonic() - t0:.0f} s", flush=True)
        cur.execute("ANALYZE pgstac.items")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["swaths", "pgstac"])
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--count", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.what == "swaths":
        load_swaths(args.dsn, args.count)
    else:
        load_pgstac(args.dsn)


if __name__ == "__main__":
    main()

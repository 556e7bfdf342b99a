"""Catalog-only registration rate, side by side with a raw COPY of the same rows.

    .venv/bin/python benchmarks/catalog_register.py --rows 1000000 --repeat 3

Makes a JSON-lines manifest of synthetic swaths over 10 years (footprints as WKT
quadrilaterals of 12 vertices), then in a fresh PostGIS database `swathstore_bench_register`:
1. `register_manifest` into the catalog with all its indexes and constraints, its
   timing including the stored STAC Items of every row (api.stac.itemfill), whose
   count is checked;
2. a raw COPY of the same rows (already in COPY text form, footprints as EWKT)
   into a plain table with the same columns and catalog_swath's own indexes (read
   from pg_indexes, so it stays equally indexed as migrations change).
Reports rows/s (median of the repeats) and the ratio. Needs PostgreSQL on loopback.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from benchdb import fresh_database

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"
DB = "swathstore_bench_register"  # its own: other benchmarks keep theirs
PG = "postgis://postgres@127.0.0.1:5432"


def make_manifest(path: Path, rows: int, seed: int = 42) -> None:
    """Write `rows` manifest lines: granule id, key, sha256, size, times, WKT footprint."""
    rng = np.random.default_rng(seed)
    t0 = np.datetime64("2015-01-01T00:00:00")
    starts = t0 + (rng.uniform(0, 10 * 365.25 * 86400, rows)).astype("timedelta64[s]")
    lon = rng.uniform(-165, 165, rows)
    lat = rng.uniform(-70, 70, rows)
    half_w, half_h = rng.uniform(3, 10, rows), rng.uniform(3, 10, rows)
    with path.open("w") as out:
        for i in range(rows):
            x0, x1 = lon[i] - half_w[i], lon[i] + half_w[i]
            y0, y1 = lat[i] - half_h[i], lat[i] + half_h[i]
            xs = np.linspace(x0, x1, 4)
            ring = [(x, y0) for x in xs] + [(x1, y) for y in np.linspace(y0, y1, 4)[1:]] + [
                (x, y1) for x in xs[::-1][1:]] + [(x0, y) for y in np.linspace(y1, y0, 4)[1:]]
            wkt = "POLYGON((" + ",".join(f"{x:.4f} {y:.4f}" for x, y in ring) + "))"
            start = str(starts[i]) + "+00:00"
            end = str(starts[i] + np.timedelta64(300, "s")) + "+00:00"
            out.write(json.dumps({
                "granule_id": f"SYN{i:08d}.nc", "key": f"swaths/bench/{i:08d}.nc",
                "sha256": hashlib.sha256(i.to_bytes(8, "little")).hexdigest(),
                "size": 50_000_000 + i, "start_time": start, "end_time": end,
                "footprint": wkt, "platform": "Aqua", "instrument": "MODIS",
                "orbit": 10_000 + i // 15, "format": "netcdf4",
            }) + "\n")


def run_register(manifest: Path, db: str) -> tuple[float, int]:
    """Run register_manifest in a child (fresh Django) and return (seconds, rows)."""
    code = (
        "import django, sys; django.setup();"
        "from catalog.bulkload import register_manifest;"
        "from catalog.services import get_or_create_collection;"
        "c, _ = get_or_create_collection('bench');"
        f"r = register_manifest(open({str(manifest)!r}, 'rb'), c, trust_checksums=True);"
        "from django.db import connection; cur = connection.cursor();"
        "cur.execute('SELECT count(*) FROM api_stacitem');"
        "print(r.seconds, r.loaded, len(r.rejected), cur.fetchone()[0])"
    )
    env = {**os.environ, "DATABASE_URL": f"{PG}/{db}", "VAR_DIR": str(OUT / "var"),
           "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    seconds, loaded, rejected, items = float(out[0]), int(out[1]), int(out[2]), int(out[3])
    assert rejected == 0, f"{rejected} rows rejected"
    assert items == loaded, f"{items} stored STAC Items for {loaded} rows"
    return seconds, loaded


RAW_TABLE = """
DROP TABLE IF EXISTS raw_swath;
CREATE TABLE raw_swath (
  id bigint NOT NULL, uuid uuid NOT NULL, collection_id bigint NOT NULL,
  granule_id varchar(255) NOT NULL, version integer NOT NULL, filename varchar(255) NOT NULL,
  format varchar(16) NOT NULL, platform varchar(100) NOT NULL, orbit integer,
  start_time timestamptz, end_time timestamptz, footprint geometry(MultiPolygon, 4326),
  is_empty boolean NOT NULL, size bigint, sha256 varchar(64), state varchar(12) NOT NULL,
  ingest_run_id bigint, updated_at timestamptz NOT NULL);
"""


def equal_indexes(cur) -> list[str]:
    """catalog_swath's own index definitions (migrations included), re-aimed at raw_swath.

    Read from the database rather than written out here, so the plain table stays
    "equally indexed" whatever the migrations add or drop.
    """
    cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'catalog_swath'")
    return [
        definition.replace(f"INDEX {name} ON public.catalog_swath ",
                           f"INDEX raw_{name} ON raw_swath ")
        for name, definition in cur.fetchall()
    ]


def raw_copy_text(manifest: Path) -> str:
    """The same rows as COPY text, prepared before the clock starts."""
    import uuid

    buf = io.StringIO()
    with manifest.open() as lines:
        for i, line in enumerate(lines, 1):
            d = json.loads(line)
            fp = "SRID=4326;MULTIPOLYGON(" + d["footprint"][len("POLYGON"):] + ")"
            buf.write("\t".join((
                str(i), str(uuid.uuid4()), "1", d["granule_id"], "1", d["granule_id"],
                d["format"], d["platform"], str(d["orbit"]), d["start_time"], d["end_time"],
                fp, "f", str(d["size"]), d["sha256"], "VERIFIED", d["start_time"],
            )) + "\n")
    return buf.getvalue()


def run_raw_copy(text: str, db: str) -> float:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=db)
    with conn, conn.cursor() as cur:
        cur.execute(RAW_TABLE)
        for definition in equal_indexes(cur):
            cur.execute(definition)
    started = time.perf_counter()
    with conn, conn.cursor() as cur:
        cur.copy_from(io.StringIO(text), "raw_swath", columns=(
            "id", "uuid", "collection_id", "granule_id", "version", "filename", "format",
            "platform", "orbit", "start_time", "end_time", "footprint", "is_empty", "size",
            "sha256", "state", "updated_at"))
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", default=DB,
                        help="database to drop and recreate (one per concurrent run)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = OUT / f"manifest-{args.rows}.jsonl"
    if not manifest.exists():
        print(f"writing {manifest} ...", flush=True)
        make_manifest(manifest, args.rows)
    text = raw_copy_text(manifest)
    ours, raw = [], []
    for i in range(args.repeat):
        fresh_database(args.db, {**os.environ, "DATABASE_URL": f"{PG}/{args.db}",
                                 "VAR_DIR": str(OUT / "var")})
        seconds, loaded = run_register(manifest, args.db)
        ours.append(loaded / seconds)
        raw.append(args.rows / run_raw_copy(text, args.db))
        print(f"run {i + 1}: register {ours[-1]:,.0f} rows/s, raw COPY {raw[-1]:,.0f} rows/s",
              flush=True)
    o, r = statistics.median(ours), statistics.median(raw)
    print(f"median of {args.repeat}: register {o:,.0f} rows/s; raw COPY {r:,.0f} rows/s; "
          f"ratio {o / r:.2f}")


if __name__ == "__main__":
    main()

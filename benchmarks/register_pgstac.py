"""Registration side by side with pgSTAC's loader and a raw COPY, with CPU accounting.

    .venv/bin/python benchmarks/register_pgstac.py --rows 1000000 --repeat 3

The same N synthetic swaths (catalog_register.py's manifest) go in three ways, in one
run, the order rotated each repeat:
1. ours: `register_manifest` of the JSON-lines manifest into a freshly migrated catalog
   with all its indexes, constraints and the stored STAC Item of every row (counted);
2. pgSTAC: the same swaths as STAC Items ndjson, `Loader.load_items(..., Methods.insert)`
   of pypgstac (what `pypgstac load items --method insert` runs: the mode for a fresh
   insert, a COPY straight into each partition) into a fresh copy of a database where
   `pypgstac migrate` installed pgSTAC, its collection loaded first (partitioned by
   year, as pgSTAC advises at this size); the items are counted;
3. raw: a COPY of the same rows, prepared as text before the clock, into a plain table
   with catalog_swath's own indexes (catalog_register.py).
Each reports wall seconds of the load alone, client CPU seconds (process time of the
loading process, all its threads; the raw COPY's thread time) and server CPU seconds of
the backends of its database (benchmarks/proccpu.py, sampled from /proc). Prints the
medians and writes benchmarks/out/register_pgstac.json. Needs PostgreSQL on loopback
and .venv-peers (`make peers`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import catalog_register as cr  # noqa: E402
from benchdb import fresh_database, psql  # noqa: E402
from proccpu import ServerCpu  # noqa: E402

PEERS = cr.REPO / ".venv-peers" / "bin"
PGSTAC_DB = "swathstore_bench_pgstac"
TEMPLATE = "swathstore_bench_pgstac_tpl"
COLLECTION = "bench"

OURS_CHILD = """
import sys, time, django
django.setup()
from django.db import connection
from catalog.bulkload import register_manifest
from catalog.services import get_or_create_collection
c, _ = get_or_create_collection('bench')
cpu, wall = time.process_time(), time.perf_counter()
r = register_manifest(open(sys.argv[1], 'rb'), c, trust_checksums=True)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
with connection.cursor() as cur:
    cur.execute('SELECT count(*) FROM api_stacitem')
    items = cur.fetchone()[0]
print(wall, cpu, r.loaded, len(r.rejected), items)
"""

PGSTAC_CHILD = """
import sys, time
from pypgstac.db import PgstacDB
from pypgstac.load import Loader, Methods
dsn, path = sys.argv[1:]
with PgstacDB(dsn=dsn) as db:
    cpu, wall = time.process_time(), time.perf_counter()
    Loader(db=db).load_items(path, insert_mode=Methods.insert, chunksize=10000)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = db.query_one("SELECT count(*) FROM items")
print(wall, cpu, n)
"""


def write_items(manifest: Path, path: Path) -> None:
    """The manifest's swaths as STAC Items, one a line (the fields our stored Items carry)."""
    with manifest.open("rb") as lines, path.open("w") as out:
        for line in lines:
            d = json.loads(line)
            ring = [[float(v) for v in p.split()]
                    for p in d["footprint"][len("POLYGON(("):-2].split(",")]
            xs, ys = [p[0] for p in ring], [p[1] for p in ring]
            out.write(json.dumps({
                "type": "Feature", "stac_version": "1.0.0", "id": d["granule_id"],
                "collection": COLLECTION,
                "geometry": {"type": "MultiPolygon", "coordinates": [[ring]]},
                "bbox": [min(xs), min(ys), max(xs), max(ys)],
                "properties": {
                    "datetime": None, "start_datetime": d["start_time"],
                    "end_datetime": d["end_time"], "platform": "aqua",
                    "constellation": "eos", "instruments": ["modis"],
                    "sat:absolute_orbit": d["orbit"],
                },
                "assets": {"data": {
                    "href": f"s3://bench/{d['key']}", "roles": ["data"],
                    "type": "application/x-netcdf", "file:size": d["size"],
                    "file:checksum": "1220" + d["sha256"],
                }},
                "links": [],
            }) + "\n")


def pgstac_template() -> None:
    """A database with pgSTAC installed and the benchmark's collection, copied per repeat."""
    psql(f"DROP DATABASE IF EXISTS {TEMPLATE}")
    psql(f"CREATE DATABASE {TEMPLATE}")
    dsn = f"postgresql://postgres@127.0.0.1:5432/{TEMPLATE}"
    subprocess.run([str(PEERS / "pypgstac"), "migrate", "--dsn", dsn], check=True,
                   capture_output=True)
    collection = {
        "type": "Collection", "stac_version": "1.0.0", "id": COLLECTION,
        "description": "benchmark rows", "license": "proprietary", "links": [],
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                   "temporal": {"interval": [["2015-01-01T00:00:00Z", None]]}},
    }
    literal = json.dumps(collection).replace("'", "''")
    psql(f"SET search_path TO pgstac, public; SELECT upsert_collection('{literal}'::jsonb);"
         f"UPDATE collections SET partition_trunc = 'year' WHERE id = '{COLLECTION}'", TEMPLATE)


def run_ours(manifest: Path, db: str, repo: Path = cr.REPO) -> dict:
    """register_manifest of the checkout at ``repo`` (this one, or --baseline's)."""
    env = {**os.environ, "DATABASE_URL": f"{cr.PG}/{db}", "VAR_DIR": str(cr.OUT / "var"),
           "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(repo)}
    fresh_database(db, env)
    with ServerCpu(db) as server:
        out = subprocess.run([sys.executable, "-c", OURS_CHILD, str(manifest)], cwd=repo,
                             env=env, check=True, capture_output=True, text=True).stdout.split()
    wall, cpu, loaded, rejected, items = float(out[0]), float(out[1]), *map(int, out[2:])
    assert rejected == 0 and items == loaded, (loaded, rejected, items)
    return {"rows": loaded, "seconds": wall, "client_cpu": cpu, "server_cpu": server.backends,
            "background_cpu": server.background}


def run_pgstac(items: Path) -> dict:
    psql(f"DROP DATABASE IF EXISTS {PGSTAC_DB}")
    psql(f"CREATE DATABASE {PGSTAC_DB} TEMPLATE {TEMPLATE}")
    dsn = f"postgresql://postgres@127.0.0.1:5432/{PGSTAC_DB}"
    with ServerCpu(PGSTAC_DB) as server:
        out = subprocess.run([str(PEERS / "python"), "-c", PGSTAC_CHILD, dsn, str(items)],
                             check=True, capture_output=True, text=True).stdout.split()
    wall, cpu, n = float(out[0]), float(out[1]), int(out[2])
    return {"rows": n, "seconds": wall, "client_cpu": cpu, "server_cpu": server.backends,
            "background_cpu": server.background}


def run_raw(text: str, rows: int, db: str) -> dict:
    with ServerCpu(db) as server:
        cpu = time.thread_time()
        wall = cr.run_raw_copy(text, db)
        cpu = time.thread_time() - cpu
    return {"rows": rows, "seconds": wall, "client_cpu": cpu, "server_cpu": server.backends,
            "background_cpu": server.background}


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", default=cr.DB, help="our catalog's database (dropped)")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout (git archive of a commit) whose register_manifest "
                             "runs as a fourth contender, 'base', in the same rotation")
    args = parser.parse_args()
    cr.OUT.mkdir(parents=True, exist_ok=True)
    manifest = cr.OUT / f"manifest-{args.rows}.jsonl"
    items = cr.OUT / f"items-{args.rows}.ndjson"
    if not manifest.exists():
        print(f"writing {manifest} ...", flush=True)
        cr.make_manifest(manifest, args.rows)
    if not items.exists():
        print(f"writing {items} ...", flush=True)
        write_items(manifest, items)
    text = cr.raw_copy_text(manifest)
    pgstac_template()
    contenders = {
        "ours": lambda: run_ours(manifest, args.db),
        "pgstac": lambda: run_pgstac(items),
        "raw": lambda: run_raw(text, args.rows, args.db),
    }
    if args.baseline:
        contenders["base"] = lambda: run_ours(manifest, args.db, args.baseline.resolve())
    names = list(contenders)
    runs: dict[str, list[dict]] = {n: [] for n in names}
    loads = []
    for i in range(args.repeat):
        order = names[i % len(names):] + names[:i % len(names)]  # who goes first rotates
        for name in order:
            load = Path("/proc/loadavg").read_text().split()[0]
            r = {**contenders[name](), "load_at_start": float(load), "position": order.index(name)}
            r["rows_per_s"] = r["rows"] / r["seconds"]
            assert r["rows"] == args.rows, (name, r)
            runs[name].append(r)
            loads.append(float(load))
            print(f"run {i + 1} {name:6}: {r['rows_per_s']:>8,.0f} rows/s  {r['seconds']:7.1f} s"
                  f"  client CPU {r['client_cpu']:6.1f} s  server CPU {r['server_cpu']:6.1f} s"
                  f"  (background {r['background_cpu']:.1f} s)  load {load}", flush=True)
    medians = {n: {k: median(runs[n], k) for k in
                   ("rows_per_s", "seconds", "client_cpu", "server_cpu", "background_cpu")}
               for n in names}
    o, p, w = (medians[n]["rows_per_s"] for n in ("ours", "pgstac", "raw"))
    print(f"median of {args.repeat}: " + "; ".join(
        f"{n} {m['rows_per_s']:,.0f} rows/s, client CPU {m['client_cpu']:.1f} s, "
        f"server CPU {m['server_cpu']:.1f} s" for n, m in medians.items()))
    print(f"ours / pgstac {o / p:.2f} (target >= 2); ours / raw COPY {o / w:.2f} (target >= 0.4);"
          f" load {min(loads)}-{max(loads)}", flush=True)
    if args.baseline:
        b = medians["base"]["rows_per_s"]
        print(f"base / pgstac {b / p:.2f}; base / raw COPY {b / w:.2f}; ours / base {o / b:.2f}")
    (cr.OUT / "register_pgstac.json").write_text(json.dumps(
        {"rows": args.rows, "repeat": args.repeat, "runs": runs, "medians": medians,
         "ours_over_pgstac": o / p, "ours_over_raw": o / w}, indent=1))
    psql(f"DROP DATABASE IF EXISTS {PGSTAC_DB}")


if __name__ == "__main__":
    main()

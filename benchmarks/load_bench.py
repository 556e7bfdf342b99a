"""Load: 50 concurrent clients searching and downloading for 60 s against gunicorn +
PostGIS on loopback (RELIABILITY "0 errors under load").

    .venv/bin/python benchmarks/load_bench.py [--clients 50] [--seconds 60] [--rows 20000]

Self-contained and cheaper than benchmarks/api_load.py (1 M rows): it migrates its
own database (swathstore_bench_load, never the suite's), registers --rows seeded
swaths by COPY (catalog.bulkload) and --objects real 1 MB objects in a directory
store for the downloads, starts gunicorn (--workers, gthread) and runs the clients
as threads over http.client keep-alive connections. Each client loops: a bbox +
30-day search on /api/v1/swaths/ (4 in 5 requests) or a download of a whole
object. Any status other than 200, any exception or a short body is an error.
Prints a Markdown table for docs/BENCHMARKS.md ("Load").
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DSN = "postgis://postgres@127.0.0.1:5432/swathstore_bench_load"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def setup_database(rows: int, objects: int, var: Path, seed: int) -> list[str]:
    """Migrate the bench database, register rows and downloadable objects; return uuids."""
    import psycopg2

    base = "postgresql://postgres@127.0.0.1:5432/"
    conn = psycopg2.connect(base + "postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS swathstore_bench_load WITH (FORCE)")
        cur.execute("CREATE DATABASE swathstore_bench_load")
    conn.close()
    env = {**os.environ, "DATABASE_URL": DSN, "VAR_DIR": str(var)}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env,
                   check=True)
    script = f"""
import io, json, random, sys, django
django.setup()
import archive.config
from catalog.bulkload import register_manifest
from catalog.models import Collection, Swath
from datetime import datetime, timedelta, UTC
rng = random.Random({seed})
coll = Collection.objects.create(slug="load", title="load")
store = archive.config.get_store("primary")
lines = []
t0 = datetime(2024, 1, 1, tzinfo=UTC)
for i in range({rows}):
    lon, lat = rng.uniform(-175, 165), rng.uniform(-80, 70)
    start = t0 + timedelta(minutes=5 * i)
    record = {{"granule_id": f"L{{i:07d}}.nc", "start_time": start.isoformat(),
              "end_time": (start + timedelta(minutes=5)).isoformat(),
              "footprint": f"POLYGON(({{lon}} {{lat}},{{lon+10}} {{lat}},{{lon+10}} {{lat+10}},"
                           f"{{lon}} {{lat+10}},{{lon}} {{lat}}))"}}
    if i < {objects}:
        data = rng.randbytes(1_000_000)
        key = f"swaths/{{i:032x}}/obj.nc"
        put = store.put(key, io.BytesIO(data))
        record.update(key=key, sha256=put.sha256, size=put.size)
    else:
        record.update(key=f"swaths/{{i:032x}}/none.nc", sha256=f"{{i:064x}}", size=1000)
    lines.append(json.dumps(record))
result = register_manifest(lines, coll, trust_checksums=True)
assert result.loaded == {rows}, result.rejected[:3]
uuids = [str(u) for u in Swath.objects.filter(granule_id__in=[f"L{{i:07d}}.nc"
         for i in range({objects})]).values_list("uuid", flat=True)]
print(json.dumps(uuids))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True,
                          env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def start_server(port: int, var: Path, workers: int, threads: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": DSN, "VAR_DIR": str(var),
           # UserRateThrottle counts anonymous requests by address too: lift both.
           "API_THROTTLE_ANON": "100000000/minute", "API_THROTTLE_USER": "100000000/minute",
           "API_THROTTLE_ANON_RANGES": "100000000/minute",
           "CELERY_BROKER_URL": "",
           "LOG_LEVEL": "WARNING", "DB_CONN_MAX_AGE": "60"}
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "gunicorn"), "config.wsgi", "--bind",
         f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
         "--worker-class", "gthread", "--log-level", "warning", "--timeout", "60"],
        cwd=REPO, env=env)
    for _ in range(600):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def client(port: int, uuids: list[str], rows: int, deadline: float, seed: int,
           out: list[tuple[str, float, str]]) -> None:
    """One client: a keep-alive connection, searches and downloads until the deadline."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.monotonic() < deadline:
        if rng.random() < 0.2:
            kind, path = "download", f"/api/v1/swaths/{rng.choice(uuids)}/download"
        else:
            lon, lat = rng.uniform(-180, 170), rng.uniform(-90, 80)
            start = T0 + timedelta(minutes=rng.uniform(0, 5 * rows))
            window = f"{start:%Y-%m-%dT%H:%M:%SZ}/{start + timedelta(days=30):%Y-%m-%dT%H:%M:%SZ}"
            kind = "search"
            path = f"/api/v1/swaths/?bbox={lon:.3f},{lat:.3f},{lon + 10:.3f},{lat + 10:.3f}" \
                   f"&datetime={window}&limit=100"
        t = time.perf_counter()
        error = ""
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                error = f"HTTP {response.status}"
            elif kind == "download" and len(body) != 1_000_000:
                error = f"short body {len(body)}"
        except (OSError, http.client.HTTPException) as e:
            error = type(e).__name__
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        out.append((kind, time.perf_counter() - t, error))
    conn.close()


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values \
        else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--objects", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--port", type=int, default=8877)
    parser.add_argument("--seed", type=int, default=20240901)
    args = parser.parse_args()
    var = REPO / "var" / "bench-load"
    var.mkdir(parents=True, exist_ok=True)
    print(f"loading {args.rows} swaths and {args.objects} objects (seed {args.seed}) ...")
    uuids = setup_database(args.rows, args.objects, var, args.seed)
    server = start_server(args.port, var, args.workers, args.threads)
    results: list[tuple[str, float, str]] = []
    try:
        deadline = time.monotonic() + args.seconds
        threads = [threading.Thread(target=client, args=(args.port, uuids, args.rows,
                                                         deadline, args.seed + i, results))
                   for i in range(args.clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(30)
    errors = [r for r in results if r[2]]
    print(f"\n{args.clients} clients, {elapsed:.0f} s, gunicorn {args.workers} workers x "
          f"{args.threads} threads, {args.rows} swaths, seed {args.seed}\n")
    print("| request | count | per s | p50 ms | p99 ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for kind in ("search", "download", "all"):
        rows = [r for r in results if kind in ("all", r[0])]
        lat = [r[1] * 1000 for r in rows]
        print(f"| {kind} | {len(rows)} | {len(rows) / elapsed:.0f} | {pct(lat, 50):.0f} | "
              f"{pct(lat, 99):.0f} | {sum(1 for r in rows if r[2])} |")
    if errors:
        print("\nfirst errors:", sorted({e[2] for e in errors})[:10])
        sys.exit(1)


if __name__ == "__main__":
    main()

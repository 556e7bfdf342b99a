"""Aggregation benchmark: /stac/aggregate over HTTP beside the bare SQL, in one run.

    .venv/bin/python benchmarks/api_load.py swaths --dsn DSN   # 1,000,000 rows (once)
    .venv/bin/python benchmarks/api_aggregate.py [--queries 40] [--dsn DSN]

Each query aggregates the one synthetic collection over one calendar year (seeded
among 2015-2024, about 100,000 swaths each): total_count, datetime_frequency (month),
collection_frequency, platform_frequency, orbit_state_frequency and the centroid
geohash grid (precision 3). The server is gunicorn with 1 worker, warmed up first;
requests are sequential (api_search.Client). The bare SQL is the same filter and the
same groups written by hand (GROUPING SETS) through psycopg2; every request's counts
must equal the bare SQL's, bucket by bucket, or the run stops. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import urllib.parse
from collections import Counter
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_search import COLLECTION, Client, pct, start_server  # noqa: E402

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/swathstore_bench_agg"
NAMES = ("total_count,datetime_frequency,collection_frequency,platform_frequency,"
         "orbit_state_frequency,centroid_geohash_grid_frequency")
PRECISION = 3

BARE_SQL = f"""
SELECT g.month, g.slug, g.platform, g.state, g.cell, count(*),
       grouping(g.month, g.slug, g.platform, g.state, g.cell)
FROM (SELECT to_char(s.start_time AT TIME ZONE 'UTC', 'YYYY-MM') AS month, c.slug,
             NULLIF(s.platform, '') AS platform,
             NULLIF(lower(s.orbit_direction), '') AS state,
             ST_GeoHash(ST_Centroid(s.footprint), {PRECISION}) AS cell
      FROM catalog_swath s JOIN catalog_collection c ON c.id = s.collection_id
      WHERE s.state = 'VERIFIED' AND c.slug = %s
        AND s.start_time <= %s AND s.end_time >= %s
        AND s.start_time >= %s::timestamptz - interval '5 minutes') AS g
GROUP BY GROUPING SETS ((), (g.month), (g.slug), (g.platform), (g.state), (g.cell))
"""
# grouping() bit of each set: the four other columns are "grouped away" (1 bits).
SETS = {31: "total_count", 15: "datetime_frequency", 23: "collection_frequency",
        27: "platform_frequency", 29: "orbit_state_frequency",
        30: "centroid_geohash_grid_frequency"}


def years(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(2015, 2025) for _ in range(n)]


def window(year: int) -> tuple[str, str]:
    return f"{year}-01-01T00:00:00Z", f"{year}-12-31T23:59:59Z"


def http_aggregate(client: Client, year: int) -> tuple[float, dict[str, Counter | int]]:
    start, end = window(year)
    path = "/stac/aggregate?" + urllib.parse.urlencode({
        "collections": COLLECTION, "datetime": f"{start}/{end}", "aggregations": NAMES,
        "datetime_frequency_interval": "month",
        "centroid_geohash_grid_frequency_precision": PRECISION})
    elapsed, body = client.get(path)
    out: dict[str, Counter | int] = {}
    for agg in body["aggregations"]:
        out[agg["name"]] = agg["value"] if "value" in agg else Counter(
            {b["key"]: b["frequency"] for b in agg["buckets"]})
    return elapsed, out


def bare_aggregate(cur: psycopg2.extensions.cursor, year: int
                   ) -> tuple[float, dict[str, Counter | int]]:
    start, end = window(year)
    t = time.perf_counter()
    cur.execute(BARE_SQL, [COLLECTION, end, start, start])
    rows = cur.fetchall()
    elapsed = time.perf_counter() - t
    out: dict[str, Counter | int] = {n: Counter() for n in SETS.values()}
    for month, slug, platform, state, cell, n, bits in rows:
        name = SETS[bits]
        if name == "total_count":
            out[name] = n
            continue
        key = {15: month and f"{month}-01T00:00:00Z", 23: slug, 27: platform, 29: state,
               30: cell}[bits]
        if key is not None:
            out[name][key] = n  # type: ignore[index]
    return elapsed, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--port", type=int, default=8771)
    args = parser.parse_args()
    server = start_server(args.dsn, args.port)
    try:
        client = Client(args.port)
        conn = psycopg2.connect(args.dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM catalog_swath")
            total_rows = cur.fetchone()[0]
            for year in years(3, args.seed + 1):  # warm both
                http_aggregate(client, year)
                bare_aggregate(cur, year)
            http_t, bare_t, matched = [], [], []
            for year in years(args.queries, args.seed):
                # Interleaved, so both see the same machine.
                t_http, got = http_aggregate(client, year)
                t_bare, want = bare_aggregate(cur, year)
                if got != want:
                    diff = {k for k in want if got.get(k) != want[k]}
                    raise SystemExit(f"{year}: counts differ from the bare SQL's in {diff}")
                http_t.append(t_http)
                bare_t.append(t_bare)
                matched.append(got["total_count"])
        conn.close()
    finally:
        server.terminate()
        server.wait(30)
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"{total_rows:,} swaths; {args.queries} aggregates of one collection over one "
          f"year ({statistics.median(matched):,.0f} swaths median); counts equal the bare "
          f"SQL's in every request; load {' '.join(load)}; pid {os.getpid()}\n")
    print("| | median ms | p95 ms | max ms |")
    print("|---|---|---|---|")
    for name, ts in (("/stac/aggregate over HTTP (warm gunicorn, 1 worker)", http_t),
                     ("bare SQL (GROUPING SETS, psycopg2)", bare_t)):
        print(f"| {name} | {statistics.median(ts) * 1000:.1f} | {pct(ts, 95):.1f} "
              f"| {max(ts) * 1000:.1f} |")
    print(f"\nratio of medians: {statistics.median(http_t) / statistics.median(bare_t):.2f}")


if __name__ == "__main__":
    main()

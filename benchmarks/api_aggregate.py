"""Aggregation benchmark: /stac/aggregate over HTTP beside the bare SQL, in one run.

    .venv/bin/python benchmarks/api_load.py swaths --dsn DSN   # 1,000,000 rows (once)
    .venv/bin/python benchmarks/api_aggregate.py [--queries 40] [--dsn DSN]

Each query aggregates the one synthetic collection over one calendar year (seeded
among 2015-2024, about 100,000 swaths each): total_count, datetime_frequency (month),
collection_frequency, platform_frequency, orbit_state_frequency and the centroid
geohash grid (precision 3). The server is gunicorn with 1 worker, warmed up first;
requests are sequential (api_search.Client). The bare SQL is the same filter and the
same groups written by hand (GROUPING SETS) through psycopg2, query by query, taking
turns going first; every request's counts must equal the bare SQL's, bucket by bucket,
or the run stops. With the grid, the bare SQL also runs in the form before
Swath.centroid_geohash (ST_GeoHash(ST_Centroid(footprint)) over every match), which
must give the same counts: the "grid computed" columns. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
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

# The API's filter (its lower bound on start_time read from the catalog's longest swath,
# as api.search writes it, so both get the same plan) and the same groups, by hand.
BARE_SQL = """
SELECT grouping(g.month, g.slug, g.platform, g.state, g.cell), g.month, g.slug, g.platform,
       g.state, g.cell, count(*)
FROM (SELECT date_trunc('month', s.start_time AT TIME ZONE 'UTC') AS month, c.slug,
             NULLIF(s.platform, '') AS platform,
             NULLIF(lower(s.orbit_direction), '') AS state, {cell} AS cell
      FROM catalog_swath s JOIN catalog_collection c ON c.id = s.collection_id
      WHERE s.state = 'VERIFIED' AND c.slug = %s
        AND s.start_time <= %s AND s.end_time >= %s
        AND s.start_time >= %s::timestamptz - (SELECT coalesce(max(end_time - start_time),
                                               interval '0') FROM catalog_swath)) AS g
GROUP BY GROUPING SETS ((), (g.month), (g.slug), (g.platform), (g.state), (g.cell))
"""
CELL = f"substr(s.centroid_geohash, 1, {PRECISION})"
# The grid as it was computed before the stored column: the same cells, from footprints.
COMPUTED_CELL = f"ST_GeoHash(ST_Centroid(s.footprint), {PRECISION})"
# grouping() bits (month highest): 1 for each column the row is grouped without.
SETS = {31: "total_count", 15: "datetime_frequency", 23: "collection_frequency",
        27: "platform_frequency", 29: "orbit_state_frequency",
        30: "centroid_geohash_grid_frequency"}
HISTOGRAM = NAMES.rsplit(",", 1)[0]  # what the map's time histogram asks: no grid


def years(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(2015, 2025) for _ in range(n)]


def window(year: int) -> tuple[str, str]:
    return f"{year}-01-01T00:00:00Z", f"{year}-12-31T23:59:59Z"


def http_aggregate(client: Client, year: int, names: str
                   ) -> tuple[float, dict[str, Counter | int]]:
    start, end = window(year)
    path = "/stac/aggregate?" + urllib.parse.urlencode({
        "collections": COLLECTION, "datetime": f"{start}/{end}", "aggregations": names,
        "datetime_frequency_interval": "month",
        "centroid_geohash_grid_frequency_precision": PRECISION})
    elapsed, body = client.get(path)
    out: dict[str, Counter | int] = {}
    for agg in body["aggregations"]:
        out[agg["name"]] = agg["value"] if "value" in agg else Counter(
            {b["key"]: b["frequency"] for b in agg["buckets"]})
    return elapsed, out


def bare_aggregate(cur: psycopg2.extensions.cursor, year: int, grid: bool,
                   cell: str = CELL) -> tuple[float, dict[str, Counter | int]]:
    start, end = window(year)
    sql = BARE_SQL.format(cell=cell if grid else "NULL::text")  # no grid: one NULL cell
    t = time.perf_counter()
    cur.execute(sql, [COLLECTION, end, start, start])
    rows = cur.fetchall()
    elapsed = time.perf_counter() - t
    out: dict[str, Counter | int] = {n: Counter() for n in SETS.values()}
    if not grid:
        del out["centroid_geohash_grid_frequency"]
    for bits, month, slug, platform, state, cell, n in rows:
        name = SETS[bits]
        if name == "total_count":
            out[name] = n
            continue
        key = {15: month and f"{month:%Y-%m-%d}T00:00:00Z", 23: slug, 27: platform, 29: state,
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
    runs: dict[str, tuple[list, list, list]] = {HISTOGRAM: ([], [], []), NAMES: ([], [], [])}
    computed: list[float] = []  # the bare SQL with the grid computed from footprints
    try:
        client = Client(args.port)
        conn = psycopg2.connect(args.dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM catalog_swath")
            total_rows = cur.fetchone()[0]
            for year in years(3, args.seed + 1):  # warm both
                http_aggregate(client, year, NAMES)
                bare_aggregate(cur, year, True)
            for i, year in enumerate(years(args.queries, args.seed)):
                for names, (http_t, bare_t, matched) in runs.items():
                    # Interleaved, so both see the same machine, taking turns going
                    # first: the second finds the year's pages cached.
                    if i % 2:
                        t_bare, want = bare_aggregate(cur, year, names == NAMES)
                        t_http, got = http_aggregate(client, year, names)
                    else:
                        t_http, got = http_aggregate(client, year, names)
                        t_bare, want = bare_aggregate(cur, year, names == NAMES)
                    if got != want:
                        diff = {k for k in want if got.get(k) != want[k]}
                        raise SystemExit(f"{year}: counts differ from the bare SQL's in {diff}")
                    http_t.append(t_http)
                    bare_t.append(t_bare)
                    matched.append(got["total_count"])
                    if names == NAMES:
                        t_old, old = bare_aggregate(cur, year, True, COMPUTED_CELL)
                        if old != want:
                            diff = {k for k in want if old.get(k) != want[k]}
                            raise SystemExit(f"{year}: the grid computed from footprints "
                                             f"differs from the stored one in {diff}")
                        computed.append(t_old)
        conn.close()
    finally:
        server.terminate()
        server.wait(30)
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"{total_rows:,} swaths; {args.queries} years of one collection "
          f"({statistics.median(runs[NAMES][2]):,.0f} swaths median); counts equal the bare "
          f"SQL's in every request, and the grid computed from footprints gives the stored "
          f"grid's; load {' '.join(load)}\n")
    print("| aggregations | /stac/aggregate over HTTP median ms | p95 ms | bare SQL median ms "
          "| p95 ms | ratio of medians | bare SQL, grid computed: median ms | p95 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for names, (http_t, bare_t, _) in runs.items():
        label = "the five without the grid" if names == HISTOGRAM else "all six (grid: precision 3)"
        old = (f"{statistics.median(computed) * 1000:.1f} | {pct(computed, 95):.1f}"
               if names == NAMES else "- | -")
        print(f"| {label} | {statistics.median(http_t) * 1000:.1f} | {pct(http_t, 95):.1f} "
              f"| {statistics.median(bare_t) * 1000:.1f} | {pct(bare_t, 95):.1f} "
              f"| {statistics.median(http_t) / statistics.median(bare_t):.2f} | {old} |")

if __name__ == "__main__":
    main()

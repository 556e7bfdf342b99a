"""API search benchmark: /stac/search over HTTP vs the bare SQL vs pgSTAC, and deep paging.

    .venv/bin/python benchmarks/api_load.py swaths      # 1,000,000 rows (once)
    .venv/bin/python benchmarks/api_load.py pgstac      # the same rows in pgSTAC (once)
    .venv/bin/python benchmarks/api_search.py [--queries 300] [--dsn ...]
    .venv/bin/python benchmarks/api_search.py --breakdown [--queries 300] [--dsn ...]
    .venv/bin/python benchmarks/api_search.py --baseline DIR [--no-pgstac] [--dsn ...]

Each query is a 10x10 degree bbox and a 30-day window, limit 100, seeded. The
server (gunicorn, 1 worker) is warmed up first; requests are sequential, through
http.client (see Client). The bare SQL is the same filter and order run through
psycopg2 with the footprints as GeoJSON; pgSTAC's `search()` runs in SQL through
psycopg 3 from .venv-peers. Prints a Markdown table for docs/BENCHMARKS.md.

--baseline serves another checkout too (its own .venv) and times its search beside
this one's, query by query. --breakdown runs the same queries in this process,
through the WSGI application without a server, and splits each request's time into
the phases of the request path (each phase's own time, without the phases it
calls), beside the bare SQL.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import requests

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/swathstore_bench_api"
COLLECTION = "modis-aqua-synth"
START, END = datetime(2015, 1, 1, tzinfo=UTC), datetime(2024, 12, 1, tzinfo=UTC)

# The same filter as the API sends, with its lower bound on start_time (the longest
# swath here is 5 minutes) so the composite GiST index bounds both ends.
BARE_SQL = """
SELECT s.id, s.uuid, s.granule_id, s.filename, s.format, s.platform, s.instrument, s.orbit,
       s.orbit_direction, s.start_time, s.end_time, s.size, s.sha256, s.created_at,
       s.updated_at, s.version, c.slug, ST_AsGeoJSON(s.footprint, 6)
FROM catalog_swath s JOIN catalog_collection c ON c.id = s.collection_id
WHERE s.state = 'VERIFIED' AND ST_Intersects(s.footprint, ST_MakeEnvelope(%s, %s, %s, %s, 4326))
  AND s.start_time <= %s AND s.end_time >= %s AND s.start_time >= %s - interval '5 minutes'
ORDER BY s.start_time DESC, s.id DESC LIMIT 101
"""

PGSTAC_SCRIPT = """
import json, sys, time, psycopg
queries = json.loads(sys.stdin.read())
out = []
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute("SET search_path TO pgstac, public")
    for q in queries:
        t = time.perf_counter()
        row = conn.execute("SELECT search(%s::jsonb)", [json.dumps(q)]).fetchone()
        out.append([time.perf_counter() - t, len(row[0]["features"])])
print(json.dumps(out))
"""


def queries(n: int, seed: int, end: datetime = END) -> list[dict]:
    """Seeded 10x10 degree boxes and 30-day windows starting before `end`."""
    rng = random.Random(seed)
    end = end - timedelta(days=30)
    out = []
    for _ in range(n):
        west, south = rng.uniform(-180, 170), rng.uniform(-80, 70)
        t0 = START + timedelta(seconds=rng.uniform(0, (end - START).total_seconds()))
        out.append({"bbox": [round(west, 3), round(south, 3), round(west + 10, 3),
                             round(south + 10, 3)],
                    "t0": t0, "t1": t0 + timedelta(days=30)})
    return out


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def server_env(dsn: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": dsn.replace("postgresql://", "postgis://"),
            "VAR_DIR": str(REPO / "var" / "bench"), "API_THROTTLE_ANON": "10000000/minute",
            "STORES": "", "CELERY_BROKER_URL": "", "LOG_LEVEL": "WARNING"}


def start_server(dsn: str, port: int, repo: Path = REPO) -> subprocess.Popen:
    """gunicorn (1 worker) serving the checkout at `repo`."""
    env = {**server_env(dsn), "VAR_DIR": str(repo / "var" / "bench")}
    proc = subprocess.Popen(
        [str(repo / ".venv" / "bin" / "gunicorn"), "config.wsgi", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning"],
        cwd=repo, env=env)
    for _ in range(300):
        try:
            requests.get(f"http://127.0.0.1:{port}/stac/conformance", timeout=30)
            return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn did not start")


class Client:
    """GET over http.client, timed from sending the request to the last byte of the body.

    The stdlib client rather than requests: requests spends about 3 ms of its own
    reading a 180 KB page, which is the client's cost, not the server's. gunicorn's
    sync worker closes each connection, so each request opens one (loopback).
    """

    def __init__(self, port: int) -> None:
        self.port = port

    def get(self, path: str) -> tuple[float, dict]:
        t = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("GET", path)
        response = conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - t
        conn.close()
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {data[:200]!r}")
        return elapsed, json.loads(data)


def search_path(q: dict) -> str:
    params = {"bbox": ",".join(map(str, q["bbox"])), "limit": "100",
              "datetime": f"{iso(q['t0'])}/{iso(q['t1'])}"}
    return "/stac/search?" + urllib.parse.urlencode(params)


def http_search(client: Client, q: dict) -> tuple[float, list[str]]:
    elapsed, body = client.get(search_path(q))
    return elapsed, [f["id"] for f in body["features"]]


def bare_search(cur: psycopg2.extensions.cursor, q: dict) -> tuple[float, list[str]]:
    t = time.perf_counter()
    cur.execute(BARE_SQL, [*q["bbox"], q["t1"], q["t0"], q["t0"]])
    rows = cur.fetchall()
    return time.perf_counter() - t, [str(r[1]) for r in rows[:100]]


def pgstac_search(dsn: str, qs: list[dict]) -> list[float] | None:
    python = REPO / ".venv-peers" / "bin" / "python"
    if not python.exists():
        return None
    body = [{"collections": [COLLECTION], "bbox": q["bbox"], "limit": 100,
             "datetime": f"{iso(q['t0'])}/{iso(q['t1'])}"} for q in qs]
    out = subprocess.run([str(python), "-c", PGSTAC_SCRIPT, dsn], input=json.dumps(body),
                         capture_output=True, text=True, check=True)
    return [t for t, _ in json.loads(out.stdout)]


def deep_paging(client: Client, pages: int, repeats: int) -> tuple[list[float], list[float]]:
    """Time page 1 and page `pages` of a newest-first walk over everything."""
    first = "/stac/search?limit=100&datetime=2015-01-01T00:00:00Z/.."
    path = first
    for _ in range(pages - 1):
        _, body = client.get(path)
        href = next(link["href"] for link in body["links"] if link["rel"] == "next")
        path = urllib.parse.urlsplit(href)._replace(scheme="", netloc="").geturl()
    p1, pn = [], []
    for _ in range(repeats):
        for target, sink in ((first, p1), (path, pn)):
            sink.append(client.get(target)[0])
    return p1, pn


# The request path's phases: (module, attribute, phase). Each phase's time is its own,
# less the phases it calls; the handler and middleware are what is left of the total.
PHASES = [
    ("rest_framework.views", "APIView.dispatch", "DRF dispatch: authentication, throttles"),
    ("api.stac.views", "SearchView.get", "view"),
    ("api.stac.params", "SearchQuery.parse", "request parameters (pydantic)"),
    ("api.stac.params", "_Search.search", "request parameters (pydantic)"),
    ("api.search", "_page_query", "ORM: queryset built"),
    ("django.db.models.sql.compiler", "SQLCompiler.as_sql", "ORM: compiled to SQL"),
    ("django.db.backends.postgresql.base", "DatabaseWrapper.is_usable",
     "connection health check (SELECT 1)"),
    ("django.db.backends.utils", "CursorWrapper.execute", "SQL statement (round trip)"),
    ("api.search", "_run_rendered", "rows fetched into dicts, paging token"),
    ("api.stac.storeditems", "finish", "items finished (base URL, wrapping bboxes)"),
    ("api.stac.views", "page_body", "page body"),
    ("api.stac.items", "dumps", "JSON encoding"),
]


def breakdown(dsn: str, qs: list[dict], warm: list[dict]) -> None:
    """Time each phase of in-process /stac/search requests, beside the bare SQL."""
    os.environ.update({**server_env(dsn), "DJANGO_SETTINGS_MODULE": "config.settings"})
    sys.path.insert(0, str(REPO))
    import importlib

    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    own: dict[str, float] = dict.fromkeys([p for *_, p in PHASES], 0.0)
    stack: list[float] = []  # time spent in the phases called by each open phase

    def timed(phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            stack.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t
                own[phase] += elapsed - stack.pop()
                if stack:
                    stack[-1] += elapsed
        return wrapper

    for module, attr, phase in PHASES:
        owner = importlib.import_module(module)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, name, timed(phase, getattr(owner, name)))

    def call(path: str) -> None:
        route, _, query = path.partition("?")
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": route, "QUERY_STRING": query,
                   "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "REMOTE_ADDR": "127.0.0.1",
                   "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr}
        status: list[str] = []
        b"".join(app(environ, lambda s, h, *a: status.append(s)))
        if not status[0].startswith("200"):
            raise SystemExit(f"GET {path}: {status[0]}")

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    for q in warm:
        call(search_path(q))
        bare_search(cur, q)
    totals, sql_t, phases = [], [], []
    for i, q in enumerate(qs):
        if i % 2:
            sql_t.append(bare_search(cur, q)[0])
        before = dict(own)
        t = time.perf_counter()
        call(search_path(q))
        totals.append(time.perf_counter() - t)
        phases.append({k: own[k] - before[k] for k in own})
        if not i % 2:
            sql_t.append(bare_search(cur, q)[0])
    mean_total = statistics.mean(totals) * 1000
    print(f"\n{len(qs)} in-process /stac/search requests (no HTTP server), phases' own time\n")
    print("| phase | median ms | mean ms |")
    print("| --- | ---: | ---: |")
    rest = mean_total
    for phase in own:
        values = [p[phase] for p in phases]
        rest -= statistics.mean(values) * 1000
        print(f"| {phase} | {statistics.median(values) * 1000:.3f} | "
              f"{statistics.mean(values) * 1000:.3f} |")
    print(f"| Django handler and middleware (the rest) | - | {rest:.3f} |")
    print(f"| whole request | {pct(totals, 50):.3f} | {mean_total:.3f} |")
    print(f"| bare SQL, same rows (psycopg2) | {pct(sql_t, 50):.3f} | "
          f"{statistics.mean(sql_t) * 1000:.3f} |")
    print(f"\nrequest p50 / bare SQL p50 = {pct(totals, 50) / pct(sql_t, 50):.2f}")
    load = os.getloadavg()
    print(f"load average: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} ({os.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--no-pgstac", action="store_true", help="skip the pgSTAC side")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout, served on --port + 1 and timed beside this one")
    parser.add_argument("--breakdown", action="store_true",
                        help="where an in-process request's time goes (no server, no pgSTAC)")
    args = parser.parse_args()
    if args.breakdown:
        breakdown(args.dsn, queries(args.queries, args.seed), queries(args.warmup, args.seed + 1))
        return

    end = END
    if not args.no_pgstac:
        # Should pgSTAC hold only the oldest part of the archive (a load cut short),
        # the windows stay inside what it holds, so both sides return the same rows.
        with psycopg2.connect(args.dsn) as c, c.cursor() as cur:
            cur.execute("SELECT max(datetime) FROM pgstac.items")
            (loaded,) = cur.fetchone()
        end = min(END, loaded)
        print(f"pgSTAC holds items up to {loaded:%Y-%m-%d}; windows end before it")
    qs = queries(args.queries, args.seed, end)
    warm = queries(args.warmup, args.seed + 1, end)
    baseline = start_server(args.dsn, args.port + 1, args.baseline) if args.baseline else None
    proc = start_server(args.dsn, args.port)
    try:
        client = Client(args.port)
        conn = psycopg2.connect(args.dsn)
        conn.autocommit = True
        cur = conn.cursor()
        for q in warm:
            http_search(client, q)
            bare_search(cur, q)
        contenders: dict[str, Callable[[dict], tuple[float, list[str]]]] = {
            "http": lambda q: http_search(client, q), "sql": lambda q: bare_search(cur, q)}
        if baseline:
            base_client = Client(args.port + 1)
            for q in warm:
                http_search(base_client, q)
            contenders["baseline"] = lambda q: http_search(base_client, q)
        names = list(contenders)
        times: dict[str, list[float]] = {name: [] for name in names}
        # Side by side, query by query, so load changes hit all alike. Whichever runs
        # after another finds the rows' pages already in shared_buffers (the 1 GB table
        # does not fit in 128 MB), which makes it 2-4x faster: who goes first rotates.
        second: dict[str, list[float]] = {name: [] for name in names}
        mismatched, sizes = 0, []
        for i, q in enumerate(qs):
            ids = {}
            for pos, name in enumerate(names[i % len(names):] + names[:i % len(names)]):
                elapsed, ids[name] = contenders[name](q)
                times[name].append(elapsed)
                if pos:
                    second[name].append(elapsed)
            sizes.append(len(ids["http"]))
            mismatched += sum(ids[name] != ids["sql"] for name in names)
        http_t, sql_t = times["http"], times["sql"]
        pg_t = None
        if not args.no_pgstac:
            pgstac_search(args.dsn, warm)
            pg_t = pgstac_search(args.dsn, qs)
        p1, pn = deep_paging(client, args.pages, 20)
    finally:
        for server in (proc, baseline):
            if server:
                server.terminate()
                server.wait(10)
    cur.execute("SELECT count(*) FROM catalog_swath")
    (rows,) = cur.fetchone()
    print(f"\n{rows:,} swaths; {len(qs)} queries (10x10 deg, 30 days, limit 100); "
          f"mean {statistics.mean(sizes):.1f} items returned; "
          f"{mismatched} answers (HTTP or baseline) whose ids differed from the bare SQL's\n")
    print("| what | p50 ms | p90 ms | p99 ms |")
    print("| --- | ---: | ---: | ---: |")
    for name, ts in (("/stac/search over HTTP (warm gunicorn, 1 worker)", http_t),
                     ("bare SQL, same rows (psycopg2)", sql_t),
                     ("/stac/search, only when not run first (rows' pages cached)",
                      second["http"]),
                     ("bare SQL, only when not run first (rows' pages cached)", second["sql"]),
                     (f"baseline {args.baseline} /stac/search over HTTP", times.get("baseline")),
                     ("pgSTAC search() in SQL (same rows as Items)", pg_t)):
        if ts:
            print(f"| {name} | {pct(ts, 50):.1f} | {pct(ts, 90):.1f} | {pct(ts, 99):.1f} |")
    print(f"| deep paging: page 1 (HTTP, all 10 years, limit 100) | {pct(p1, 50):.1f} | "
          f"{pct(p1, 90):.1f} | {pct(p1, 99):.1f} |")
    print(f"| deep paging: page {args.pages} | {pct(pn, 50):.1f} | {pct(pn, 90):.1f} | "
          f"{pct(pn, 99):.1f} |")
    print(f"\nHTTP p50 / bare SQL p50 = {pct(http_t, 50) / pct(sql_t, 50):.2f} "
          f"(neither run first: {pct(second['http'], 50) / pct(second['sql'], 50):.2f}); "
          f"page {args.pages} p50 / page 1 p50 = {pct(pn, 50) / pct(p1, 50):.2f}")
    if baseline:
        ratios = [h / b for h, b in zip(http_t, times["baseline"], strict=True)]
        print(f"baseline HTTP p50 / bare SQL p50 = "
              f"{pct(times['baseline'], 50) / pct(sql_t, 50):.2f}; this checkout's time over "
              f"the baseline's, median of the queries' ratios = {statistics.median(ratios):.3f}")
    if pg_t:
        print(f"HTTP p50 / pgSTAC p50 = {pct(http_t, 50) / pct(pg_t, 50):.2f}")
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
          f"({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()

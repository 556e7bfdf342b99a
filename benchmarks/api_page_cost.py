"""Server-side cost of one search page, in-process: REST /api/v1/swaths/ and STAC /stac/search.

    .venv/bin/python benchmarks/api_page_cost.py [--queries 150] [--dsn ...]

Runs the API search benchmark's seeded queries (10x10 degree box, 30 days, limit 100)
through Django's test client against the database `benchmarks/api_load.py swaths`
filled (1,000,000 swaths), so no HTTP, gunicorn or client time is included: what is
left is the view, the query layer, PostgreSQL and the rendering. Prints the median
and p90 per endpoint after a warm-up of 30 requests each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
DEFAULT_DSN = "postgis://postgres@127.0.0.1:5432/swathstore_bench_api"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--queries", type=int, default=150)
    args = parser.parse_args()
    os.environ.update(DATABASE_URL=args.dsn, VAR_DIR=str(REPO / "var" / "bench"),
                      API_THROTTLE_ANON="10000000/minute", STORES="", CELERY_BROKER_URL="",
                      LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="config.settings")
    import django

    django.setup()
    import api_search
    from django.test import Client

    client = Client()
    queries = api_search.queries(args.queries + 30, 20240601)
    for path in ("/api/v1/swaths/", "/stac/search"):
        times = []
        for i, q in enumerate(queries):
            params = {"bbox": ",".join(map(str, q["bbox"])), "limit": "100",
                      "datetime": f"{api_search.iso(q['t0'])}/{api_search.iso(q['t1'])}"}
            started = time.perf_counter()
            response = client.get(path + "?" + urllib.parse.urlencode(params))
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {response.content[:200]!r}")
            if i >= 30:
                times.append(elapsed)
        times.sort()
        print(f"{path}: p50 {statistics.median(times) * 1000:.1f} ms, "
              f"p90 {times[int(0.9 * (len(times) - 1))] * 1000:.1f} ms "
              f"over {len(times)} pages; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

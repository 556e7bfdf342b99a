"""CQL2 text filters on the API benchmark database: this checkout against another.

    .venv/bin/python benchmarks/api_load.py swaths --count 1000000     # once
    .venv/bin/python benchmarks/cql2_filters.py [--dsn ...] [--baseline /work/main] [--repeat 7]

Starts gunicorn (1 worker) for this checkout, and for the checkout at --baseline if
given, on the database of --dsn, and times GET /stac/search with each filter below,
the contenders interleaved request by request. Issue 25: a LIKE pattern of 15 `%`
that matches no collection, before and after LIKE became SQL and conditions on
`collection` were answered by the collections table. Prints the median and minimum
of --repeat requests per filter and contender, with the answer's status.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import urlopen

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/swathstore_bench_api"
FILTERS = {
    "none": None,
    "collection LIKE 15 % then x (no match)": "collection LIKE '" + "%" * 15 + "x'",
    "collection LIKE 'modis%' (all match)": "collection LIKE 'modis%'",
    "collection = 'nope' (no match)": "collection = 'nope'",
    "platform = 'zz' (no index, no match)": "platform = 'zz'",
    "platform LIKE '%zz%' (no index)": "platform LIKE '%zz%'",
}


def start(checkout: Path, dsn: str, port: int, var: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": dsn.replace("postgresql://", "postgis://"),
           "VAR_DIR": str(var), "CELERY_BROKER_URL": "", "STORE_URL": "", "DEBUG": "0",
           "API_THROTTLE_ANON": "100000000/minute"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--threads", "2", "--timeout", "120"],
        cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urlopen(f"http://127.0.0.1:{port}/stac/search?limit=1", timeout=30).read()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"gunicorn of {checkout} did not answer on port {port}")


def timed(url: str) -> tuple[float, int]:
    started = time.monotonic()
    try:
        with urlopen(url, timeout=120) as r:
            r.read()
            status = r.status
    except HTTPError as e:
        e.read()
        status = e.code
    return time.monotonic() - started, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    contenders = {"this checkout": REPO}
    if args.baseline:
        contenders = {"baseline": args.baseline, **contenders}
    procs, urls = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for i, (name, checkout) in enumerate(contenders.items()):
                port = 18500 + os.getpid() % 400 + i
                procs.append(start(checkout, args.dsn, port, Path(tmp) / name.replace(" ", "-")))
                urls[name] = f"http://127.0.0.1:{port}/stac/search"
            results = {}
            for label, cql2 in FILTERS.items():
                query = "?" + urlencode({"filter": cql2} if cql2 else {})
                times: dict[str, list[float]] = {name: [] for name in urls}
                statuses: dict[str, set[int]] = {name: set() for name in urls}
                for _ in range(args.repeat):
                    for name, url in urls.items():
                        seconds, status = timed(url + query)
                        times[name].append(seconds)
                        statuses[name].add(status)
                for name in urls:
                    med, low = statistics.median(times[name]), min(times[name])
                    results[f"{label} | {name}"] = {"median_ms": med * 1000,
                                                    "min_ms": low * 1000,
                                                    "status": sorted(statuses[name])}
                    print(f"{label:42s} {name:14s} median {med * 1000:8.1f} ms  "
                          f"min {low * 1000:8.1f} ms  status {sorted(statuses[name])}",
                          flush=True)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(30)
    out = REPO / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "cql2_filters.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

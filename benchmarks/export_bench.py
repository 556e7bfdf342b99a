"""Search exports (api.exports) on the 1,000,000-swath database: time and server memory.

    .venv/bin/python benchmarks/api_load.py swaths --dsn postgresql://postgres@127.0.0.1:5432/swathstore_bench_export
    .venv/bin/python benchmarks/export_bench.py [--dsn ...] [--sizes 10000,100000,1000000]

For each size N, a datetime window holding exactly the N oldest swaths is exported
through /stac/search/export by a fresh gunicorn (1 gthread worker, so a long response
is not a silent worker), read to the last byte over HTTP and counted (rows in the
Parquet footer, lines of the URL list). The figures: the wall time of the request; the
worker's peak RSS (VmHWM, a fresh process per run, so each peak is that export's own);
the worker's CPU seconds during the request (user + system: what the export would take
on an idle core, apart from PostgreSQL's share). Beside each, the bare reference: a
COPY ... TO STDOUT of the same rows in the same order (the stored items' JSON for
parquet; uuid, filename, size and sha256 for the manifests), read by psycopg2 into a
discarding sink: what the database costs before any rendering or HTTP. Writes
benchmarks/out/export_bench.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import psycopg2

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/swathstore_bench_export"
PORT = 8790


class Discard(io.RawIOBase):
    """A sink that only counts (what COPY TO writes)."""

    def __init__(self) -> None:
        self.n = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.n += len(data)
        return len(data)


def start_server(dsn: str, work: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": dsn.replace("postgresql://", "postgis://"),
           "DEBUG": "0", "VAR_DIR": str(work), "API_THROTTLE_ANON": "10000000/minute",
           "STORES": "", "CELERY_BROKER_URL": "", "LOG_LEVEL": "WARNING",
           "API_SQL_ITEMS": "1"}
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "gunicorn"), "config.wsgi", "--bind",
         f"127.0.0.1:{PORT}", "--workers", "1", "--threads", "2", "--timeout", "600",
         "--log-level", "warning"], cwd=REPO, env=env)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/stac/conformance", timeout=30)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (what it would take on an idle core)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def window_end(dsn: str, n: int) -> datetime:
    """The start time of the n-th oldest swath: datetime=../it holds the n oldest."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT start_time FROM catalog_swath WHERE state = 'VERIFIED'"
                    " ORDER BY start_time, id OFFSET %s LIMIT 1", [n - 1])
        return cur.fetchone()[0]


def count_rows(fmt: str, data_path: Path) -> int:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(data_path).metadata.num_rows
    with open(data_path, "rb") as f:
        return sum(1 for _ in f)


def export_once(dsn: str, fmt: str, end: datetime, work: Path
                ) -> tuple[float, float, int, float]:
    """(seconds, worker peak RSS in MB, rows, worker CPU seconds) of one export by a
    fresh server."""
    proc = start_server(dsn, work)
    try:
        pid = worker_pid(proc.pid)
        url = (f"http://127.0.0.1:{PORT}/stac/search/export?format={fmt}"
               f"&datetime=../{end.isoformat().replace('+00:00', 'Z')}")
        out = work / f"export.{fmt}"
        cpu0 = cpu_seconds(pid)
        t0 = time.perf_counter()
        with urllib.request.urlopen(url, timeout=600) as response, open(out, "wb") as f:
            while chunk := response.read(1 << 20):
                f.write(chunk)
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds(pid) - cpu0
        peak = peak_rss_mb(pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    rows = count_rows(fmt, out)
    out.unlink()
    return seconds, peak, rows, cpu


COPY_SQL = {
    "parquet": ("SELECT i.text FROM catalog_swath s JOIN api_stacitem i ON i.swath_id = s.id"
                " WHERE s.state = 'VERIFIED' AND s.start_time <= %s"
                " ORDER BY s.start_time DESC, s.id DESC"),
    "urls": ("SELECT s.uuid, s.filename, s.size, s.sha256 FROM catalog_swath s"
             " WHERE s.state = 'VERIFIED' AND s.start_time <= %s"
             " ORDER BY s.start_time DESC, s.id DESC"),
}


def copy_once(dsn: str, fmt: str, end: datetime) -> float:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        sql = cur.mogrify(COPY_SQL[fmt], [end]).decode()
        t0 = time.perf_counter()
        cur.copy_expert(f"COPY ({sql}) TO STDOUT", Discard())
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--formats", default="parquet,urls")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--repeats-large", type=int, default=2, help="repeats at 1,000,000")
    args = parser.parse_args()
    work = REPO / "var" / "bench-export"
    work.mkdir(parents=True, exist_ok=True)
    print(f"load before: {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        end = window_end(args.dsn, n)
        for fmt in args.formats.split(","):
            runs = [export_once(args.dsn, fmt, end, work)
                    for _ in range(args.repeats if n < 1_000_000 else args.repeats_large)]
            assert all(r[2] == n for r in runs), f"{fmt} at {n}: rows {[r[2] for r in runs]}"
            copies = [copy_once(args.dsn, fmt, end) for _ in range(2)]
            t = statistics.median(r[0] for r in runs)
            rss = statistics.median(r[1] for r in runs)
            cpu = statistics.median(r[3] for r in runs)
            c = statistics.median(copies)
            load = Path("/proc/loadavg").read_text().split()[0]
            print(f"{fmt:8s} {n:>9,} items: export {t:7.2f} s (runs "
                  f"{', '.join(f'{r[0]:.2f}' for r in runs)}), worker peak RSS "
                  f"{rss:6.1f} MB (runs {', '.join(f'{r[1]:.1f}' for r in runs)}), worker CPU "
                  f"{cpu:6.2f} s; COPY {c:6.2f} s; ratio {t / c:5.1f}x; load {load}",
                  flush=True)
            results.append({"format": fmt, "items": n, "seconds": [r[0] for r in runs],
                            "peak_rss_mb": [r[1] for r in runs],
                            "cpu_seconds": [r[3] for r in runs], "copy_seconds": copies,
                            "load": float(load)})
    out = REPO / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "export_bench.json").write_text(json.dumps(results, indent=1))
    sys.exit(0)


if __name__ == "__main__":
    main()

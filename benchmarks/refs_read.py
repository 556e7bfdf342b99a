"""Issue 22: one variable read through the published chunk references, over HTTP on
loopback, against h5py reading it from a local copy of the file (target <= 1.5x).

    .venv/bin/python benchmarks/refs_read.py [--repeat 7] [--presigned]
        [--file PATH --variable GROUP/NAME]...

Self-contained: it migrates its own database (swathstore_bench_refs, never the
suite's), ingests each file into a directory store (ingest records the references),
starts gunicorn (2 workers x 4 threads, as `make run`) and then, in one process,
alternates the contenders on each repeat, rotating who goes first:

- `refs`: what a scientist's first read costs: fetch /api/v1/swaths/{uuid}/references.json,
  open the variable's group with xarray (zarr over fsspec's reference://, aiohttp),
  read the variable: one Range request per chunk on the download URL;
- `refs-open`: the same read once the references are fetched and the group open (the
  second and later variables of a session);
- `h5py`: h5py.File(local copy) and the variable read whole.

With --presigned the objects are in a SeaweedFS bucket and downloads are presigned, so
the references point at presigned URLs and chunk reads go to the object store, not
through the API. Values are read raw on every side (no mask, no scale) and checked equal once. By
default: the main variable of the largest shared granule (VIIRS SST, 2.8 MB), and that
of a 50 MB synthetic swath (`manage.py synth`, zlib chunks). Prints medians and
ratios; writes benchmarks/out/refs_read.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DB = "swathstore_bench_refs"
DSN = f"postgis://postgres@127.0.0.1:5432/{DB}"
SHARED = REPO.parent / "shared" / "data" / "swaths"
VIIRS = ("SS_VIIRS_NPP-NAVO-L2P-v3.0.nc", "/sea_surface_temperature")

INGEST = """
import json, sys, django
django.setup()
from catalog.models import Swath
from catalog.services import get_or_create_collection
from ingest.pipeline import ingest_file
coll, _ = get_or_create_collection("bench-refs")
out = {}
for path in sys.argv[1:]:
    outcome = ingest_file(path, coll.pk)
    swath = Swath.objects.get(pk=outcome.swath_id)
    if "chunk_index" not in swath.attrs:
        raise SystemExit(f"{path}: no references: {swath.attrs.get('chunk_index_error')}")
    out[path] = str(swath.uuid)
print(json.dumps(out))
"""


def store_env(var: Path, s3: dict[str, str] | None) -> dict[str, str]:
    """The store settings: a directory under ``var``, or an S3 bucket with presigned
    downloads (``s3``: endpoint, keys, bucket)."""
    if s3 is None:
        return {"STORES": "", "STORE_URL": (var / "objects").as_uri()}
    return {"STORES": "", "STORE_URL": f"s3://{s3['bucket']}/refs-read",
            "S3_ENDPOINT_URL": s3["endpoint_url"], "S3_REGION": s3["region"],
            "AWS_ACCESS_KEY_ID": s3["access_key"], "AWS_SECRET_ACCESS_KEY": s3["secret_key"],
            "PRESIGN_DOWNLOADS": "1"}


def setup(var: Path, files: list[Path], s3: dict[str, str] | None) -> dict[str, str]:
    """Migrate the bench database and ingest ``files``; return {path: swath uuid}."""
    import psycopg2

    conn = psycopg2.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DB}")
    conn.close()
    env = {**os.environ, "DATABASE_URL": DSN, "VAR_DIR": str(var), **store_env(var, s3),
           "CELERY_BROKER_URL": "", "DJANGO_SETTINGS_MODULE": "config.settings",
           "INGEST_QUICKLOOKS": "0"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env,
                   check=True)
    done = subprocess.run([sys.executable, "-c", INGEST, *map(str, files)], cwd=REPO,
                          env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def start_server(port: int, var: Path, s3: dict[str, str] | None) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": DSN, "VAR_DIR": str(var), **store_env(var, s3),
           "CELERY_BROKER_URL": "",
           "API_THROTTLE_ANON": "100000000/minute", "API_THROTTLE_USER": "100000000/minute",
           "API_THROTTLE_ANON_RANGES": "100000000/minute",
           "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "gunicorn"), "config.wsgi", "--bind",
         f"127.0.0.1:{port}", "--workers", "2", "--threads", "4", "--worker-class",
         "gthread", "--log-level", "warning", "--timeout", "60"], cwd=REPO, env=env)
    for _ in range(600):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def open_group(url: str, group: str) -> Any:
    """xarray's Dataset of one group, through the references at ``url``."""
    import fsspec
    import xarray as xr
    import zarr

    fs = fsspec.filesystem("reference", fo=url, remote_options={"asynchronous": True},
                           asynchronous=True, skip_instance_cache=True)
    store = zarr.storage.FsspecStore(fs, read_only=True, path="")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_dataset(store, engine="zarr", group=group or None, decode_cf=False,
                               consolidated=True)


def read_refs(url: str, variable: str) -> Any:
    group, _, name = variable.strip("/").rpartition("/")
    return open_group(url, group)[name].values


def read_h5py(path: Path, variable: str) -> Any:
    import h5py

    with h5py.File(path, "r") as f:
        return f[variable][()]


def synthetic(folder: Path) -> tuple[Path, str]:
    """One 50 MB synthetic swath and its main variable."""
    subprocess.run([sys.executable, "manage.py", "synth", str(folder), "--count", "1",
                    "--size", "50MB"], cwd=REPO, check=True, capture_output=True,
                   env={**os.environ, "DATABASE_URL": DSN})
    path = next(folder.glob("*.nc"))
    import h5py

    with h5py.File(path, "r") as f:
        sizes: list[tuple[int, str]] = []
        f.visititems(lambda n, o: sizes.append((o.size, "/" + n))
                     if hasattr(o, "chunks") and o.ndim >= 2 else None)
    return path, max(sizes)[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--file", type=Path, action="append", default=[])
    ap.add_argument("--variable", action="append", default=[])
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--presigned", action="store_true",
                    help="objects in a SeaweedFS bucket with PRESIGN_DOWNLOADS=1: the "
                         "references point at presigned URLs, chunks bypass the API")
    args = ap.parse_args()
    import numpy as np
    import requests

    with tempfile.TemporaryDirectory(prefix="refs-read-") as tmp:
        var = Path(tmp)
        cases = list(zip(args.file, args.variable, strict=True))
        if not cases:
            cases = [(SHARED / VIIRS[0], VIIRS[1]), synthetic(var / "synth")]
        weed = s3 = None
        if args.presigned:
            sys.path.insert(0, str(REPO))
            from tests.support.s3servers import start_seaweedfs

            (var / "weed").mkdir()
            weed = start_seaweedfs(var / "weed")
            s3 = {**weed.store_options(), "bucket": weed.bucket}
        uuids = setup(var, [c[0] for c in cases], s3)
        server = start_server(args.port, var, s3)
        results = []
        try:
            for path, variable in cases:
                url = (f"http://127.0.0.1:{args.port}/api/v1/swaths/{uuids[str(path)]}"
                       f"/references.json")
                group, _, name = variable.strip("/").rpartition("/")
                expected = read_h5py(path, variable)
                u = requests.get(url, timeout=30).json()["templates"]["u"]
                print(f"{path.name}: chunks read from {u.split('?')[0]}")
                assert np.array_equal(read_refs(url, variable), expected, equal_nan=True)
                names = ["refs", "refs-open", "h5py"]
                times: dict[str, list[float]] = {k: [] for k in names}
                for i in range(args.repeat):
                    for key in names[i % 3:] + names[:i % 3]:
                        if key == "refs-open":  # opened untimed, afresh: no cached values
                            opened = open_group(url, group)
                        t = time.perf_counter()
                        if key == "refs":
                            read_refs(url, variable)
                        elif key == "refs-open":
                            _ = opened[name].values
                        else:
                            read_h5py(path, variable)
                        times[key].append(time.perf_counter() - t)
                med = {k: statistics.median(v) for k, v in times.items()}
                row = {"file": path.name, "variable": variable, "bytes": int(expected.nbytes),
                       "median_s": med, "runs_s": times,
                       "ratio_refs": med["refs"] / med["h5py"],
                       "ratio_refs_open": med["refs-open"] / med["h5py"]}
                results.append(row)
                print(f"{path.name} {variable} ({expected.nbytes / 1e6:.1f} MB in memory): "
                      + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in med.items())
                      + f"; refs/h5py {row['ratio_refs']:.2f}, refs-open/h5py "
                      f"{row['ratio_refs_open']:.2f}")
        finally:
            server.terminate()
            server.wait(15)
            if weed is not None:
                weed.stop()
    out = REPO / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    load = os.getloadavg()
    name = "refs_read_presigned.json" if args.presigned else "refs_read.json"
    (out / name).write_text(json.dumps(
        {"repeat": args.repeat, "presigned": args.presigned, "load": load,
         "results": results}, indent=1))
    print(f"load average at the end: {load[0]:.1f}")


if __name__ == "__main__":
    main()

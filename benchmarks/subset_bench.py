"""Subset speed: our kernel by range requests vs downloading the object and running l2ss-py.

    .venv/bin/python benchmarks/subset_bench.py [--size 2GB] [--region-fraction 0.02]

1. Writes (once, kept under var/bench-subset/) a synthetic chunked NetCDF4 swath with
   ingest.synth: MODIS-like, 10 Rrs bands (the layout of an OBPG L2 OC granule).
2. Starts `rclone serve s3` on loopback (ETag hashing off: rclone otherwise re-reads the
   whole object to hash it on every request) and puts the file there as one object.
3. Picks a bbox around the swath's centre holding about --region-fraction of its pixels.
4. Side by side, each run --repeat times (medians): ours from the store (RangedFile
   with chunk prefetch, bytes and requests counted); "download the whole object, then
   l2ss-py --cut"; ours and l2ss-py on the local file. l2ss-py runs from .venv-l2ss as a subprocess.
   Before them, the estimate (subset.estimate) of the cut from the store, against what
   the cut then reads and writes.
Prints a table and writes benchmarks/out/subset.json.
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

import netCDF4
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archive.s3 import S3Store  # noqa: E402
from ingest.synth import parse_size, write_swath  # noqa: E402
from subset.estimate import estimate_cut  # noqa: E402
from subset.kernel import RANGED_BLOCK, RANGED_CACHE_BLOCKS, subset  # noqa: E402
from subset.region import bbox_region  # noqa: E402
from tests.support.s3servers import start_rclone  # noqa: E402

L2SS = REPO / ".venv-l2ss" / "bin" / "l2ss-py"
WORK = REPO / "var" / "bench-subset"


def synthetic(size: str) -> Path:
    """Return the benchmark swath, writing it on first use."""
    path = WORK / f"swath-{size}.nc"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        write_swath(path, seed=7, start="2024-05-01T12:00:00", target_bytes=parse_size(size),
                    extra_bands=10)
        print(f"wrote {path} in {time.monotonic() - t0:.0f} s", flush=True)
    return path


def centre_bbox(path: Path, fraction: float) -> tuple[float, ...]:
    """Return a lon/lat bbox around the swath centre holding about ``fraction`` of it."""
    with netCDF4.Dataset(path) as ds:
        lat_v, lon_v = ds["navigation_data/latitude"], ds["navigation_data/longitude"]
        n, m = lat_v.shape
        side = (fraction ** 0.5) * 1.25  # the lon/lat box below is inside the pixel window
        r0, r1 = int(n * (0.5 - side / 2)), int(n * (0.5 + side / 2))
        c0, c1 = int(m * (0.5 - side / 2)), int(m * (0.5 + side / 2))
        lat = np.asarray(lat_v[r0:r1, c0:c1])
        lon = np.asarray(lon_v[r0:r1, c0:c1])
    # The inner box of the pixel window: a lon/lat box inside the swath's rows/cols.
    south, north = np.percentile(lat, [10, 90])
    west, east = np.percentile(lon, [10, 90])
    return (float(west), float(south), float(east), float(north))


def run_l2ss(src: Path, out: Path, bbox: tuple[float, ...]) -> float:
    """Run l2ss-py --cut and return its wall time."""
    t0 = time.monotonic()
    subprocess.run([str(L2SS), str(src), str(out), "--bbox", *(f"{v}" for v in bbox), "--cut"],
                   check=True, capture_output=True)
    return time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2GB")
    parser.add_argument("--region-fraction", type=float, default=0.02)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = synthetic(args.size)
    size = path.stat().st_size
    bbox = centre_bbox(path, args.region_fraction)
    region = bbox_region(*bbox)
    results: dict[str, object] = {"object_bytes": size, "bbox": bbox}
    with tempfile.TemporaryDirectory(dir=WORK) as tmp_s:
        tmp = Path(tmp_s)
        # rclone's default ETag is the MD5 of the whole object, recomputed on every GET
        # and HEAD (about 24 s per ranged GET of a 2 GB object here): switch it off.
        server = start_rclone(tmp / "s3", etag_hash=False)
        try:
            store = S3Store(server.bucket, "bench", endpoint_url=server.endpoint_url,
                            access_key=server.access_key, secret_key=server.secret_key,
                            region=server.region, part_size=64 * 2**20, concurrency=4)
            t0 = time.monotonic()
            put = store.put("swaths/bench/swath.nc", path, size=size)
            results["upload_seconds"] = time.monotonic() - t0
            # The estimate first (POST subsets/estimate's rule), on a RangedFile of its own.
            t0 = time.monotonic()
            with store.open_ranged(put.key, block_size=RANGED_BLOCK,
                                   cache_blocks=RANGED_CACHE_BLOCKS) as f:
                estimate = estimate_cut(f, region)
                results["estimate"] = {"bytes_read": estimate.bytes_read,
                                       "bytes_written": estimate.bytes_written,
                                       "own_bytes_read": f.bytes_read,
                                       "seconds": time.monotonic() - t0}
            ours_s3, reads, selected = [], [], 0
            requests: list[tuple[int, int]] = []  # (all, made by prefetch threads) per run
            for i in range(args.repeat):
                out = tmp / f"ours-s3-{i}.nc"
                t0 = time.monotonic()
                with store.open_ranged(put.key, block_size=RANGED_BLOCK,
                                       cache_blocks=RANGED_CACHE_BLOCKS) as f:
                    res = subset(f, region, out)
                    requests.append((f.requests, f.prefetch_requests))
                ours_s3.append(time.monotonic() - t0)
                reads.append(res.bytes_read or 0)
                written = res.size
                selected = res.n_selected
                windows = res.windows
                out.unlink()
            base = []
            for i in range(args.repeat):
                local = tmp / f"download-{i}.nc"
                t0 = time.monotonic()
                store.get(put.key, local)
                run_l2ss(local, tmp / f"l2ss-{i}.nc", bbox)
                base.append(time.monotonic() - t0)
                local.unlink()
                (tmp / f"l2ss-{i}.nc").unlink()
        finally:
            server.stop()
        ours_local, l2ss_local = [], []
        for i in range(args.repeat):
            t0 = time.monotonic()
            subset(path, region, tmp / f"ours-local-{i}.nc")
            ours_local.append(time.monotonic() - t0)
            l2ss_local.append(run_l2ss(path, tmp / f"l2ss-local-{i}.nc", bbox))
    with netCDF4.Dataset(path) as ds:
        total = ds.dimensions["number_of_lines"].size * ds.dimensions["pixels_per_line"].size
    med = statistics.median
    results.update({
        "selected_pixels": selected, "pixel_fraction": selected / total, "windows": windows,
        "bytes_read": med(reads), "bytes_read_fraction": med(reads) / size,
        "bytes_written": written,
        "requests": requests,
        "ours_s3_s": med(ours_s3), "download_plus_l2ss_s": med(base),
        "s3_ratio": med(ours_s3) / med(base),
        "ours_local_s": med(ours_local), "l2ss_local_s": med(l2ss_local),
        "local_ratio": med(ours_local) / med(l2ss_local),
        "runs": {"ours_s3": ours_s3, "download_plus_l2ss": base, "ours_local": ours_local,
                 "l2ss_local": l2ss_local},
    })
    out_dir = REPO / "benchmarks" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "subset.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"object {size / 1e9:.2f} GB, bbox {bbox}, {selected} pixels "
          f"({100 * selected / total:.2f} % of the swath)")
    print(f"bytes read from the store: {med(reads) / 1e6:.1f} MB "
          f"({100 * med(reads) / size:.2f} % of the object; target <= 10 %)")
    print(f"ranged GETs per run (all, of them by prefetch): {requests}")
    est = results["estimate"]
    assert isinstance(est, dict)
    print(f"estimate: read {est['bytes_read'] / 1e6:.1f} MB "
          f"({100 * (est['bytes_read'] / med(reads) - 1):+.1f} %), wrote "
          f"{est['bytes_written'] / 1e6:.1f} MB ({100 * (est['bytes_written'] / written - 1):+.1f} "
          f"%; target within 10 %), in {est['seconds']:.2f} s reading "
          f"{est['own_bytes_read'] / 1e6:.1f} MB itself")
    print(f"S3:    ours {med(ours_s3):.2f} s   download + l2ss-py {med(base):.2f} s   "
          f"ratio {med(ours_s3) / med(base):.3f} (target <= 0.25)")
    print(f"local: ours {med(ours_local):.2f} s   l2ss-py {med(l2ss_local):.2f} s   "
          f"ratio {med(ours_local) / med(l2ss_local):.3f} (target <= 0.5)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

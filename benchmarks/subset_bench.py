"""Subset speed: our kernel by range requests vs downloading the object and running l2ss-py.

    .venv/bin/python benchmarks/subset_bench.py [--size 2GB] [--region-fraction 0.02]

1. Writes (once, kept under var/bench-subset/) a synthetic chunked NetCDF4 swath with
   ingest.synth: MODIS-like, 10 Rrs bands (the layout of an OBPG L2 OC granule).
2. Starts `rclone serve s3` on loopback (ETag hashing off: rclone otherwise re-reads the
   whole object to hash it on every request) and puts the file there as one object.
3. Picks a bbox around the swath's centre holding about --region-fraction of its pixels.
4. Builds the swath's per-chunk geolocation bounds as ingest does for its chunk index
   (ingest.chunkgeo, through JSON as the document stores them), and times that.
5. Side by side, each run --repeat times (medians): ours from the store (RangedFile
   with chunk prefetch, bytes and requests counted) with the bounds, and without them
   (the geolocation search, as for a swath with no index yet); "download the whole
   object, then l2ss-py --cut"; ours and l2ss-py on the local file. l2ss-py runs from
   .venv-l2ss as a subprocess. Before them, the estimate (subset.estimate) of the cut
   from the store, against what the cut then reads and writes.
   Bytes read are split into geolocation chunks, other variables' chunks and the rest
   (HDF5 metadata, and chunk bytes a block read or a coalesced request took along).
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

import h5py
import netCDF4
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archive.s3 import S3Store  # noqa: E402
from ingest.chunkgeo import chunk_geo_bounds  # noqa: E402
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


def geo_bounds(path: Path) -> tuple[dict[str, object] | None, float]:
    """Return the swath's geolocation bounds as its index document holds them, and the
    seconds building them took."""
    t0 = time.monotonic()
    with h5py.File(path, "r") as f:
        bounds = chunk_geo_bounds(f)
    seconds = time.monotonic() - t0
    return json.loads(json.dumps(bounds)), seconds


class ChunkMap:
    """Which dataset's chunk each byte of the file belongs to: the read's breakdown."""

    def __init__(self, path: Path, geo_paths: set[str]) -> None:
        rows: list[tuple[int, int, bool]] = []
        with h5py.File(path, "r") as f:
            def visit(name: str, obj: object) -> None:
                if isinstance(obj, h5py.Dataset) and obj.chunks is not None:
                    geo = "/" + name in geo_paths
                    obj.id.chunk_iter(lambda c: rows.append(
                        (c.byte_offset, c.byte_offset + c.size, geo)))
            f.visititems(visit)
        rows.sort()
        self.starts = np.array([r[0] for r in rows], dtype=np.int64)
        self.stops = np.array([r[1] for r in rows], dtype=np.int64)
        self.geo = np.array([r[2] for r in rows], dtype=bool)

    def split(self, spans: list[tuple[int, int]]) -> dict[str, int]:
        """Return bytes of ``spans`` in geolocation chunks, other chunks, and the rest."""
        out = {"geolocation": 0, "variables": 0, "other": 0}
        for lo, hi in spans:
            i = max(0, int(np.searchsorted(self.starts, lo, side="right")) - 1)
            inside = 0
            while i < len(self.starts) and self.starts[i] < hi:
                n = max(0, min(hi, int(self.stops[i])) - max(lo, int(self.starts[i])))
                out["geolocation" if self.geo[i] else "variables"] += n
                inside += n
                i += 1
            out["other"] += hi - lo - inside
        return out


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
    bounds, bounds_s = geo_bounds(path)
    results["geo_bounds"] = {"seconds": bounds_s, "json_bytes": len(json.dumps(bounds))}
    geo_paths = {p[k] for p in (bounds or {}).get("pairs", []) for k in ("lat", "lon")}
    chunk_map = ChunkMap(path, geo_paths)
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
                estimate = estimate_cut(f, region, geo_bounds=bounds)
                results["estimate"] = {"bytes_read": estimate.bytes_read,
                                       "bytes_written": estimate.bytes_written,
                                       "own_bytes_read": f.bytes_read,
                                       "seconds": time.monotonic() - t0}
            runs: dict[str, dict[str, list]] = {
                mode: {"s": [], "read": [], "requests": [], "split": []}
                for mode in ("bounds", "search")}
            for i in range(args.repeat):
                for mode in ("bounds", "search"):
                    out = tmp / f"ours-s3-{mode}-{i}.nc"
                    spans: list[tuple[int, int]] = []
                    t0 = time.monotonic()
                    with store.open_ranged(put.key, block_size=RANGED_BLOCK,
                                           cache_blocks=RANGED_CACHE_BLOCKS) as f:
                        # Each range fetched is recorded (blocks and prefetches), for the
                        # breakdown: the file's fetch function, wrapped.
                        fetch = f._fetch

                        def logged(lo: int, hi: int, fetch=fetch, spans=spans) -> bytes:
                            spans.append((lo, hi))
                            return fetch(lo, hi)

                        f._fetch = logged
                        if f._prefetch is not None:
                            f._prefetch._fetch = logged
                        res = subset(f, region, out,
                                     geo_bounds=bounds if mode == "bounds" else None)
                        runs[mode]["requests"].append((f.requests, f.prefetch_requests))
                    runs[mode]["s"].append(time.monotonic() - t0)
                    runs[mode]["read"].append(res.bytes_read or 0)
                    runs[mode]["split"].append(chunk_map.split(spans))
                    runs[mode]["windows"] = res.windows
                    written = res.size
                    selected = res.n_selected
                    out.unlink()
            ours_s3, reads = runs["bounds"]["s"], runs["bounds"]["read"]
            requests = runs["bounds"]["requests"]
            windows = runs["bounds"]["windows"]
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
        "search": {"bytes_read": med(runs["search"]["read"]),
                   "bytes_read_fraction": med(runs["search"]["read"]) / size,
                   "ours_s3_s": med(runs["search"]["s"]),
                   "s3_ratio": med(runs["search"]["s"]) / med(base),
                   "requests": runs["search"]["requests"],
                   "split": runs["search"]["split"], "windows": runs["search"]["windows"]},
        "split": runs["bounds"]["split"],
        "ours_local_s": med(ours_local), "l2ss_local_s": med(l2ss_local),
        "local_ratio": med(ours_local) / med(l2ss_local),
        "runs": {"ours_s3": ours_s3, "ours_s3_search": runs["search"]["s"],
                 "download_plus_l2ss": base, "ours_local": ours_local,
                 "l2ss_local": l2ss_local},
    })
    out_dir = REPO / "benchmarks" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "subset.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"object {size / 1e9:.2f} GB, bbox {bbox}, {selected} pixels "
          f"({100 * selected / total:.2f} % of the swath)")
    print(f"geolocation bounds: built in {bounds_s:.1f} s, "
          f"{results['geo_bounds']['json_bytes']} bytes of JSON")  # type: ignore[index]
    for mode, label in (("bounds", "with bounds"), ("search", "without (search)")):
        r = runs[mode]
        split = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in r["split"][-1].items())
        print(f"bytes read from the store {label}: {med(r['read']) / 1e6:.1f} MB "
              f"({100 * med(r['read']) / size:.2f} % of the object; target <= 3 %): {split}; "
              f"{med(r['s']):.2f} s, ratio {med(r['s']) / med(base):.3f}")
        print(f"  ranged GETs per run (all, of them by prefetch): {r['requests']}")
    est = results["estimate"]
    assert isinstance(est, dict)
    print(f"estimate: read {est['bytes_read'] / 1e6:.1f} MB "
          f"({100 * (est['bytes_read'] / med(reads) - 1):+.1f} %), wrote "
          f"{est['bytes_written'] / 1e6:.1f} MB ({100 * (est['bytes_written'] / written - 1):+.1f} "
          f"%; target within 10 %), in {est['seconds']:.2f} s reading "
          f"{est['own_bytes_read'] / 1e6:.1f} MB itself")
    print(f"S3:    ours {med(ours_s3):.2f} s   download + l2ss-py {med(base):.2f} s   "
          f"ratio {med(ours_s3) / med(base):.3f} (target <= 0.15)")
    print(f"local: ours {med(ours_local):.2f} s   l2ss-py {med(l2ss_local):.2f} s   "
          f"ratio {med(ours_local) / med(l2ss_local):.3f} (target <= 0.5)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

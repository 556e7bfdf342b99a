"""NetCDF classic in the archive: zstd-compressed (today's "auto") or stored as it is?

    .venv/bin/python benchmarks/classic_codec.py [--sizes 50MB,200MB] [--no-shared]
        [--repeat 5] [--fraction 0.02]

For each file (the shared classic granules and a synthetic classic swath written once
under var/bench-classic/: ingest.synth's MODIS-like swath, uncompressed, its groups
flattened into a NETCDF3_64BIT file), side by side, medians of --repeat runs:
1. compression: the zstd ratio and the time of archive.codecs' zstd (as Store.put runs
   it, one worker thread per CPU) and of its decoding;
2. a regional subset from `rclone serve s3` on loopback (as benchmarks/subset_bench.py
   starts it): a lon/lat box around the swath's centre holding about --fraction of its
   pixels; the cut reads the geolocation, finds the rows with pixels in the box and
   reads those rows of every variable along the track (all of the others):
   - "zstd, whole": download the zstd object, decode it, open with netCDF4 (what the
     kernel does with today's objects);
   - "none, whole": the same with the object stored as it is (today's kernel, if
     "auto" changed and nothing else did);
   - "none, ranged": the object stored as it is, read by ranged GETs that the chunk
     reference document names (ingest/chunkindex_nc3.py; one GET of the document,
     stored beside the object, then the geolocation's chunks, then the window's), which
     is what an xarray client reading through the references fetches.
   The three cuts' values are compared: they must be identical. Then the product's own
   cut (subset.kernel, the same box as a region) of each copy: "kernel: zstd, whole"
   (downloaded, decoded, read with netCDF4) and "kernel: none, ranged" (a RangedFile
   over the object as it is, read from its parsed header: subset.source); both must
   select the same pixels.
3. storage: the bytes each choice keeps per TB of classic source.
Prints a table and writes benchmarks/out/classic_codec.json.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archive import codecs  # noqa: E402
from archive.s3 import S3Store  # noqa: E402
from ingest.chunkindex_nc3 import build_nc3_references  # noqa: E402
from ingest.synth import parse_size, write_swath  # noqa: E402
from subset.kernel import RANGED_BLOCK, RANGED_CACHE_BLOCKS, subset  # noqa: E402
from subset.region import bbox_region  # noqa: E402
from tests.support.s3servers import start_rclone  # noqa: E402

WORK = REPO / "var" / "bench-classic"
SHARED = Path(os.environ.get("SWATHS_DIR", REPO.parent.parent / "shared" / "data" / "swaths"))
LAT_NAMES, LON_NAMES = ("lat", "latitude"), ("lon", "longitude")
# S3 Standard list price per GB-month (us-east-1, first 50 TB); only to put bytes in money.
USD_PER_GB_MONTH = 0.023


def synthetic_classic(size: str) -> Path:
    """Return the synthetic classic swath, writing it (and its NetCDF4 source) on first use."""
    out = WORK / f"classic-{size}.nc"
    if out.exists():
        return out
    WORK.mkdir(parents=True, exist_ok=True)
    src = WORK / f"source-{size}.nc"
    write_swath(src, seed=11, start="2024-05-01T12:00:00", target_bytes=parse_size(size),
                compression=None, extra_bands=4)
    with netCDF4.Dataset(src) as ds, netCDF4.Dataset(out.with_suffix(".tmp"), "w",
                                                     format="NETCDF3_64BIT") as nc:
        nc.setncatts({k: ds.getncattr(k) for k in ds.ncattrs()})
        for name, dim in ds.dimensions.items():
            nc.createDimension(name, len(dim))
        groups = [ds, *ds.groups.values()]
        for grp in groups:
            for name, dim in grp.dimensions.items():
                if name not in nc.dimensions:
                    nc.createDimension(name, len(dim))
        for grp in groups:
            for name, v in grp.variables.items():
                v.set_auto_maskandscale(False)
                attrs = {k: v.getncattr(k) for k in v.ncattrs()}
                w = nc.createVariable(name, v.dtype, v.dimensions,
                                      fill_value=attrs.pop("_FillValue", None))
                w.setncatts({k: a for k, a in attrs.items() if k != "coordinates"})
                w.set_auto_maskandscale(False)
                step = max(1, (8 << 20) // max(1, v.dtype.itemsize * math.prod(v.shape[1:])))
                for r in range(0, v.shape[0] if v.shape else 1, step):
                    w[r:r + step] = v[r:r + step] if v.shape else v[...]
    out.with_suffix(".tmp").rename(out)
    src.unlink()
    return out


def geolocation(names: list[str]) -> tuple[str, str]:
    """Return the names of the latitude and longitude variables."""
    lat = next(n for n in names if n.lower() in LAT_NAMES)
    lon = next(n for n in names if n.lower() in LON_NAMES)
    return lat, lon


def physical(raw: np.ndarray, attrs: dict[str, Any], fill: Any) -> np.ndarray:
    """Return geolocation in degrees: scaled as CF says, fills as NaN."""
    out = raw.astype("f8")
    if fill is not None:
        out[raw == fill] = np.nan
    return out * float(attrs.get("scale_factor", 1.0)) + float(attrs.get("add_offset", 0.0))


def centre_box(lat: np.ndarray, lon: np.ndarray, fraction: float) -> tuple[float, ...]:
    """Return the box of ``window_box`` whose window is the largest holding at most
    about ``fraction`` of the pixels (a box around a slanted track holds more pixels
    than the window it is drawn round)."""
    want, box = fraction, window_box(lat, lon, fraction)
    for _ in range(12):
        if row_window(lat, lon, box)[2] <= 1.25 * want * lat.size:
            break
        fraction *= 0.7
        box = window_box(lat, lon, fraction)
    return box


def window_box(lat: np.ndarray, lon: np.ndarray, fraction: float) -> tuple[float, ...]:
    """Return (west, south, east, north, centre longitude) around the swath's centre holding
    about ``fraction`` of its pixels; west and east are relative to the centre longitude."""
    if lat.ndim == 1:  # a track: a run of points
        n = lat.shape[0]
        r0, r1 = int(n * (0.5 - fraction / 2)), int(n * (0.5 + fraction / 2))
        la, lo = lat[r0:r1], lon[r0:r1]
    else:
        n, m = lat.shape
        side = fraction ** 0.5
        r0, r1 = int(n * (0.5 - side / 2)), int(n * (0.5 + side / 2))
        c0, c1 = int(m * (0.5 - side / 2)), int(m * (0.5 + side / 2))
        la, lo = lat[r0:r1, c0:c1], lon[r0:r1, c0:c1]
    ok = np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90)
    # Longitudes relative to the window's centre: a box across 0/360 or 180 stays small.
    centre = float(np.median(lo[ok]))
    rel = _relative(lo[ok], centre)
    return (float(rel.min()), float(la[ok].min()), float(rel.max()), float(la[ok].max()), centre)


def _relative(lon: np.ndarray, centre: float) -> np.ndarray:
    """Return ``lon`` as degrees east of ``centre``, in [-180, 180)."""
    out: np.ndarray = (lon - centre + 180.0) % 360.0 - 180.0
    return out


def row_window(lat: np.ndarray, lon: np.ndarray, box: tuple[float, ...]) -> tuple[int, int, int]:
    """Return (first row, end row, pixels) of the rows with pixels inside ``box``."""
    west, south, east, north, centre = box
    rel = _relative(lon, centre)
    inside = (lat >= south) & (lat <= north) & (rel >= west) & (rel <= east)
    rows = inside if inside.ndim == 1 else inside.any(axis=1)
    hit = np.flatnonzero(rows)
    return int(hit[0]), int(hit[-1]) + 1, int(inside.sum())


def local_geolocation(ds: netCDF4.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Return latitude and longitude in degrees from an open file."""
    out = []
    for name in geolocation(list(ds.variables)):
        v = ds[name]
        attrs = {k: v.getncattr(k) for k in v.ncattrs()}
        out.append(physical(np.asarray(v[...]), attrs, attrs.get("_FillValue")))
    return out[0], out[1]


def cut_local(path: Path, box: tuple[float, ...]) -> dict[str, np.ndarray]:
    """The cut on a local file with netCDF4 (after a whole download)."""
    with netCDF4.Dataset(path) as ds:
        ds.set_auto_maskandscale(False)
        lat, lon = local_geolocation(ds)
        lat_name, _ = geolocation(list(ds.variables))
        r0, r1, _ = row_window(lat, lon, box)
        track = ds[lat_name].dimensions[0]
        out = {}
        for name, v in ds.variables.items():
            along = bool(v.dimensions) and v.dimensions[0] == track
            out[name] = np.asarray(v[r0:r1] if along else v[...])
    return out


class RefReader:
    """Reads variables, or rows of them, through a reference document by ranged GETs."""

    def __init__(self, doc: dict[str, Any], ranged: Any) -> None:
        self.refs, self.f = doc["refs"], ranged

    def meta(self, name: str) -> dict[str, Any]:
        meta: dict[str, Any] = json.loads(self.refs[f"{name}/.zarray"])
        return meta

    def dims(self, name: str) -> list[str]:
        dims: list[str] = json.loads(self.refs[f"{name}/.zattrs"])["_ARRAY_DIMENSIONS"]
        return dims

    def attrs(self, name: str) -> dict[str, Any]:
        attrs: dict[str, Any] = json.loads(self.refs[f"{name}/.zattrs"])
        return attrs

    def names(self) -> list[str]:
        return [k[: -len("/.zarray")] for k in self.refs if k.endswith("/.zarray")]

    def _chunks(self, name: str, r0: int, r1: int) -> list[tuple[int, Any]]:
        meta = self.meta(name)
        if not meta["shape"]:
            return [(0, self.refs.get(f"{name}/0"))]
        rows, tail = meta["chunks"][0], ".0" * (len(meta["shape"]) - 1)
        first, last = r0 // rows, max(r0, r1 - 1) // rows
        return [(i, self.refs.get(f"{name}/{i}{tail}")) for i in range(first, last + 1)]

    def prefetch(self, wanted: list[tuple[str, int, int]]) -> None:
        ranges = [(ref[1], ref[1] + ref[2]) for name, r0, r1 in wanted
                  for _, ref in self._chunks(name, r0, r1) if isinstance(ref, list)]
        self.f.prefetch(sorted(ranges))

    def read(self, name: str, r0: int, r1: int) -> np.ndarray:
        meta = self.meta(name)
        dtype, shape = np.dtype(meta["dtype"]), meta["shape"]
        if not shape:
            return self._chunk(self.refs[f"{name}/0"], dtype, [])
        rows = meta["chunks"][0]
        parts = [self._chunk(ref, dtype, [rows, *shape[1:]])
                 for _, ref in self._chunks(name, r0, r1)]
        whole = np.concatenate(parts) if parts else np.empty([0, *shape[1:]], dtype)
        base = (r0 // rows) * rows
        return whole[r0 - base: r1 - base]

    def _chunk(self, ref: Any, dtype: np.dtype, shape: list[int]) -> np.ndarray:
        if isinstance(ref, str):
            import base64

            raw = base64.b64decode(ref[len("base64:"):])
        else:
            self.f.seek(ref[1])
            raw = self.f.read(ref[2])
        return np.frombuffer(raw, dtype=dtype)[: math.prod(shape)].reshape(shape)


def cut_ranged(store: S3Store, key: str, doc_key: str,
               box: tuple[float, ...]) -> tuple[dict[str, np.ndarray], int, int]:
    """The cut by ranged reads through the document; returns values, bytes and requests."""
    raw, info = store.open_raw(doc_key)
    with raw:
        doc = json.loads(raw.read())
    with store.open_ranged(key) as f:
        reader = RefReader(doc, f)
        names = reader.names()
        lat_name, lon_name = geolocation(names)
        n = reader.meta(lat_name)["shape"][0]
        reader.prefetch([(lat_name, 0, n), (lon_name, 0, n)])
        raw_lat, raw_lon = reader.read(lat_name, 0, n), reader.read(lon_name, 0, n)
        lat, lon = (physical(raw, reader.attrs(name), reader.meta(name)["fill_value"])
                    for name, raw in ((lat_name, raw_lat), (lon_name, raw_lon)))
        r0, r1, _ = row_window(lat, lon, box)
        track = reader.dims(lat_name)[0]
        wanted = []
        for name in names:
            dims, shape = reader.dims(name), reader.meta(name)["shape"]
            along = bool(dims) and dims[0] == track
            wanted.append((name, r0, r1) if along else (name, 0, shape[0] if shape else 1))
        # The geolocation's rows are at hand already: not fetched twice.
        have = {lat_name: raw_lat, lon_name: raw_lon}
        reader.prefetch([w for w in wanted if w[0] not in have])
        out = {name: have[name][a:b] if name in have else reader.read(name, a, b)
               for name, a, b in wanted}
        return out, f.bytes_read + info.stored_size, f.requests + 1


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(3)


def kernel_cuts(store: S3Store, stem: str, box: tuple[float, ...], tmp: Path,
                runs: dict[str, dict[str, list[float]]]) -> None:
    """The product's own cut (subset.kernel, the box as a lon/lat region) of each copy:
    the zstd object downloaded and decoded, the object as it is read by ranges."""
    west, south, east, north, centre = box
    region = bbox_region((west + centre + 180) % 360 - 180, south,
                         (east + centre + 180) % 360 - 180, north)
    selected = set()
    local, out = tmp / "download.nc", tmp / "cut.nc"
    t0 = time.perf_counter()
    got = store.get(f"{stem}.nc.zst", local, fsync=False)
    res = subset(local, region, out)
    _record(runs, "kernel: zstd, whole", time.perf_counter() - t0, got.stored_size,
            max(1, math.ceil(got.stored_size / store.get_part_size)))
    selected.add(res.n_selected)
    local.unlink()
    out.unlink()
    t0 = time.perf_counter()
    with store.open_ranged(f"{stem}.nc", block_size=RANGED_BLOCK,
                           cache_blocks=RANGED_CACHE_BLOCKS) as f:
        res = subset(f, region, out)
        _record(runs, "kernel: none, ranged", time.perf_counter() - t0, f.bytes_read,
                f.requests)
    selected.add(res.n_selected)
    out.unlink()
    if len(selected) != 1:
        raise SystemExit(f"{stem}: the kernel's cuts selected {selected} pixels")


def median(values: list[float]) -> float:
    return statistics.median(values)


def measure(path: Path, store: S3Store, tmp: Path, repeat: int, fraction: float) -> dict[str, Any]:
    """All the figures of one file."""
    size = path.stat().st_size
    enc, dec, stored = [], [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        with open(path, "rb") as f:
            blob = b"".join(codecs.encode("zstd", f))
        enc.append(time.perf_counter() - t0)
        stored = len(blob)
        t0 = time.perf_counter()
        with codecs.decoder("zstd", io.BytesIO(blob), limit=None) as d:
            while d.read(1 << 20):
                pass
        dec.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    doc = build_nc3_references(path)
    index_s = time.perf_counter() - t0
    doc_bytes = json.dumps(doc).encode()
    (tmp / "doc.json").write_bytes(doc_bytes)
    stem = path.stem
    store.put(f"{stem}.nc", path, size=size, codec="none")
    store.put(f"{stem}.nc.zst", path, size=size, codec="zstd")
    store.put(f"{stem}.refs.json", tmp / "doc.json", size=len(doc_bytes), codec="none")

    with netCDF4.Dataset(path) as ds:
        ds.set_auto_maskandscale(False)
        lat, lon = local_geolocation(ds)
    box = centre_box(lat, lon, fraction)
    r0, r1, pixels = row_window(lat, lon, box)
    runs: dict[str, dict[str, list[float]]] = {}
    reference: dict[str, np.ndarray] | None = None
    for _ in range(repeat):
        for how, key in (("zstd, whole", f"{stem}.nc.zst"), ("none, whole", f"{stem}.nc")):
            local = tmp / "download.nc"
            t0 = time.perf_counter()
            store.get(key, local, fsync=False)
            values = cut_local(local, box)
            took = time.perf_counter() - t0
            local.unlink()
            got = store.head(key)
            assert got is not None
            parts = math.ceil(got.stored_size / store.get_part_size)
            _record(runs, how, took, got.stored_size, parts if parts > 2 else 1)
            reference = _same(reference, values, how)
        t0 = time.perf_counter()
        values, nbytes, requests = cut_ranged(store, f"{stem}.nc", f"{stem}.refs.json", box)
        _record(runs, "none, ranged", time.perf_counter() - t0, nbytes, requests)
        reference = _same(reference, values, "none, ranged")
        kernel_cuts(store, stem, box, tmp, runs)
    return {
        "file": path.name, "bytes": size, "zstd_bytes": stored, "ratio": size / stored,
        "zstd_encode_s": median(enc), "zstd_decode_s": median(dec),
        "index_s": index_s, "index_bytes": len(doc_bytes), "index_refs": len(doc["refs"]),
        "region_pixels_fraction": pixels / lat.size,
        "region_rows_fraction": (r1 - r0) / lat.shape[0],
        "cuts": {how: {k: median(v) for k, v in r.items()} for how, r in runs.items()},
    }


def _record(runs: dict[str, dict[str, list[float]]], how: str, seconds: float,
            nbytes: int, requests: int) -> None:
    entry = runs.setdefault(how, {"seconds": [], "bytes_read": [], "requests": []})
    entry["seconds"].append(seconds)
    entry["bytes_read"].append(float(nbytes))
    entry["requests"].append(float(requests))


def _same(reference: dict[str, np.ndarray] | None, values: dict[str, np.ndarray],
          how: str) -> dict[str, np.ndarray]:
    """Check a cut's values equal the first cut's; return the reference."""
    if reference is None:
        return values
    for name, want in reference.items():
        got = values[name]
        if want.shape != got.shape or want.tobytes() != got.astype(want.dtype).tobytes():
            raise SystemExit(f"{how}: {name} differs from the other cuts")
    return reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50MB,200MB",
                        help="sizes of the synthetic classic swaths, comma-separated")
    parser.add_argument("--no-shared", action="store_true", help="synthetic swaths only")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fraction", type=float, default=0.02)
    args = parser.parse_args()
    files = [] if args.no_shared else sorted(
        p for p in SHARED.iterdir() if p.is_file() and _head(p) == b"CDF")
    files += [synthetic_classic(size) for size in args.sizes.split(",") if size]
    results = []
    with tempfile.TemporaryDirectory(dir=REPO / "var") as tmp_s:
        tmp = Path(tmp_s)
        server = start_rclone(tmp / "s3", etag_hash=False)
        try:
            store = S3Store(server.bucket, "bench", endpoint_url=server.endpoint_url,
                            access_key=server.access_key, secret_key=server.secret_key,
                            region=server.region, part_size=64 * 2**20, concurrency=4)
            for path in files:
                results.append(measure(path, store, tmp, args.repeat, args.fraction))
                _print(results[-1])
        finally:
            server.stop()
    out = REPO / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    load = os.getloadavg()
    (out / "classic_codec.json").write_text(json.dumps(
        {"args": vars(args), "load": load, "results": results}, indent=1))
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def _print(r: dict[str, Any]) -> None:
    mb = 1e6
    saved_tb = 1 - 1 / r["ratio"]
    print(f"\n{r['file']}: {r['bytes'] / mb:.1f} MB, zstd {r['zstd_bytes'] / mb:.1f} MB "
          f"(ratio {r['ratio']:.2f}; encode {r['zstd_encode_s']:.3f} s, decode "
          f"{r['zstd_decode_s']:.3f} s); index {r['index_bytes'] / 1e3:.1f} kB, "
          f"{r['index_refs']} refs, built in {r['index_s']:.3f} s")
    print(f"  region: {100 * r['region_pixels_fraction']:.1f} % of pixels, "
          f"{100 * r['region_rows_fraction']:.1f} % of rows; storage per TB of source: "
          f"none 1000 GB, zstd {1000 / r['ratio']:.0f} GB "
          f"(${1000 * saved_tb * USD_PER_GB_MONTH:.2f}/month more as none)")
    for how, c in r["cuts"].items():
        print(f"  {how:20s} {c['seconds']:7.3f} s  {c['bytes_read'] / mb:8.2f} MB read "
              f"({100 * c['bytes_read'] / r['bytes']:5.1f} % of the file)  "
              f"{c['requests']:.0f} requests")


if __name__ == "__main__":
    main()

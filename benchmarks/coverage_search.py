"""Valid-fraction search benchmark: /stac/search with swathstore:valid_fraction >= 0.5 over
HTTP vs the bare SQL of its candidates, on 1,000,000 synthetic swaths with coverage.

    .venv/bin/python benchmarks/coverage_search.py load [--count 1000000] [--workers 2]
    .venv/bin/python benchmarks/coverage_search.py run [--queries 300] [--repeats 3]
    .venv/bin/python benchmarks/coverage_search.py blobs [--count 20000]   # time the blobs

`load` migrates its own database (swathstore_bench_cov) and COPYs the MODIS-like rows
of benchmarks/api_synth.py with a coverage blob each (ingest.coverage's format): the
H3 cells of the footprint at resolution 3 (what ingest's rule picks for a swath this
size: its res-4 cells are far more than ingest.coverage.MAX_FINE_CELLS), every cell
holding ~7,000 pixels, and a cloud-like valid fraction: value noise over the cell's
parents at resolutions 0, 1 and 2 (a coarse pattern with finer detail), each hashed
with the day (res 2), three days (res 1) or ten days (res 0), so neighbouring cells and
the same place on nearby days look alike, and ~15 % of swaths are night passes with no
valid pixel (a reflectance product). Blobs are made by --workers processes (numpy
per batch, h3 per footprint).

`run` times seeded 10x10 degree boxes and 30-day windows (benchmarks/api_search.py's
queries), limit 100, sorted newest first:
- GET /stac/search?filter=swathstore:valid_fraction>=0.5 over HTTP (gunicorn, 1 worker);
- the bare SQL of the candidates alone (the footprint and time filter, ids and start
  times), through psycopg2, which is what the database does for such a search;
- the same search without the filter over HTTP, for scale.
Each is repeated --repeats times over the same queries; the table gives the median of
the runs' percentiles. Prints a Markdown table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import statistics
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import h3
import numpy as np
import psycopg2
import shapely
from shapely.geometry import box

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
import api_synth  # noqa: E402
from api_load import drop_swath_indexes, prepare_database, synthetic_collection  # noqa: E402
from api_search import Client, iso, pct, queries, start_server  # noqa: E402

from ingest.coverage import Coverage  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/swathstore_bench_cov"
RESOLUTION = 3
PIXELS_PER_CELL = 7000.0  # 1354 x 2030 pixels over ~390 res-3 cells
COLUMNS = (
    "uuid", "collection_id", "granule_id", "version", "filename", "source_path", "format",
    "platform", "instrument", "orbit", "orbit_direction", "start_time", "end_time",
    "footprint", "is_empty", "size", "sha256", "state", "lease_owner", "attempts",
    "failure_reason", "attrs", "created_at", "updated_at", "verified_at", "coverage",
)
CANDIDATE_SQL = """
SELECT s.id, s.start_time FROM catalog_swath s
WHERE s.state = 'VERIFIED' AND ST_Intersects(s.footprint, ST_MakeEnvelope(%s, %s, %s, %s, 4326))
  AND s.start_time <= %s AND s.end_time >= %s AND s.start_time >= %s - interval '5 minutes'
  AND s.coverage IS NOT NULL
"""


# -- blobs -------------------------------------------------------------------------------
def _parent(cells: np.ndarray, res: int) -> np.ndarray:
    """Parents at `res` of res-3 cells: the finer digits set to 7 (unused), as H3 writes."""
    res_bits = np.uint64(0xF) << np.uint64(52)
    digits = np.uint64((1 << (3 * (15 - res))) - 1)
    return ((cells & ~res_bits) | (np.uint64(res) << np.uint64(52))) | digits


def _noise(keys: np.ndarray, salt: int) -> np.ndarray:
    """A hash of each uint64 key to [0, 1) (splitmix64's finaliser)."""
    with np.errstate(over="ignore"):
        z = keys * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def valid_fractions(cells: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Cloud-like valid fraction of each cell on its day (arrays of one length)."""
    d = day.astype(np.uint64)
    f = (0.3 * _noise(_parent(cells, 0) ^ (d // np.uint64(10)), 3)
         + 0.4 * _noise(_parent(cells, 1) ^ (d // np.uint64(3)), 7)
         + 0.3 * _noise(_parent(cells, 2) ^ d, 11))
    return np.clip((f - 0.25) * 2.0, 0.0, 1.0)


def _pieces(fp: shapely.Geometry) -> list[shapely.Geometry]:
    """Polygons h3 can fill: a piece wider than 170 degrees (closed over a pole) is cut."""
    out = []
    for poly in getattr(fp, "geoms", [fp]):
        west, _, east, _ = poly.bounds
        if east - west <= 170:
            out.append(poly)
            continue
        for w in range(-180, 180, 90):
            part = poly.intersection(box(w, -90, w + 90, 90))
            out += [g for g in getattr(part, "geoms", [part])
                    if g.geom_type == "Polygon" and g.area > 0]
    return out


def footprint_cells(fp: shapely.Geometry) -> tuple[list[int], list[int]]:
    """Cells over the footprint: (res-2 cells whose centre lies in it, res-3 cells).

    The res-3 children of the first (_children) stand for the footprint's res-3 cells:
    filling at res 2 costs a fifth of filling at res 3 (0.11 against 0.44 ms a footprint;
    h3's 'overlap' fill, 1.9 ms), the only way 1,000,000 blobs fit in ~15 minutes on two
    cores. They come out as many as a res-3 fill's (~7 children for each res-2 cell), the
    outline blockier by up to a res-2 cell (~150 km), which the search's cost does not
    depend on. h3 refuses a few thin polar pieces: those are filled at res 3 ('overlap').
    """
    coarse: list[int] = []
    fine: list[int] = []
    for poly in _pieces(fp):
        shape = h3.LatLngPoly([(y, x) for x, y in poly.exterior.coords[:-1]])
        try:
            got = h3.api.basic_int.h3shape_to_cells(shape, RESOLUTION - 1)
        except h3.H3BaseException:
            got = []
        if not got:  # refused, or too thin for a res-2 centre
            fine += h3.api.basic_int.h3shape_to_cells_experimental(
                shape, RESOLUTION, contain="overlap")
        coarse += got
    return coarse, fine


_PENTAGONS = np.array(sorted(h3.api.basic_int.get_pentagons(RESOLUTION - 1)), dtype=np.uint64)
_DIGIT = np.uint64(3 * (15 - RESOLUTION))


def _children(parents: np.ndarray) -> np.ndarray:
    """(n, 7) res-3 children of res-2 cells by bit arithmetic (h3.cell_to_children is a
    Python call each, 7.5 us): resolution 3, the next digit 0..6; 0 where there is none
    (a pentagon has no child on digit 1, H3's deleted K axis)."""
    base = (parents & ~(np.uint64(0xF) << np.uint64(52)) & ~(np.uint64(7) << _DIGIT)) \
        | (np.uint64(RESOLUTION) << np.uint64(52))
    kids = base[:, None] | (np.arange(7, dtype=np.uint64)[None, :] << _DIGIT)
    kids[np.isin(parents, _PENTAGONS), 1] = 0
    return kids


def blobs(wkb: list[bytes], day: list[int], night: list[bool]) -> list[bytes]:
    """Coverage blobs of footprints (WKB) seen on `day` (days since 2015-01-01).

    numpy over the whole batch at once: per footprint only h3's fill runs in Python.
    """
    coarse: list[int] = []
    fine: list[int] = []
    coarse_of: list[int] = []
    fine_of: list[int] = []
    for i, fp in enumerate(shapely.from_wkb(wkb)):
        c, f = footprint_cells(fp)
        coarse += c
        fine += f
        coarse_of += [i] * len(c)
        fine_of += [i] * len(f)
    allc = np.concatenate([_children(np.array(coarse, dtype=np.uint64)).ravel(),
                           np.array(fine, dtype=np.uint64)])
    owner = np.concatenate([np.repeat(np.array(coarse_of, dtype=np.int64), 7),
                            np.array(fine_of, dtype=np.int64)])
    keep = allc != 0
    allc, owner = allc[keep], owner[keep]
    order = np.lexsort((allc, owner))  # by owner, then cell
    allc, owner = allc[order], owner[order]
    first = np.ones(len(allc), dtype=bool)
    first[1:] = (allc[1:] != allc[:-1]) | (owner[1:] != owner[:-1])
    allc, owner = allc[first], owner[first]
    frac = valid_fractions(allc, np.asarray(day)[owner])
    frac[np.asarray(night)[owner]] = 0.0
    bounds = np.searchsorted(owner, np.arange(len(wkb) + 1))
    total = np.full(len(allc), PIXELS_PER_CELL)
    return [Coverage(RESOLUTION, allc[a:b], frac[a:b] * total[a:b], total[a:b]).encode()
            for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]


def batch_blobs(batch: api_synth.Batch) -> list[bytes]:
    """The coverage blob of each swath of a synthetic batch."""
    wkb = list(shapely.to_wkb(batch.footprints))
    day = [int((s - api_synth.EPOCH).total_seconds() // 86400) for s in batch.start]
    # Night: the descending half of a sun-synchronous afternoon orbit (Aqua crosses the
    # equator northbound by day), a third of it still in twilight with data.
    night = [not a and (i % 3) != 0 for i, a in zip(batch.index.tolist(), batch.ascending,
                                                      strict=True)]
    return blobs(wkb, day, night)


def copy_rows(span: tuple[int, int, int, int]) -> tuple[str, int, int]:
    """(COPY text, rows, blob bytes) of granules lo..hi-1 of `n` in collection `coll_id`.

    Runs in a worker process: footprints, blobs and text all made there, so the loading
    process only COPYs.
    """
    lo, hi, n, coll_id = span
    batch = api_synth.batch(lo, hi, n)
    covs = batch_blobs(batch)
    buf = io.StringIO()
    wkb = shapely.to_wkb(batch.footprints, hex=True, include_srid=False)
    for i, idx in enumerate(batch.index):
        start = batch.start[i]
        end = start + api_synth.timedelta(seconds=api_synth.GRANULE_S)
        name = f"MYD.{start:%Y%j.%H%M%S}.L2.nc"
        row = (
            str(uuid.UUID(int=int(idx) + 1)), str(coll_id), name, "1", name, "",
            "netcdf4", "aqua", "modis", str(batch.orbit[i]),
            "ascending" if batch.ascending[i] else "descending",
            start.isoformat(), end.isoformat(), "SRID=4326;" + wkb[i], "f",
            str(100_000_000 + int(idx)), f"{int(idx):064x}", "VERIFIED", "", "0", "",
            "{}", start.isoformat(), start.isoformat(), start.isoformat(),
            "\\\\x" + covs[i].hex(),
        )
        buf.write("\t".join(row) + "\n")
    return buf.getvalue(), len(covs), sum(map(len, covs))


CHUNK = 5000


# -- load --------------------------------------------------------------------------------
def _index_definitions(dsn: str) -> list[tuple[str, str]]:
    """catalog_swath's indexes as a fresh migrate makes them, read from a scratch database."""
    from benchdb import fresh_database, psql

    scratch = dsn.rpartition("/")[2] + "_scratch"
    env = {**os.environ, "DATABASE_URL": dsn.rpartition("/")[0].replace(
        "postgresql://", "postgis://") + "/" + scratch, "VAR_DIR": str(REPO / "var" / "bench")}
    fresh_database(scratch, env)
    rows = psql("SELECT indexname || '|' || indexdef FROM pg_indexes WHERE tablename = "
                "'catalog_swath' AND indexname NOT IN (SELECT conname FROM pg_constraint)",
                scratch)
    psql(f"DROP DATABASE {scratch}")
    return [tuple(line.split("|", 1)) for line in rows.splitlines() if line]  # type: ignore[misc]


def load(dsn: str, count: int, workers: int, resume: bool = False) -> None:
    """Migrate, then COPY `count` synthetic VERIFIED swaths with coverage (replacing any).

    `resume`: keep the rows a load cut short left (its indexes dropped) and go on from
    there.
    """
    prepare_database(dsn)
    conn = psycopg2.connect(dsn)
    first = 0
    if resume:
        saved = _index_definitions(dsn)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM catalog_swath")
            (first,) = cur.fetchone()
    with conn, conn.cursor() as cur:
        coll_id = synthetic_collection(cur)
        if not resume:
            cur.execute("TRUNCATE catalog_swath CASCADE")
            saved = drop_swath_indexes(cur)
    t0, done, size = time.monotonic(), first, 0
    spans = [(lo, min(lo + CHUNK, count), count, coll_id) for lo in range(first, count, CHUNK)]
    with multiprocessing.Pool(workers) as pool:
        for text, rows, nbytes in pool.imap(copy_rows, spans):
            with conn, conn.cursor() as cur:
                cur.copy_expert(f"COPY catalog_swath ({', '.join(COLUMNS)}) FROM STDIN",
                                io.StringIO(text))
            done += rows
            size += nbytes
            if done % 50_000 == 0 or done == count:
                print(f"{done:>9,} rows  {(done - first) / (time.monotonic() - t0):,.0f} "
                      f"rows/s  (blobs mean {size / (done - first):,.0f} B)", flush=True)
    rows_s = time.monotonic() - t0
    with conn, conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '512MB'")
        for name, definition in saved:
            t1 = time.monotonic()
            cur.execute(definition)
            print(f"index {name}: {time.monotonic() - t1:.0f} s", flush=True)
        cur.execute("ANALYZE catalog_swath")
    conn.close()
    load_avg = os.getloadavg()
    print(f"{done:,} rows with coverage made and copied in {rows_s:.0f} s by {workers} "
          f"worker(s); blobs {size / 2**20:,.0f} MiB; then indexes; total "
          f"{time.monotonic() - t0:.0f} s; load {load_avg[0]:.1f} {load_avg[1]:.1f} "
          f"{load_avg[2]:.1f}")


def time_blobs(count: int, workers: int) -> None:
    """Time making `count` rows' footprints, blobs and COPY text alone (no database)."""
    t0, n, size = time.monotonic(), 0, 0
    spans = [(lo, min(lo + CHUNK, count), 1_000_000, 1) for lo in range(0, count, CHUNK)]
    with multiprocessing.Pool(workers) as pool:
        for _, rows, nbytes in pool.imap(copy_rows, spans):
            n += rows
            size += nbytes
    elapsed = time.monotonic() - t0
    load = os.getloadavg()
    print(f"{n:,} rows (footprint, blob, COPY text) in {elapsed:.1f} s with {workers} "
          f"worker(s): {elapsed / n * 1e6:.0f} us each, 1,000,000 in "
          f"~{elapsed / n * 1e6 / 60:.1f} min; blobs mean {size / n:,.0f} B; "
          f"load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


# -- run ---------------------------------------------------------------------------------
def search_path(q: dict, valid: float | None) -> str:
    params = {"bbox": ",".join(map(str, q["bbox"])), "limit": "100",
              "datetime": f"{iso(q['t0'])}/{iso(q['t1'])}"}
    if valid is not None:
        params["filter"] = f"swathstore:valid_fraction >= {valid}"
    return "/stac/search?" + urllib.parse.urlencode(params)


def _estimator(cur: psycopg2.extensions.cursor, q: dict, ids: list[int],
               ts: dict[str, list[float]]) -> None:
    """Where a request's Python time goes: the candidates' blobs read by id, the region's
    cell weights (ingest.coverage.region_weights, uncached here as in the server: each
    query's box is new), and decoding each blob and its region_fraction."""
    from ingest.coverage import region_fraction, region_weights

    t = time.perf_counter()
    cur.execute("SELECT coverage FROM catalog_swath WHERE id = ANY(%s)", [ids])
    blobs = [bytes(b) for (b,) in cur.fetchall()]
    ts["blobs"].append(time.perf_counter() - t)
    west, south, east, north = q["bbox"]
    t = time.perf_counter()
    weights = region_weights(box(west, south, east, north), RESOLUTION)
    ts["weights"].append(time.perf_counter() - t)
    t = time.perf_counter()
    for b in blobs:
        region_fraction(Coverage.decode(b), weights)
    ts["estimator"].append(time.perf_counter() - t)


def run(dsn: str, n: int, seed: int, port: int, repeats: int) -> None:
    qs = queries(n, seed)
    warm = queries(50, seed + 1)
    proc = start_server(dsn, port)
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    runs: dict[str, list[list[float]]] = {"http": [], "sql": [], "plain": [], "blobs": [],
                                          "weights": [], "estimator": []}
    cands, matched = [], []
    try:
        client = Client(port)
        for q in warm:
            client.get(search_path(q, 0.5))
        for r in range(repeats):
            ts: dict[str, list[float]] = {k: [] for k in runs}
            for i, q in enumerate(qs):
                steps = ["http", "sql", "plain"]
                for name in steps[i % 3:] + steps[:i % 3]:  # who goes first rotates
                    if name == "sql":
                        t = time.perf_counter()
                        cur.execute(CANDIDATE_SQL, [*q["bbox"], q["t1"], q["t0"], q["t0"]])
                        rows = cur.fetchall()
                        ts["sql"].append(time.perf_counter() - t)
                        if r == 0:
                            cands.append(len(rows))
                        _estimator(cur, q, [row[0] for row in rows], ts)
                    else:
                        elapsed, body = client.get(search_path(q, 0.5 if name == "http"
                                                               else None))
                        ts[name].append(elapsed)
                        if r == 0 and name == "http":
                            matched.append(body.get("numberMatched", 0))
            for k in runs:
                runs[k].append(ts[k])
    finally:
        proc.terminate()
        proc.wait(10)
    cur.execute("SELECT count(*), count(coverage) FROM catalog_swath")
    rows, with_cov = cur.fetchone()

    def med(name: str, p: float) -> float:
        return statistics.median(pct(ts, p) for ts in runs[name])

    print(f"\n{rows:,} swaths ({with_cov:,} with coverage); {len(qs)} queries (10x10 deg, "
          f"30 days, limit 100) x {repeats} runs; candidates per query: median "
          f"{statistics.median(cands):.0f}, max {max(cands)}; matches (valid_fraction >= "
          f"0.5): median {statistics.median(matched):.0f}\n")
    print("| what | p50 ms | p90 ms | p99 ms |")
    print("| --- | ---: | ---: | ---: |")
    for name, label in (("http", "/stac/search, valid_fraction >= 0.5, over HTTP"),
                        ("sql", "bare SQL of its candidates (ids, start times)"),
                        ("plain", "/stac/search, same box and days, no filter, over HTTP"),
                        ("blobs", "in-process: the candidates' coverage blobs read by id"),
                        ("weights", "in-process: region_weights of the box (new each query)"),
                        ("estimator", "in-process: decode + region_fraction, all candidates")):
        print(f"| {label} | {med(name, 50):.1f} | {med(name, 90):.1f} | {med(name, 99):.1f} |")
    print(f"\ntarget: p50 <= 30 ms, p99 <= 90 ms over HTTP: "
          f"{'met' if med('http', 50) <= 30 and med('http', 99) <= 90 else 'NOT met'}")
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
          f"({os.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["load", "run", "blobs"])
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--port", type=int, default=8775)
    parser.add_argument("--resume", action="store_true",
                        help="load: go on from the rows a cut-short load left")
    args = parser.parse_args()
    if args.what == "load":
        load(args.dsn, args.count, args.workers, args.resume)
    elif args.what == "blobs":
        time_blobs(args.count, args.workers)
    else:
        run(args.dsn, args.queries, args.seed, args.port, args.repeats)


if __name__ == "__main__":
    main()

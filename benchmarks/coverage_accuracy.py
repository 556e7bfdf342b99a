"""Issue 23 item 3: per-region valid-data coverage against a pixel-exact oracle.

    nice -n 10 .venv/bin/python benchmarks/coverage_accuracy.py [--data ../shared/data/swaths]
        [--regions 200] [--seed 7]

For each granule: the coverage ingest stores (ingest.readers -> SwathMetadata.coverage),
and `--regions` random boxes and star-shaped polygons of 2 to 20 degrees, each holding a
pixel of the swath (a fifth anchored at its most poleward pixel or its pixel nearest
+-180: regions reaching a pole or crossing the antimeridian where the granule goes).
Truth is the oracle's (tests/support/coverage_oracle.py: every pixel of the main variable
whose centre shapely.contains_xy finds in the region; valid / all >= 0.5), the estimate
region_fraction(coverage, region_weights(region, resolution)) >= 0.5. Reported per granule
and overall: recall (of the regions truly >= 50 % valid, the share found) and the false
positive rate (of the others, the share wrongly found), cells and blob bytes, measure()
seconds on the granule's pixels, and region_weights milliseconds for a 10 x 10 degree box
(uncached). `--near-miss` adds regions beside the data (holding none of its pixels but
touching its cells) as a separate figure. Writes benchmarks/out/coverage_accuracy.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shapely.geometry import box  # noqa: E402

from ingest import coverage as coverage_module  # noqa: E402
from ingest.coverage import (  # noqa: E402
    Coverage,
    measure,
    region_fraction,
    region_weights,
)
from ingest.readers import read_metadata  # noqa: E402
from tests.support.coverage_oracle import Pixels, random_regions, read_pixels  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def score(cov: Coverage, px: Pixels, regions: list[Any]) -> dict[str, int]:
    """Counts of true/false positives/negatives of '>= 50 % valid' over the regions."""
    hits = {"tp": 0, "fn": 0, "fp": 0, "tn": 0, "no_pixel": 0}
    for region in regions:
        valid, total = px.fraction(region)
        hits["no_pixel"] += total == 0
        truth = total > 0 and valid / total >= 0.5
        estimate = region_fraction(cov, region_weights(region, cov.resolution))
        said = estimate is not None and estimate >= 0.5
        hits[("t" if said == truth else "f") + ("p" if said else "n")] += 1
    return hits


def rates(hits: dict[str, int]) -> tuple[float | None, float | None]:
    pos, neg = hits["tp"] + hits["fn"], hits["fp"] + hits["tn"]
    return (hits["tp"] / pos if pos else None, hits["fp"] / neg if neg else None)


def near_misses(cov: Coverage, px: Pixels, count: int, rng: np.random.Generator) -> list:
    """Regions near the data, holding none of its pixels but touching its cells."""
    out: list = []
    tries = 0
    while len(out) < count and tries < count * 50:
        tries += 1
        at = int(rng.integers(len(px.lon)))
        size = rng.uniform(0.2, 2.0)
        x = px.lon[at] + rng.choice([-1, 1]) * rng.uniform(0.05, 1.0)
        y = px.lat[at] + rng.choice([-1, 1]) * rng.uniform(0.05, 1.0)
        region = box(x - size / 2, max(-90, y - size / 2), x + size / 2, min(90, y + size / 2))
        if px.fraction(region)[1] == 0 and region_fraction(
                cov, region_weights(region, cov.resolution)) is not None:
            out.append(region)
    return out


def weights_ms(resolution: int, rng: np.random.Generator, repeat: int = 7) -> float:
    """Median milliseconds of region_weights for a 10 x 10 degree box, cache cleared."""
    times = []
    for _ in range(repeat):
        x, y = rng.uniform(-170, 160), rng.uniform(-70, 60)
        coverage_module._weights.cache_clear()
        t0 = time.perf_counter()
        region_weights(box(x, y, x + 10, y + 10), resolution)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "swaths"))
    parser.add_argument("--regions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--near-miss", type=int, default=0, metavar="N",
                        help="N regions per granule beside its data, reported apart")
    args = parser.parse_args()
    files = sorted(p for p in Path(args.data).iterdir() if p.name != "README.md")
    rng = np.random.default_rng(args.seed)
    total = {"tp": 0, "fn": 0, "fp": 0, "tn": 0, "no_pixel": 0}
    beside = {"regions": 0, "said_valid": 0}
    rows = []
    print(f"{'granule':44} {'pixels':>9} {'res':>3} {'cells':>6} {'bytes':>6} {'measure':>8} "
          f"{'pos':>4} {'neg':>4} {'recall':>7} {'FP':>6}")
    for path in files:
        meta = read_metadata(path)
        if meta.coverage is None:
            reason = meta.geolocation.get("coverage", {}).get("reason", "")
            print(f"{path.name[:44]:44} no coverage: {reason}")
            rows.append({"granule": path.name, "coverage": None, "reason": reason})
            continue
        cov = Coverage.decode(meta.coverage)
        px = read_pixels(path, meta.geolocation["coverage"]["variables"])
        t0 = time.perf_counter()
        measure(px.lon, px.lat, px.valid)
        measure_s = time.perf_counter() - t0
        hits = score(cov, px, random_regions(px, args.regions, rng))
        for key in total:
            total[key] += hits[key]
        recall, fp = rates(hits)
        row = {"granule": path.name, "pixels": len(px.lon), "resolution": cov.resolution,
               "cells": len(cov.cells), "blob_bytes": len(meta.coverage),
               "measure_s": round(measure_s, 3), **hits, "recall": recall, "fp_rate": fp}
        if args.near_miss:
            misses = near_misses(cov, px, args.near_miss, rng)
            said = sum(1 for r in misses if (region_fraction(
                cov, region_weights(r, cov.resolution)) or 0) >= 0.5)
            row.update(near_miss=len(misses), near_miss_said_valid=said)
            beside["regions"] += len(misses)
            beside["said_valid"] += said
        rows.append(row)
        print(f"{path.name[:44]:44} {len(px.lon):9d} {cov.resolution:3d} {len(cov.cells):6d} "
              f"{len(meta.coverage):6d} {measure_s:7.2f}s {hits['tp'] + hits['fn']:4d} "
              f"{hits['fp'] + hits['tn']:4d} {_pct(recall):>7} {_pct(fp):>6}")
    recall, fp = rates(total)
    summary = {"regions_per_granule": args.regions, "seed": args.seed, **total,
               "recall": recall, "fp_rate": fp,
               "weights_ms_10x10_res3": round(weights_ms(3, rng), 2),
               "weights_ms_10x10_res4": round(weights_ms(4, rng), 2)}
    if args.near_miss:
        summary["near_miss"] = beside
    print(f"overall: {total['tp'] + total['fn']} positive and {total['fp'] + total['tn']} "
          f"negative regions; recall {_pct(recall)}, false positives {_pct(fp)} "
          f"({total['fn']} missed, {total['fp']} wrongly found)")
    print(f"region_weights, 10 x 10 degree box, uncached: {summary['weights_ms_10x10_res3']} ms "
          f"at res 3, {summary['weights_ms_10x10_res4']} ms at res 4")
    if args.near_miss:
        print(f"near misses: {beside['said_valid']} of {beside['regions']} regions beside the "
              "data (no pixel inside) said >= 50 % valid")
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "coverage_accuracy.json").write_text(json.dumps(
        {"summary": summary, "granules": rows}, indent=1))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


if __name__ == "__main__":
    main()

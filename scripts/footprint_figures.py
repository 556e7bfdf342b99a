"""Print how well footprints fit their granules' science geolocation.

    .venv/bin/python scripts/footprint_figures.py                      # the 13 shared granules
    .venv/bin/python scripts/footprint_figures.py --file F.h5 --geo /g/lat:/g/lon [--track]

For each granule: the share of valid science points inside the footprint ingest makes
(tests/ingest/test_real_swaths.py wants >= 99.5 %) and the footprint's area over the area
the pixels cover (it wants <= 1.5), measured with that test's own helpers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.readers import read_metadata  # noqa: E402
from tests.ingest import test_real_swaths as real  # noqa: E402


def figures(path: Path, case: dict) -> tuple[int, float, float, float, str]:
    """Return (valid points, inside fraction, footprint km2, covered km2, footprint pairs)."""
    meta = read_metadata(path)
    used = " ".join(p["lat"] for p in meta.geolocation.get("pairs", []))
    if meta.footprint is None:
        return 0, float("nan"), 0.0, 0.0, used
    pairs = real._points(path, case)
    lon = np.concatenate([p[0].ravel() for p in pairs])
    lat = np.concatenate([p[1].ravel() for p in pairs])
    keep = np.isfinite(lon) & np.isfinite(lat)
    shapely.prepare(meta.footprint)
    inside = shapely.covers(meta.footprint, shapely.points(lon[keep], lat[keep])).mean()
    area = real._area_km2(meta.footprint)
    if case["kind"] == "swath":
        spacing = np.nanmedian([real._pixel_spacing_km(*p) for p in pairs])
        covered = real._covered_km2(lon[keep], lat[keep], 2.0 * spacing)
    else:
        half = meta.geolocation["margin_km"]
        covered = 0.0
        for plon, plat in pairs:
            ok = np.isfinite(plon.ravel())
            plon, plat = plon.ravel()[ok], plat.ravel()[ok]
            length = real.GEOD.inv(plon[:-1], plat[:-1], plon[1:], plat[1:])[2].sum() / 1000
            covered += 2 * half * length + np.pi * half**2
    return int(keep.sum()), float(inside), area, covered, used


def main() -> int:
    """Print one line per granule; exit 1 if any misses the test's figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swaths", type=Path, default=Path("/work/shared/data/swaths"),
                        help="directory of the shared granules")
    parser.add_argument("--file", type=Path, help="one granule instead of the shared ones")
    parser.add_argument("--geo", help="its science lat:lon paths, comma-separated")
    parser.add_argument("--track", action="store_true", help="1-D tracks (default: swath)")
    args = parser.parse_args()
    if args.file:
        geo = [tuple(item.split(":")) for item in (args.geo or "").split(",") if item]
        cases = {args.file.name: {"geo": geo, "kind": "track" if args.track else "swath",
                                  "h5fill": None}}
        root = args.file.parent
    else:
        cases = {k: v for k, v in real.CASES.items() if v["kind"] != "empty"}
        root = args.swaths
    bad = 0
    print(f"{'granule':60s} {'points':>7s} {'inside':>8s} {'area km2':>11s} "
          f"{'pixels km2':>11s} {'ratio':>6s}  footprint from")
    for name, case in cases.items():
        n, inside, area, covered, used = figures(root / name, case)
        ratio = area / covered if covered else float("nan")
        bad += not (inside >= 0.995 and ratio <= 1.5)
        print(f"{name[:60]:60s} {n:7d} {inside:8.4%} {area:11.0f} {covered:11.0f} "
              f"{ratio:6.2f}  {used}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

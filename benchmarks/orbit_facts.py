"""What the orbit facts cost a metadata read: the group attributes and ICESat-2 lineage
(ingest.readers.track.track_attrs) and the orbit-plane fit of a 1-D track
(ingest.readers.build._extrapolated_crossing), timed inside read_metadata over the
13 shared granules, in-process (no inspection child).

    .venv/bin/python benchmarks/orbit_facts.py [--repeat 5] [DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import ingest.readers.build as build  # noqa: E402
import ingest.readers.netcdf as netcdf  # noqa: E402
from ingest.readers import read_metadata  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "swaths"
spent: dict[str, float] = {"track_attrs": 0.0, "orbit-plane fit": 0.0}


def _timed(key: str, f: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return f(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - t0
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=SHARED)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    netcdf.track_attrs = _timed("track_attrs", netcdf.track_attrs)  # type: ignore[assignment]
    build._extrapolated_crossing = _timed(  # type: ignore[assignment]
        "orbit-plane fit", build._extrapolated_crossing)
    files = sorted(p for p in args.dir.iterdir() if p.suffix != ".md")
    for path in files:  # page cache and imports warm
        read_metadata(path)
    runs = []
    for _ in range(args.repeat):
        for key in spent:
            spent[key] = 0.0
        t0 = time.perf_counter()
        for path in files:
            read_metadata(path)
        runs.append((time.perf_counter() - t0, dict(spent)))
    total = statistics.median(r[0] for r in runs)
    print(f"{len(files)} files, read_metadata: median {total:.3f} s over {args.repeat} runs")
    for key in spent:
        part = statistics.median(r[1][key] for r in runs)
        print(f"  {key}: median {part * 1000:.1f} ms ({100 * part / total:.2f} %)")


if __name__ == "__main__":
    main()

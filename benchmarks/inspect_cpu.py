"""CPU seconds of read_metadata and of its footprint alone, per granule, in a warm process.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/inspect_cpu.py FILE_OR_DIR... [--repeat 7]

For example, on a synthetic 50 MB MODIS-like granule and the real test granules:

    .venv/bin/python -c "from ingest.synth import generate; generate('/tmp/fp-synth', count=1, \\
        size='50MB', seed=7, incompressible=True, compression=None)"
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/inspect_cpu.py /tmp/fp-synth \\
        /work/shared/data/swaths --repeat 7

Times are process CPU seconds (time.process_time), not wall time: the machine is shared
with other benchmarks and the S3 server, and CPU per file is what limits ingest throughput.
OPENBLAS_NUM_THREADS=1 matches the single-threaded numpy of an ingest child; set it
before starting Python (numpy reads it at import). Each file is read once untimed first
(warm caches, imports); the footprint is then timed on the very arrays the reader passed
to ingest.footprint.footprint on that first read.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest import footprint as footprint_module  # noqa: E402
from ingest.readers import build, gdal_reader, read_metadata  # noqa: E402

READERS_USING_FOOTPRINT = (build, gdal_reader)


def granules(paths: list[str]) -> list[Path]:
    """Return the files named, and the files inside directories named (README* skipped)."""
    out: list[Path] = []
    for name in paths:
        p = Path(name)
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir()
                              if f.is_file() and not f.name.startswith("README")))
        else:
            out.append(p)
    return out


def cpu_median(fn: Callable[[], object], repeat: int) -> float:
    """Return the median process CPU seconds of fn() over repeat calls."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def captured_footprint_args(path: Path) -> list[list]:
    """Read the granule once and return the argument lists each footprint() call got."""
    calls: list[list] = []
    real = footprint_module.footprint

    def spy(arrays, *args, **kwargs):
        arrays = list(arrays)
        calls.append(arrays)
        return real(arrays, *args, **kwargs)

    for module in READERS_USING_FOOTPRINT:
        module.footprint = spy
    try:
        read_metadata(path)
    finally:
        for module in READERS_USING_FOOTPRINT:
            module.footprint = real
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="granule files or directories of them")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per file (median)")
    args = parser.parse_args()
    print(f"{'file':60s} {'read_metadata s':>15s} {'footprint s':>12s}")
    for path in granules(args.paths):
        try:
            calls = captured_footprint_args(path)  # also the warm-up read
        except Exception as exc:  # noqa: BLE001 - report and go on with the other files
            print(f"{path.name[:60]:60s} error: {type(exc).__name__}: {exc}")
            continue
        read = cpu_median(lambda p=path: read_metadata(p), args.repeat)
        fp = cpu_median(lambda c=calls: [footprint_module.footprint(a) for a in c], args.repeat)
        print(f"{path.name[:60]:60s} {read:15.4f} {fp:12.4f}", flush=True)


if __name__ == "__main__":
    main()

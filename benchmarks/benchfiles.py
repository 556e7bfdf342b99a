"""Source files for benchmarks: random (incompressible) bytes, written once and reused."""

from __future__ import annotations

from pathlib import Path

MiB = 1024**2


def random_file(path: Path, size: int, seed: int) -> Path:
    """Return ``path`` holding ``size`` random bytes from ``seed``; write it if it is not there.

    The same seed and size give the same bytes, so runs on another day read the same data.
    """
    if path.exists() and path.stat().st_size == size:
        return path
    import numpy as np  # only when a file is missing: most runs reuse the kept ones

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        left = size
        while left:
            n = min(left, 64 * MiB)
            out.write(rng.bytes(n))
            left -= n
    tmp.rename(path)
    return path

"""Timing contenders against each other: runs in rotating order, summarised by the median."""

from __future__ import annotations

import statistics
from collections.abc import Callable

MB = 1_000_000


def race(names: list[str], repeat: int, contender: Callable[[str], float], total: int, *,
         label: str = "run", width: int = 40, rate_width: int = 6) -> dict[str, list[float]]:
    """Time ``contender(name)`` ``repeat`` times per name; return each name's seconds.

    Each repeat starts one name further on, so no contender always runs first on a cold
    cache or last on a warm one. Every run prints its seconds and MB/s over ``total`` bytes.
    """
    runs: dict[str, list[float]] = {n: [] for n in names}
    for rep in range(repeat):
        k = rep % len(names)
        for name in names[k:] + names[:k]:
            seconds = contender(name)
            runs[name].append(seconds)
            print(f"  {label} {rep + 1} {name:{width}s} {seconds:6.2f} s "
                  f"{total / MB / seconds:{rate_width}.0f} MB/s", flush=True)
    return runs


def summarise(runs: dict[str, list[float]], total: int) -> dict[str, dict]:
    """Return each name's median seconds, its MB/s over ``total`` bytes and its runs."""
    return {n: {"seconds": statistics.median(s), "MBps": total / MB / statistics.median(s),
                "runs": s} for n, s in runs.items()}

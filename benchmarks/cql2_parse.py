"""Parse cost of CQL2 filters: the cql2 package (this checkout) against the hand parser.

    .venv/bin/python benchmarks/cql2_parse.py [--baseline 172ffdf] [--repeat 7]

In one process, no database: for each filter below, the time of this checkout's
reading (api.cql2.read: the guards, cql2's parse and its JSON back in Python, as
compile_filter gets it) against the hand parser of commit --baseline (its
api/cql2/text.py, loaded from git; a JSON filter went to the compiler as sent
there). Contenders interleaved, --repeat rounds of enough calls for ~50 ms each;
prints the median microseconds per filter and writes benchmarks/out/cql2_parse.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SQUARE = "POLYGON((170 -1, 179 -1, 179 1, 170 1, 170 -1))"
RING = ", ".join(f"{i % 180} {i % 89}" for i in range(1000))
TEXT = {
    "comparison": "collection = 'modis-aqua-l2' AND sat:absolute_orbit > 105",
    "the STAC test's mix": "NOT collection <> 'modis-aqua-l2' AND (platform = 'aqua' OR "
                           f"platform = 'x') AND S_INTERSECTS(geometry, {SQUARE})",
    "temporal + IN": "T_INTERSECTS(datetime, INTERVAL('2024-03-02T00:00:00Z', "
                     "'2024-03-02T00:01:00Z')) AND collection IN ('a', 'b', 'c')",
    "IN of 100": "collection IN (" + ", ".join(f"'c{i}'" for i in range(100)) + ")",
    "polygon of 1,000 vertices": f"S_INTERSECTS(geometry, POLYGON(({RING}, 0 0)))",
    "refused: ends early": "collection = 'a' AND (platform = ",
}
JSON = {
    "json: comparison": {"op": "and", "args": [
        {"op": "=", "args": [{"property": "collection"}, "modis-aqua-l2"]},
        {"op": ">", "args": [{"property": "sat:absolute_orbit"}, 105]}]},
    "json: polygon of 1,000 vertices": {"op": "s_intersects", "args": [
        {"property": "geometry"}, {"type": "Polygon", "coordinates": [
            [[i % 180, i % 89] for i in range(1000)] + [[0, 0]]]}]},
}


def hand_parser(rev: str) -> Callable[[str], Any]:
    """parse_text of the hand parser at `rev`."""
    source = subprocess.run(["git", "show", f"{rev}:api/cql2/text.py"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout
    module = types.ModuleType("hand_text")
    exec(compile(source.replace("from api.cql2.compile import MAX_DEPTH", "MAX_DEPTH = 40"),
                 "hand_text.py", "exec"), module.__dict__)
    return module.parse_text


def per_call(fn: Callable[[], Any]) -> float:
    """Seconds per call over ~50 ms of calls (a refusal counts as a call)."""
    def once() -> None:
        try:
            fn()
        except ValueError:  # QueryError
            pass
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < 0.05 or n < 3:
        once()
        n += 1
    return (time.perf_counter() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="172ffdf", help="commit with the hand parser")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from api.cql2.read import parse_json, parse_text

    old = hand_parser(args.baseline)
    contenders: dict[str, dict[str, Callable[[], Any]]] = {}
    for label, text in TEXT.items():
        contenders[label] = {"hand": lambda t=text: old(t),
                             "cql2": lambda t=text: parse_json(parse_text(t))}
    for label, node in JSON.items():
        contenders[label] = {"hand": lambda: None, "cql2": lambda n=node: parse_json(n)}
    results = {}
    for label, pair in contenders.items():
        times: dict[str, list[float]] = {name: [] for name in pair}
        for i in range(args.repeat):
            for name in sorted(pair, reverse=i % 2 == 1):  # who goes first alternates
                times[name].append(per_call(pair[name]))
        med = {name: statistics.median(t) * 1e6 for name, t in times.items()}
        results[label] = med
        print(f"{label:34s} hand {med['hand']:9.1f} us   cql2 {med['cql2']:9.1f} us", flush=True)
    out = REPO / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "cql2_parse.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

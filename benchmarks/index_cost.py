"""What each of catalog_swath's indexes costs a raw COPY: the ceiling of catalog registration.

    .venv/bin/python benchmarks/index_cost.py [--rows 200000]

Uses catalog_register.py's manifest, plain table and index definitions (read from
pg_indexes of the migrated catalog in its database, so run `catalog_register.py` once
first): COPYs the same rows into the plain table with no index, with each index alone,
then with all of them, and prints seconds and rows/s for each. No loader can be faster
than the last line, whatever it does on the client.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import catalog_register as cr  # noqa: E402

COLUMNS = ("id", "uuid", "collection_id", "granule_id", "version", "filename", "format",
           "platform", "orbit", "start_time", "end_time", "footprint", "is_empty", "size",
           "sha256", "state", "updated_at")


def copy_with(conn, text: str, indexes: list[str]) -> float:
    """Return the seconds of one COPY of ``text`` into a fresh plain table with ``indexes``."""
    with conn, conn.cursor() as cur:
        cur.execute(cr.RAW_TABLE)
        for definition in indexes:
            cur.execute(definition)
    started = time.perf_counter()
    with conn, conn.cursor() as cur:
        cur.copy_from(io.StringIO(text), "raw_swath", columns=COLUMNS)
    return time.perf_counter() - started


def main() -> None:
    import psycopg2

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    manifest = cr.OUT / f"manifest-{args.rows}.jsonl"
    if not manifest.exists():
        cr.make_manifest(manifest, args.rows)
    text = cr.raw_copy_text(manifest)
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=cr.DB)
    with conn, conn.cursor() as cur:
        definitions = cr.equal_indexes(cur)
    if not definitions:
        raise SystemExit(f"no catalog_swath indexes in {cr.DB}: run catalog_register.py first")
    cases = [("no index", [])] + [
        (d.split(" ON ")[0].split()[-1].removeprefix("raw_"), [d]) for d in definitions
    ] + [("all indexes", definitions)]
    for label, indexes in cases:
        seconds = copy_with(conn, text, indexes)
        print(f"{seconds:6.2f} s {args.rows / seconds:9,.0f} rows/s  {label}", flush=True)
    conn.close()


if __name__ == "__main__":
    main()

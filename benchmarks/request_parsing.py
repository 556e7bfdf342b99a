"""Checking a search request: median time of each request model on a representative one.

    DATABASE_URL=... .venv/bin/python benchmarks/request_parsing.py

STAC GET and POST with a CQL2 filter, POST without one, and the REST list query, each
parsed into the SwathSearch the views run (no database access). Prints the median over
25 runs of 200 parses. Issue 19: request models against the hand-written parsers they
replaced (72/63/17/22 us against 54/48/11/24 us on the 2-core development machine).
"""

from __future__ import annotations

import os
import statistics
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from api.filters import SwathQuery  # noqa: E402
from api.stac.params import SearchBody, SearchQuery  # noqa: E402

WHEN = "2024-01-01T00:00:00Z/2024-01-31T00:00:00Z"
GET = {"bbox": "-10,-10,10,10", "datetime": WHEN, "collections": "modis-aqua-l2",
       "limit": "50", "sortby": "-datetime",
       "filter": "platform = 'aqua' AND sat:absolute_orbit > 10"}
PLAIN = {"bbox": [-10, -10, 10, 10], "datetime": WHEN, "collections": ["modis-aqua-l2"],
         "limit": 50}
POST = {**PLAIN, "sortby": [{"field": "datetime", "direction": "desc"}],
        "filter-lang": "cql2-json", "fields": {"include": ["id"], "exclude": []},
        "filter": {"op": "and", "args": [
            {"op": "=", "args": [{"property": "platform"}, "aqua"]},
            {"op": ">", "args": [{"property": "sat:absolute_orbit"}, 10]}]}}
REST = {"bbox": "-10,-10,10,10", "datetime": "2024-01-01/2024-01-31",
        "collection": "modis-aqua-l2", "limit": "50", "sortby": "-start_time",
        "fields": "uuid,start_time"}
CASES = {
    "STAC GET, CQL2 text": lambda: SearchQuery.parse(GET).search(),
    "STAC POST, CQL2 JSON": lambda: SearchBody.parse(POST).search(),
    "STAC POST, no filter": lambda: SearchBody.parse(PLAIN).search(),
    "REST GET": lambda: SwathQuery.parse(REST).search(),
}

if __name__ == "__main__":
    for name, parse in CASES.items():
        parse()
        runs = [timeit.timeit(parse, number=200) / 200 * 1e6 for _ in range(25)]
        print(f"{name:22s} median {statistics.median(runs):6.1f} us")

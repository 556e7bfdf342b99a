"""Requests an attacker or a careless client sends, for tests against a live server.

Each case is a request that once answered 500 (or pinned a worker), with the word its
error must name. tests/api/test_hostile_inputs.py sends them to gunicorn on PostGIS;
tests/test_embedded_hostile_inputs.py sends the filter cases to the embedded default.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

EDGE_DATETIMES = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]
DEGENERATE_WKT = "POLYGON((0 0,1 0,2 0,0 0))"
DEGENERATE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [2, 0], [0, 0]]]}
SQUARE = '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}'


@dataclass
class Answer:
    """What came back: status, Content-Type, parsed JSON (or None), seconds taken."""

    status: int
    content_type: str
    body: Any
    seconds: float
    raw: bytes = field(repr=False, default=b"")


@dataclass
class Case:
    """One request and the word its error must contain (the parameter at fault)."""

    name: str
    method: str
    path: str
    names: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: bool = False


def send(base: str, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 60) -> Answer:
    """One HTTP request; an error status is an Answer too, not an exception."""
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    hdrs.update(headers or {})
    request = urllib.request.Request(base + path, data=body, method=method, headers=hdrs)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            status, ctype, raw = r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        status, ctype, raw = e.code, e.headers.get("Content-Type", ""), e.read()
    seconds = time.monotonic() - started
    try:
        parsed = json.loads(raw) if "json" in ctype else None
    except ValueError:
        parsed = None
    return Answer(status, ctype, parsed, seconds, raw)


def q(**params: str) -> str:
    return "?" + urlencode(params)


def post(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def text_filter(cql2: str) -> bytes:
    """A STAC POST body carrying CQL2-text (too long for a URL)."""
    return post({"filter-lang": "cql2-text", "filter": cql2})


def nested(prefix: str, middle: str, suffix: str, n: int) -> str:
    return prefix * n + middle + suffix * n


def cases() -> list[Case]:
    """Every request of issue 25's item 4 that the API (not a download) answers."""
    out: list[Case] = []
    for dt in EDGE_DATETIMES:
        out += [
            Case(f"rest datetime {dt}", "GET", "/api/v1/swaths/" + q(datetime=dt), "datetime"),
            Case(f"stac datetime {dt}", "GET", "/stac/search" + q(datetime=dt), "datetime"),
            Case(f"cql2 timestamp {dt}", "GET",
                 "/stac/search" + q(filter=f"datetime > TIMESTAMP('{dt}')"), "filter"),
            Case(f"subset datetime {dt}", "POST", "/api/v1/subsets/", "datetime",
                 post({"bbox": [0, 0, 1, 1], "datetime": dt, "search": {}}), auth=True),
            Case(f"subset search datetime {dt}", "POST", "/api/v1/subsets/", "datetime",
                 post({"bbox": [0, 0, 1, 1], "search": {"datetime": dt}}), auth=True),
        ]
    out += [
        Case("rest degenerate WKT polygon", "GET",
             "/api/v1/swaths/" + q(intersects=DEGENERATE_WKT), "intersects"),
        Case("rest POST degenerate GeoJSON polygon", "POST", "/api/v1/swaths/search/",
             "intersects", post({"intersects": DEGENERATE})),
        Case("stac POST degenerate GeoJSON polygon", "POST", "/stac/search", "intersects",
             post({"intersects": DEGENERATE})),
        Case("cql2 s_intersects degenerate polygon", "GET",
             "/stac/search" + q(filter=f"S_INTERSECTS(geometry, {DEGENERATE_WKT})"), "filter"),
        Case("rest POINT(nan nan)", "GET", "/api/v1/swaths/" + q(intersects="POINT(nan nan)"),
             "intersects"),
        Case("cql2 POINT(nan nan)", "GET",
             "/stac/search" + q(filter="S_INTERSECTS(geometry, POINT(nan nan))"), "filter"),
        Case("cql2 text NOT x 3000", "POST", "/stac/search", "filter",
             text_filter("NOT " * 3000 + "collection = 'a'")),
        Case("cql2 text a( x 3000", "POST", "/stac/search", "filter", text_filter("a(" * 3000)),
        Case("cql2 text upper( x 3000", "POST", "/stac/search", "filter",
             text_filter("upper(" * 3000)),
        # The cql2 package's parser crashes the process on these (SIGSEGV) ...
        Case("cql2 text ( x 3000", "POST", "/stac/search", "filter",
             text_filter("(" * 3000 + "collection = 'a'" + ")" * 3000)),
        Case("cql2 text 1+1+... x 30,000", "POST", "/stac/search", "filter",
             text_filter('"file:size" > ' + "+".join(["1"] * 30_000))),
        Case("cql2 text = chained x 20,000", "POST", "/stac/search", "filter",
             text_filter("collection" + " = 'a'" * 20_000)),
        Case("cql2 text = chained x 300 (1,000 crash a thread of 2 MB of stack)", "POST",
             "/stac/search", "filter", text_filter("collection" + " = 'a'" * 300)),
        # ... and reads these again twice per level of parentheses (minutes).
        Case("cql2 text failing inside 30 parentheses", "POST", "/stac/search", "filter",
             text_filter("(" * 30 + "collection = " + ")" * 30)),
        Case("cql2 text failing inside 8 parentheses, 50,000 characters", "POST",
             "/stac/search", "filter",
             text_filter("(" * 8 + "collection = '" + "a" * 50_000 + "' AND" + ")" * 8)),
        Case("cql2 json not nested 900 deep", "POST", "/stac/search", "filter",
             ('{"filter": ' + nested('{"op": "not", "args": [',
                                     '{"op": "=", "args": [{"property": "collection"}, "a"]}',
                                     "]}", 900) + "}").encode()),
        Case("cql2 json not nested 45 deep", "POST", "/stac/search", "filter",
             ('{"filter": ' + nested('{"op": "not", "args": [',
                                     '{"op": "=", "args": [{"property": "collection"}, "a"]}',
                                     "]}", 45) + "}").encode()),
        Case("stac body of 50,000 [", "POST", "/stac/search", "body", b"[" * 50_000),
        Case("rest body of 50,000 [", "POST", "/api/v1/swaths/search/", "body", b"[" * 50_000),
        Case("subset body of 50,000 [", "POST", "/api/v1/subsets/", "body", b"[" * 50_000,
             auth=True),
        Case("subset body of 3 MB", "POST", "/api/v1/subsets/", "body",
             post({"search": {}, "geometry": "x" * 3_000_000}), auth=True),
        Case("subset geometry collection nested 3,000 deep", "POST", "/api/v1/subsets/",
             "geometry", ('{"search": {}, "geometry": ' + nested(
                 '{"type": "GeometryCollection", "geometries": [', SQUARE, "]}", 3000)
                          + "}").encode(), auth=True),
        Case("subset features nested 2,000 deep", "POST", "/api/v1/subsets/", "geometry",
             ('{"search": {}, "geometry": ' + nested(
                 '{"type": "FeatureCollection", "features": [',
                 '{"type": "Feature", "geometry": ' + SQUARE + "}", "]}", 2000)
              + "}").encode(), auth=True),
        Case("subset WKT collection nested 3,000 deep", "POST", "/api/v1/subsets/", "geometry",
             post({"search": {}, "geometry": nested("GEOMETRYCOLLECTION(", "POINT(0 0)", ")",
                                                    3000)}), auth=True),
        Case("cql2 json or of 999 terms", "POST", "/stac/search", "filter",
             post({"filter": {"op": "or", "args": [
                 {"op": "=", "args": [{"property": "collection"}, f"c{i}"]}
                 for i in range(999)]}})),
        Case("cql2 json or of 1,001 terms", "POST", "/stac/search", "filter",
             post({"filter": {"op": "or", "args": [
                 {"op": "=", "args": [{"property": "platform"}, f"p{i}"]}
                 for i in range(1001)]}})),
        Case("stac filter-crs an array", "POST", "/stac/search", "filter-crs",
             post({"filter-crs": [None, {"a": 1}]})),
        Case("stac filter-lang an object", "POST", "/stac/search", "filter-lang",
             post({"filter-lang": {"a": 1}, "filter": {"op": "=", "args": [1, 1]}})),
        Case("stac intersects type an array", "POST", "/stac/search", "intersects",
             post({"intersects": {"type": ["Polygon"], "coordinates": []}})),
        Case("products cursor p=abc", "GET", "/api/v1/products/?cursor=cD1hYmM=", "cursor",
             auth=True),
        Case("ingest-runs cursor p=abc", "GET", "/api/v1/ingest-runs/?cursor=cD1hYmM=",
             "cursor", auth=True),
        Case("cql2 integer literal of 5,000 digits", "POST", "/stac/search", "filter",
             text_filter('"file:size" > ' + "9" * 5000)),
        Case("cql2 json integer of 400 digits", "POST", "/stac/search", "filter",
             post({"filter": {"op": ">", "args": [{"property": "eo:cloud_cover"},
                                                  10**400]}})),
    ]
    return out


def warm_up(base: str, rounds: int = 2, threads: int = 8) -> None:
    """Send each worker thread of a fresh server the kinds of request the cases send.

    A gunicorn worker's first requests import and set up what they use (seconds on a
    loaded machine): the cases' one-second bound is about the request, not that.
    """
    from concurrent.futures import ThreadPoolExecutor

    paths = ["/stac/search?filter=collection%20LIKE%20'x%25'", "/api/v1/swaths/?bbox=0,0,1,1",
             "/api/v1/ingest-runs/", "/api/v1/subsets/", "/stac/search?datetime=x"]
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(rounds):
            list(pool.map(lambda p: send(base, "GET", p), paths * threads))
            list(pool.map(lambda _: send(base, "POST", "/stac/search", post(
                {"intersects": DEGENERATE})), range(threads)))


# Collection names and, for each LIKE pattern, the names it must match: the same on
# PostgreSQL and on SpatiaLite (case-sensitive, backslash escapes, runs of %).
LIKE_NAMES = ("aqua", "Aqua", "a%b", "a_b", "axb", "a\\b")
LIKE_EXPECTED = {
    "aqua": {"aqua"},
    "A%": {"Aqua"},
    "a_b": {"a%b", "a_b", "axb", "a\\b"},
    "a\\_b": {"a_b"},
    "a\\%b": {"a%b"},
    "a\\\\b": {"a\\b"},
    "%%%%%%%%%%%%%%%b": {"a%b", "a_b", "axb", "a\\b"},
}


def assert_like_rules(matching: Callable[[str], set[str]]) -> None:
    """Each LIKE_EXPECTED pattern finds exactly its collections through ``matching``."""
    for pattern, expected in LIKE_EXPECTED.items():
        assert matching(pattern) == expected, pattern


def store_bytes(store: Any, row: Any, data: bytes) -> None:
    """Give catalog row ``row`` a VERIFIED copy of ``data`` in ``store`` (downloads, Range)."""
    import hashlib
    import io

    from catalog.models import StoredObject, Swath

    digest = hashlib.sha256(data).hexdigest()
    Swath.objects.filter(pk=row.pk).update(size=len(data), sha256=digest)
    key = f"swaths/{row.uuid}/a.nc"
    stored = store.put(key, io.BytesIO(data), size=len(data), codec="none", sha256=digest)
    StoredObject.objects.create(swath=row, store="primary", key=key, codec="none",
                                size=len(data), stored_size=stored.stored_size, sha256=digest,
                                state="VERIFIED")

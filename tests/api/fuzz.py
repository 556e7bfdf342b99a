"""Requests that grow without bound: nesting depth, literal length, term counts.

Each grower makes the n-th request of its kind; `grow` doubles n until the server
answers 4xx (a limit named in the answer) and fails on any 5xx on the way, or on a
grower that never meets a limit. Used against gunicorn on PostGIS
(tests/api/test_fuzz_limits.py) and against the embedded default
(tests/test_embedded_hostile_inputs.py).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass

from tests.api.hostile import Answer, post, send, text_filter

MAX_N = 2**17  # 131,072: past every limit (and past a 2 MB body for most growers)
MAX_SECONDS = 5.0  # generous: the statement timeout is 5 s; every limit answers in ms


@dataclass
class Grown:
    """The n at which the first 4xx came, and what it said."""

    name: str
    n: int
    answer: Answer


Request = tuple[str, str, bytes | None, dict[str, str]]  # method, path, body, headers


def _stac(body: bytes) -> Request:
    return "POST", "/stac/search", body, {}


def _cql2_json(expr: str) -> Request:
    return _stac(('{"filter": ' + expr + "}").encode())


EQ = '{"op": "=", "args": [{"property": "collection"}, "c%d"]}'


def growers(swath_uuid: str | None = None, token: str | None = None
            ) -> dict[str, tuple[Callable[[int], Request], str]]:
    """Name -> (n -> request, the word the limit's error names).

    With a swath uuid and a token, downloads and subset bodies grow too.
    """
    out: dict[str, tuple[Callable[[int], Request], str]] = {
        "cql2 text NOT depth": (
            lambda n: _stac(text_filter("NOT " * n + "collection = 'a'")), "filter"),
        "cql2 text parenthesis depth": (
            lambda n: _stac(text_filter("(" * n + "collection = 'a'" + ")" * n)), "filter"),
        "cql2 text call depth": (lambda n: _stac(
            text_filter("collection = " + "upper(" * n + "'a'" + ")" * n)), "nests deeper"),
        "cql2 text OR terms": (lambda n: _stac(
            text_filter(" OR ".join(f"collection = 'c{i}'" for i in range(n)))), "filter"),
        "cql2 text AND terms": (lambda n: _stac(
            text_filter(" AND ".join(f'"sat:absolute_orbit" > {i}' for i in range(n)))),
            "filter"),
        "cql2 text IN values": (lambda n: _stac(text_filter(
            "collection IN (" + ", ".join(f"'c{i}'" for i in range(n)) + ")")), "filter"),
        "cql2 number literal digits": (lambda n: _stac(
            text_filter('"file:size" > ' + "9" * n)), "filter"),
        "cql2 string literal length": (lambda n: _stac(
            text_filter("collection = '" + "a" * n + "'")), "filter"),
        "cql2 LIKE pattern length": (lambda n: _stac(
            text_filter("collection LIKE '" + "%x" * n + "'")), "LIKE pattern"),
        "cql2 json not depth": (lambda n: _cql2_json(
            '{"op": "not", "args": [' * n + EQ % 0 + "]}" * n), "nests deeper"),
        "cql2 json or terms": (lambda n: _cql2_json(
            '{"op": "or", "args": [' + ", ".join(EQ % i for i in range(max(n, 2))) + "]}"),
            "terms"),
        "cql2 json or nested in or": (lambda n: _cql2_json(
            '{"op": "or", "args": [' * n + EQ % 0 + ", " + EQ % 1 + "]}"
            + (", " + EQ % 2 + "]}") * (n - 1)), "filter"),
        "cql2 json filter text depth": (lambda n: _stac(post({
            "filter-lang": "cql2-json", "filter": "[" * n + "]" * n})), "nests deeper"),
        "json body depth (STAC)": (lambda n: _stac(
            b'{"filter": ' + b"[" * n + b"]" * n + b"}"), "nests deeper"),
        "json body depth (REST)": (lambda n: (
            "POST", "/api/v1/swaths/search/", b'{"x": ' + b"[" * n + b"]" * n + b"}", {}),
            "nests deeper"),
        "WKT nesting (REST intersects)": (lambda n: (
            "POST", "/api/v1/swaths/search/",
            post({"intersects": "GEOMETRYCOLLECTION(" * n + "POINT(0 0)" + ")" * n}), {}),
            "intersects nests deeper"),
        "polygon vertices (STAC intersects)": (lambda n: _stac(post({"intersects": {
            "type": "Polygon", "coordinates": [
                [[i / (n + 3) * 10, (i % 2) * 0.1] for i in range(n + 3)] + [[0, 0]]]}})),
            "vertices"),
        "ids count": (lambda n: _stac(post({"ids": [f"id{i}" for i in range(n)]})), "ids"),
        "sortby keys": (lambda n: _stac(post({"sortby": [
            {"field": "datetime", "direction": "desc"}] * n})), "sortby"),
        "datetime fraction digits": (lambda n: (
            "GET", "/stac/search?datetime=2024-01-01T00:00:00." + "1" * n + "Z", None, {}),
            "datetime"),
        "limit digits": (lambda n: ("GET", "/api/v1/swaths/?limit=" + "9" * n, None, {}),
                         "limit"),
        "bbox number digits": (lambda n: (
            "GET", "/api/v1/swaths/?bbox=" + "1" * n + ",0,1,1", None, {}), "bbox"),
        "next token length": (lambda n: (
            "GET", "/stac/search?token=" + "eyJ2Ijo" + "A" * n, None, {}), "next token"),
        "REST cursor position digits": (lambda n: (
            "GET", "/api/v1/ingest-runs/?cursor="
            + base64.b64encode(b"p=" + b"9" * n).decode(), None, {}), "cursor"),
    }
    if swath_uuid is not None:
        out["Range digits"] = (lambda n: (
            "GET", f"/api/v1/swaths/{swath_uuid}/download", None,
            {"Range": "bytes=" + "9" * n + "-"}), "Range")
    if token is not None:
        auth = {"Authorization": f"Token {token}"}
        poly = '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}'
        # No swath matches the search: every answer is a 4xx, the geometry's own limit
        # being the one that names it.
        out["subset feature nesting"] = (lambda n: (
            "POST", "/api/v1/subsets/", ('{"search": {"collections": ["none"]}, "geometry": '
                                         + '{"type": "FeatureCollection", "features": [' * n
                                         + poly + "]}" * n + "}").encode(), auth),
            "nests deeper")
        out["subset WKT nesting"] = (lambda n: (
            "POST", "/api/v1/subsets/", post({"search": {"collections": ["none"]},
                                              "geometry": "GEOMETRYCOLLECTION(" * n
                                              + "POLYGON((0 0, 1 0, 1 1, 0 0))" + ")" * n}),
            auth), "nests deeper")
    return out


def grow(base: str, name: str, make: Callable[[int], Request], word: str) -> Grown:
    """Double n from 1 until a 4xx naming `word` (or a 413/414 size limit).

    AssertionError on any 5xx, an answer slower than MAX_SECONDS, or no limit met by
    MAX_N. A 4xx that names something else (a search matching nothing) lets n grow on.
    """
    n = 1
    while n <= MAX_N:
        method, path, body, headers = make(n)
        answer = send(base, method, path, body, headers)
        assert answer.status < 500, f"{name} at n={n}: {answer.status} {answer.raw[:300]!r}"
        assert answer.seconds < MAX_SECONDS, f"{name} at n={n}: {answer.seconds:.1f} s"
        error = answer.body.get("error", "") if isinstance(answer.body, dict) else ""
        if answer.status in (413, 414) or (answer.status >= 400 and word in error):
            return Grown(name, n, answer)
        n *= 2
    raise AssertionError(f"{name}: no limit naming {word!r} met up to n={MAX_N}")


def grow_all(base: str, swath_uuid: str | None = None, token: str | None = None
             ) -> list[Grown]:
    """grow() for every grower; the failures of all of them in one AssertionError."""
    results, failures = [], []
    for name, (make, word) in growers(swath_uuid, token).items():
        try:
            results.append(grow(base, name, make, word))
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures)
    return results


def summary(results: list[Grown]) -> str:
    """One line per grower: where its limit was met and what the answer said."""
    lines = []
    for r in results:
        error = r.answer.body.get("error", "") if isinstance(r.answer.body, dict) else ""
        lines.append(f"{r.name:38s} n={r.n:<7d} {r.answer.status} {json.dumps(error)[:90]}")
    return "\n".join(lines)

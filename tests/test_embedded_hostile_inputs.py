"""Issue 25 on the embedded default (SpatiaLite): the hostile inputs, the growing limits,
the LIKE filter that once pinned a worker, and the time limit on each statement.

The server is gunicorn over a fresh var/ (SpatiaLite, a directory store, tasks in
process), with API_STATEMENT_TIMEOUT_MS at its minimum of 100 ms so a slow filter is
cheap to make: 1,500 swaths and a search whose every row costs an intersection with
a 5,000-vertex polygon.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.api import fuzz, hostile
from tests.conftest import REPO, embedded_env, free_port, manage_py, stop_process, wait_for_port

# serial: statement time limits of 0.1 s and answers within a second are asserted.
pytestmark = [pytest.mark.slow, pytest.mark.serial]
ROWS = 1500
SETUP = f"""
from datetime import UTC, datetime, timedelta
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from catalog.geometry import bbox_geometry
from catalog.models import Collection, Swath
t0 = datetime(2024, 1, 1, tzinfo=UTC)
names = ["modis-aqua-l2", "aqua", "Aqua", "a%b", "a_b", "axb", "a\\\\b"]
colls = [Collection.objects.create(slug=n, title=n) for n in names]
rows = []
for i in range({ROWS}):
    west = (i * 7) % 350 - 175
    rows.append(Swath(collection=colls[i % len(colls)], granule_id=f"g{{i}}",
                      filename=f"g{{i}}.nc", footprint=bbox_geometry(west, -20, west + 4, 20),
                      start_time=t0 + timedelta(minutes=i),
                      end_time=t0 + timedelta(minutes=i + 5), state="VERIFIED", size=i,
                      platform="aqua", sha256=f"{{i:064x}}"))
Swath.objects.bulk_create(rows, batch_size=500)
print(Token.objects.create(user=User.objects.create_user("prober", is_staff=True)).key)
"""


@dataclass
class Embedded:
    url: str
    token: str


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    """gunicorn on the embedded default, with ROWS swaths in seven collections."""
    var = tmp_path_factory.mktemp("embedded-hostile")
    env = embedded_env(var, API_STATEMENT_TIMEOUT_MS="100",
                       API_THROTTLE_ANON="1000000/minute", API_THROTTLE_USER="1000000/minute")
    manage_py(env, "migrate", "--no-input", "-v0", timeout=600)
    token = manage_py(env, "shell", "-c", SETUP, timeout=600).strip().splitlines()[-1]
    port = free_port()
    log = open(var / "gunicorn.log", "wb")  # noqa: SIM115 - closed after the server
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi",
         "-c", "config/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--timeout", "60"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, 30, server)
        url = f"http://127.0.0.1:{port}"
        hostile.warm_up(url, rounds=1, threads=4)
        yield Embedded(url, token)
    finally:
        stop_process(server, 15)
        log.close()


def test_every_hostile_input_gets_a_json_4xx_naming_the_parameter_on_spatialite(
        embedded: Embedded) -> None:
    failures = []
    for case in hostile.cases():
        headers = {"Authorization": f"Token {embedded.token}"} if case.auth else {}
        answer = hostile.send(embedded.url, case.method, case.path, case.body, headers)
        ok = (400 <= answer.status < 500 and "json" in answer.content_type
              and isinstance(answer.body, dict) and case.names in answer.body["error"]
              and answer.seconds < 1.0)
        if not ok:
            failures.append(f"{case.name}: {answer.status} {answer.seconds:.2f} s "
                            f"{answer.raw[:200]!r}")
    assert not failures, "\n".join(failures)


def test_growing_requests_meet_a_named_4xx_and_never_a_5xx_on_spatialite(
        embedded: Embedded) -> None:
    results = fuzz.grow_all(embedded.url, token=embedded.token)
    # SQLite refuses an expression nested past 1,000 ("Expression tree is too large"):
    # the term limit is met first.
    terms = next(r for r in results if r.name == "cql2 json or terms")
    assert "more than 250 terms" in terms.answer.body["error"]


def test_a_like_filter_of_15_percent_signs_answers_within_the_time_limit(
        embedded: Embedded) -> None:
    answer = hostile.send(embedded.url, "GET", "/stac/search" + hostile.q(
        filter="collection LIKE '" + "%" * 15 + "x'"))
    assert answer.status == 200 and answer.body["features"] == []
    assert answer.seconds < 1.0
    # The same pattern on the collections' own column (more than MAX_LIST_ITEMS
    # collections would put it there) through SQLite's GLOB.
    answer = hostile.send(embedded.url, "POST", "/stac/search",
                          hostile.text_filter("collection LIKE '%%%%%%%%%%%%%%%a%'"))
    assert answer.status == 200 and answer.seconds < 1.0


def test_like_is_case_sensitive_and_honours_escapes_on_spatialite(embedded: Embedded) -> None:
    def matching(pattern: str) -> set[str]:
        answer = hostile.send(embedded.url, "POST", "/stac/search", hostile.post(
            {"filter-lang": "cql2-text", "filter": f"collection LIKE '{pattern}'",
             "limit": 1000}))
        assert answer.status == 200, answer.body
        return {f["collection"] for f in answer.body["features"]}

    hostile.assert_like_rules(matching)


def star(vertices: int, spin: float = 0.0) -> dict:
    """A valid star polygon over the swaths' band, `vertices` points, rotated by `spin`."""
    ring = []
    for i in range(vertices):
        a = 2 * math.pi * i / vertices + spin
        r = 80 if i % 2 == 0 else 60
        ring.append([round(max(-179.0, min(179.0, 2 * r * math.cos(a))), 6),
                     round(0.9 * r * math.sin(a), 6)])
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


def test_a_slow_filter_is_stopped_at_the_statement_time_limit(embedded: Embedded) -> None:
    # Sorted by an unindexed column, the page's statement tests every row against
    # three 5,000-vertex stars (AND: most rows meet all three, so each is tested
    # against every star): 30 s of work here without a limit, which 100 ms interrupts.
    body = {"filter": {"op": "and", "args": [
        {"op": "s_intersects", "args": [{"property": "geometry"}, star(5000, k / 10)]}
        for k in range(3)]}, "sortby": [{"field": "file:size", "direction": "asc"}],
        "limit": 1}
    answer = hostile.send(embedded.url, "POST", "/stac/search", json.dumps(body).encode())
    assert answer.status == 400, answer.raw[:300]
    assert "took longer than 0.1 s" in answer.body["error"]
    assert answer.seconds < 2.0  # parsing 15,000 vertices included
    # The server is free again at once.
    assert hostile.send(embedded.url, "GET", "/stac/search?limit=1").status == 200

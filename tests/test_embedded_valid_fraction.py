"""Valid-fraction search on the embedded default (SpatiaLite): the swaths the estimator passes.

A `manage.py shell` over a fresh var/ (SpatiaLite) writes tests.api.coverage_rows' rows,
asks REST and STAC through Django's test client, and prints each answer beside the brute
force over all rows (tests/api/test_valid_fraction.py does the same on PostGIS).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import embedded_env, manage_py

pytestmark = pytest.mark.slow  # a SpatiaLite migrate: about 15 s
SCRIPT = """
import json
from django.test import Client
from django.test.utils import override_settings
from tests.api.coverage_rows import brute_force, make_rows, region_of
make_rows()
c = Client()
tri = {"type": "Polygon", "coordinates": [[[0, 0], [20, 0], [10, 18], [0, 0]]]}
out = {}
def fractions(r, key):
    body = r.json()
    return [r.status_code, {f["id"]: f["properties"].get(key) for f in body["features"]},
            body.get("numberMatched")]
out["rest"] = fractions(c.get("/api/v1/swaths/", {"bbox": "0,0,20,20", "limit": 100,
                        "valid_fraction_min": 0.5}), "valid_fraction") + [
    brute_force(region_of([0, 0, 20, 20]), lo=0.5)]
out["stac"] = fractions(c.get("/stac/search", {"bbox": "170,-5,-170,5", "limit": 100,
                        "filter": "swathstore:valid_fraction >= 0.3"}),
                        "swathstore:valid_fraction") + [
    brute_force(region_of([170, -5, -170, 5]), lo=0.3)]
out["post"] = fractions(c.post("/stac/search", {"intersects": tri, "limit": 100, "filter": {
    "op": "between", "args": [{"property": "swathstore:valid_fraction"}, 0.2, 0.7]}},
    content_type="application/json"), "swathstore:valid_fraction") + [
    brute_force(region_of(None, tri), lo=0.2, hi=0.7)]
ids, params = [], {"bbox": "0,0,20,20", "valid_fraction_min": 0.3, "limit": 4,
                   "sortby": "-valid_fraction"}
page = c.get("/api/v1/swaths/", params).json()
while True:
    ids += [[f["id"], f["properties"]["valid_fraction"]] for f in page["features"]]
    if "next" not in page:
        break
    page = c.get("/api/v1/swaths/", {**params, "next": page["next"]}).json()
out["pages"] = [ids, brute_force(region_of([0, 0, 20, 20]), lo=0.3)]
with override_settings(SEARCH_COVERAGE_MAX_CANDIDATES=5):
    r = c.get("/api/v1/swaths/", {"bbox": "0,0,20,20", "valid_fraction_min": 0.5})
    out["guard"] = [r.status_code, r.json()]
print("RESULT " + json.dumps(out))
"""


def _same(got: dict, want: dict) -> bool:
    return got.keys() == want.keys() and all(
        (got[k] is None) == (want[k] is None) and (want[k] is None or
                                                   abs(got[k] - want[k]) < 1e-6)
        for k in want)


def test_spatialite_keeps_exactly_the_swaths_the_estimator_passes(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    manage_py(env, "migrate", "--no-input", "-v0", timeout=600)
    out = json.loads(manage_py(env, "shell", "-c", SCRIPT, timeout=300).split("RESULT ", 1)[1])
    for face in ("rest", "stac", "post"):
        status, got, matched, want = out[face]
        assert status == 200, (face, got)
        assert want and _same(got, want), face
        assert matched == len(want), face
    ids, want = out["pages"]
    assert len(ids) == len({i for i, _ in ids}) and {i for i, _ in ids} == set(want)
    fractions = [f for _, f in ids]
    assert fractions == sorted(fractions, reverse=True)
    status, body = out["guard"]
    assert status == 400 and "SEARCH_COVERAGE_MAX_CANDIDATES" in body["error"], body

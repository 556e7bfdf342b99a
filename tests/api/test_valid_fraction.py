"""Search by the valid fraction over the query region (REST valid_fraction, STAC
swathstore:valid_fraction): exactly the swaths the estimator says, through every face,
sorted, paged, with every bad request a 400 that says why.

The rows are tests.api.coverage_rows' (coverage blobs as ingest stores them); the oracle
is its brute force over all rows. The embedded default (SpatiaLite) runs the same rows
and requests in tests/test_embedded_valid_fraction.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.api.coverage_rows import T0, brute_force, make_rows, region_of

pytestmark = pytest.mark.django_db

TRIANGLE = {"type": "Polygon", "coordinates": [[[0, 0], [20, 0], [10, 18], [0, 0]]]}
WEST = {"type": "Polygon", "coordinates": [[[-12, -12], [2, -12], [2, 4], [-12, 4], [-12, -12]]]}
# (label, REST area parameters, STAC area parameters (GET), POST area, oracle region)
AREAS = [
    ("bbox", {"bbox": "0,0,20,20"}, {"bbox": "0,0,20,20"}, {"bbox": [0, 0, 20, 20]},
     region_of([0, 0, 20, 20])),
    ("intersects", {"intersects": json.dumps(TRIANGLE)},
     {"intersects": json.dumps(TRIANGLE)}, {"intersects": TRIANGLE}, region_of(None, TRIANGLE)),
    ("antimeridian", {"bbox": "170,-5,-170,5"}, {"bbox": "170,-5,-170,5"},
     {"bbox": [170, -5, -170, 5]}, region_of([170, -5, -170, 5])),
    ("none", {}, {}, {}, None),
]


@pytest.fixture
def rows() -> list[str]:
    return make_rows()


@pytest.fixture
def client() -> APIClient:
    c = APIClient()
    c.force_authenticate(User.objects.create_user("coverer"))
    return c


def _rest_post_area(area: dict[str, Any]) -> dict[str, Any]:
    out = dict(area)
    if "intersects" in out:
        out["intersects"] = json.loads(out["intersects"])
    return out


def _fractions(features: list[dict[str, Any]], key: str) -> dict[str, float | None]:
    return {f["id"]: f["properties"][key] for f in features}


def _close(got: dict[str, float | None], want: dict[str, float | None]) -> bool:
    return got.keys() == want.keys() and all(
        (got[k] is None) == (want[k] is None) and (want[k] is None or
                                                   abs(got[k] - want[k]) < 1e-6)  # type: ignore[operator]
        for k in want)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
@pytest.mark.parametrize(("label", "rest", "stac", "post", "region"), AREAS,
                         ids=[a[0] for a in AREAS])
def test_every_face_keeps_exactly_the_swaths_the_estimator_passes(
        client: APIClient, rows: list[str], label: str, rest: dict[str, str],
        stac: dict[str, str], post: dict[str, Any], region: Any, threshold: float) -> None:
    want = brute_force(region, lo=threshold)
    assert want, "the case selects some swaths"  # and, below, not all of them
    assert len(want) < len(brute_force(region)), "the bound removes some swaths"
    text = f"swathstore:valid_fraction >= {threshold}"
    cql2 = {"op": ">=", "args": [{"property": "swathstore:valid_fraction"}, threshold]}
    answers = {
        "REST GET min": (client.get("/api/v1/swaths/", {
            **rest, "valid_fraction_min": threshold, "limit": 100}), "valid_fraction"),
        "REST GET range": (client.get("/api/v1/swaths/", {
            **rest, "valid_fraction": f"{threshold}..", "limit": 100}), "valid_fraction"),
        "REST POST": (client.post("/api/v1/swaths/search/", {
            **_rest_post_area(rest), "valid_fraction": threshold, "limit": 100},
            format="json"), "valid_fraction"),
        "STAC GET text": (client.get("/stac/search", {**stac, "filter": text, "limit": 100}),
                          "swathstore:valid_fraction"),
        "STAC GET json": (client.get("/stac/search", {
            **stac, "filter": json.dumps(cql2), "filter-lang": "cql2-json", "limit": 100}),
            "swathstore:valid_fraction"),
        "STAC POST": (client.post("/stac/search", {**post, "filter": cql2, "limit": 100},
                                  format="json"), "swathstore:valid_fraction"),
        "STAC items": (client.get("/stac/collections/cover/items", {
            **stac, "filter": text, "limit": 100}), "swathstore:valid_fraction"),
    }
    for face, (response, key) in answers.items():
        assert response.status_code == 200, (face, response.content[:300])
        body = response.json()
        assert _close(_fractions(body["features"], key), want), face
        assert body["numberMatched"] == len(want), face


CQL2_FORMS = [  # (text, JSON, lo, hi); strict bounds are checked against the oracle's
    ("swathstore:valid_fraction BETWEEN 0.2 AND 0.6",
     {"op": "between", "args": [{"property": "swathstore:valid_fraction"}, 0.2, 0.6]}, 0.2, 0.6),
    ("swathstore:valid_fraction < 0.4",
     {"op": "<", "args": [{"property": "swathstore:valid_fraction"}, 0.4]}, None, 0.4),
    ("swathstore:valid_fraction > 0.4 AND swathstore:valid_fraction <= 0.9",
     {"op": "and", "args": [
         {"op": ">", "args": [{"property": "swathstore:valid_fraction"}, 0.4]},
         {"op": "<=", "args": [{"property": "swathstore:valid_fraction"}, 0.9]}]}, 0.4, 0.9),
    ("collection = 'cover' AND (swathstore:valid_fraction >= 0.5 AND "
     "datetime >= TIMESTAMP('2024-03-02T00:00:00Z'))",
     {"op": "and", "args": [
         {"op": "=", "args": [{"property": "collection"}, "cover"]},
         {"op": "and", "args": [
             {"op": ">=", "args": [{"property": "swathstore:valid_fraction"}, 0.5]},
             {"op": ">=", "args": [{"property": "datetime"},
                                   {"timestamp": "2024-03-02T00:00:00Z"}]}]}]}, 0.5, None),
]


@pytest.mark.parametrize(("text", "cql2", "lo", "hi"), CQL2_FORMS, ids=[c[0] for c in CQL2_FORMS])
def test_cql2_forms_text_and_json_agree_with_the_oracle(
        client: APIClient, rows: list[str], text: str, cql2: dict[str, Any],
        lo: float | None, hi: float | None) -> None:
    region = region_of([0, 0, 20, 20])
    want = brute_force(region, lo=lo, hi=hi)
    if "datetime" in text:
        cut = datetime(2024, 3, 2, tzinfo=UTC)
        want = {k: v for k, v in want.items() if k in _started_from(cut)}
    # strict bounds: the oracle's closed range less the rows exactly on a strict end
    if "<" in text and "<=" not in text:
        want = {k: v for k, v in want.items() if v != hi}
    if "> 0.4" in text:
        want = {k: v for k, v in want.items() if v != lo}
    get = client.get("/stac/search", {"bbox": "0,0,20,20", "filter": text, "limit": 100})
    post = client.post("/stac/search", {"bbox": [0, 0, 20, 20], "filter": cql2, "limit": 100},
                       format="json")
    for face, response in (("GET", get), ("POST", post)):
        assert response.status_code == 200, (face, response.content[:300])
        assert _close(_fractions(response.json()["features"], "swathstore:valid_fraction"),
                      want), face


def _started_from(cut: Any) -> set[str]:
    from catalog.models import Swath
    return {str(u) for u in Swath.objects.filter(start_time__gte=cut).values_list(
        "uuid", flat=True)}


def _walk_rest(client: APIClient, params: dict[str, Any]) -> tuple[list[dict], set[int]]:
    feats, matched = [], set()
    page = client.get("/api/v1/swaths/", params).json()
    while True:
        feats += page["features"]
        matched.add(page["numberMatched"])
        assert len(page["features"]) == params["limit"] or "next" not in page  # no short page
        if "next" not in page:
            return feats, matched
        page = client.get("/api/v1/swaths/", {**params, "next": page["next"]}).json()


def _walk_stac_get(client: APIClient, params: dict[str, Any]) -> list[dict]:
    feats = []
    r = client.get("/stac/search", params)
    while True:
        body = r.json()
        feats += body["features"]
        nxt = [link for link in body["links"] if link["rel"] == "next"]
        if not nxt:
            return feats
        assert len(body["features"]) == params["limit"]
        r = client.get(nxt[0]["href"])


def _walk_stac_post(client: APIClient, body: dict[str, Any]) -> list[dict]:
    feats = []
    r = client.post("/stac/search", body, format="json")
    while True:
        page = r.json()
        feats += page["features"]
        nxt = [link for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            return feats
        r = client.post("/stac/search", nxt[0]["body"], format="json")


@pytest.mark.parametrize("sortby", ["-valid_fraction", "valid_fraction", "-start_time"])
def test_pages_walk_every_match_once_in_order(client: APIClient, rows: list[str],
                                              sortby: str) -> None:
    region = region_of([0, 0, 20, 20])
    want = brute_force(region, lo=0.3)
    feats, matched = _walk_rest(client, {"bbox": "0,0,20,20", "valid_fraction_min": 0.3,
                                         "sortby": sortby, "limit": 4})
    ids = [f["id"] for f in feats]
    assert len(ids) == len(set(ids)) and set(ids) == set(want)
    assert matched == {len(want)}  # numberMatched true and the same on every page
    whole = client.get("/api/v1/swaths/", {"bbox": "0,0,20,20", "valid_fraction_min": 0.3,
                                           "sortby": sortby, "limit": 100}).json()
    assert [f["id"] for f in whole["features"]] == ids  # the pages are the one list, cut
    fractions = [f["properties"]["valid_fraction"] for f in feats]
    if sortby == "-valid_fraction":
        assert fractions == sorted(fractions, reverse=True)
    elif sortby == "valid_fraction":
        assert fractions == sorted(fractions)
    else:
        starts = [f["properties"]["start_time"] for f in feats]
        assert starts == sorted(starts, reverse=True)
    stac_sort = sortby.replace("valid_fraction", "swathstore:valid_fraction").replace(
        "start_time", "datetime")
    get = _walk_stac_get(client, {"bbox": "0,0,20,20", "sortby": stac_sort, "limit": 4,
                                  "filter": "swathstore:valid_fraction >= 0.3"})
    post = _walk_stac_post(client, {
        "bbox": [0, 0, 20, 20], "limit": 4,
        "sortby": [{"field": stac_sort.lstrip("-"),
                    "direction": "desc" if stac_sort.startswith("-") else "asc"}],
        "filter": {"op": ">=", "args": [{"property": "swathstore:valid_fraction"}, 0.3]}})
    assert [f["id"] for f in get] == ids
    assert [f["id"] for f in post] == ids


def test_sorting_alone_keeps_unknown_coverage_and_carries_the_fraction(
        client: APIClient, rows: list[str]) -> None:
    region = region_of([0, 0, 20, 20])
    want = brute_force(region)
    assert None in want.values()  # rows of unknown coverage, and one with no pixel there
    body = client.get("/api/v1/swaths/", {"bbox": "0,0,20,20", "sortby": "-valid_fraction",
                                          "limit": 100}).json()
    got = _fractions(body["features"], "valid_fraction")
    assert _close(got, want)
    fractions = list(got.values())
    nulls = sum(f is None for f in fractions)
    assert all(f is None for f in fractions[:nulls])  # NULLs first descending, as elsewhere
    assert fractions[nulls:] == sorted(fractions[nulls:], reverse=True)
    # Without the filter or the sort, items carry no fraction (it costs the blobs' read).
    plain = client.get("/stac/search", {"bbox": "0,0,20,20"}).json()
    assert all("swathstore:valid_fraction" not in f["properties"] for f in plain["features"])


def test_a_filter_never_passes_unknown_coverage(client: APIClient, rows: list[str]) -> None:
    body = client.get("/api/v1/swaths/", {"valid_fraction_min": 0, "limit": 100}).json()
    want = brute_force(None, lo=0)
    assert _close(_fractions(body["features"], "valid_fraction"), want)
    from catalog.models import Swath
    assert Swath.objects.filter(coverage__isnull=True).exists()
    assert not {str(u) for u in Swath.objects.filter(coverage__isnull=True).values_list(
        "uuid", flat=True)} & set(want)


def test_queryables_list_the_valid_fraction(client: APIClient) -> None:
    props = client.get("/stac/queryables").json()["properties"]
    assert props["swathstore:valid_fraction"]["minimum"] == 0
    assert props["swathstore:valid_fraction"]["maximum"] == 1
    assert props["swathstore:valid_fraction"]["type"] == "number"


BAD = [  # (method, path, parameters or body, what the error must say)
    ("get", "/api/v1/swaths/", {"valid_fraction_min": "1.5"}, "valid_fraction_min"),
    ("get", "/api/v1/swaths/", {"valid_fraction_min": "abc"}, "valid_fraction_min"),
    ("get", "/api/v1/swaths/", {"valid_fraction": "-0.1"}, "within 0..1"),
    ("get", "/api/v1/swaths/", {"valid_fraction": "0.8..0.2"}, "ends before it starts"),
    ("get", "/api/v1/swaths/", {"valid_fraction": "nan"}, "0..1"),
    ("post", "/api/v1/swaths/search/", {"valid_fraction": 2}, "valid_fraction"),
    ("get", "/stac/search", {"filter": "swathstore:valid_fraction >= 1.2"}, "0..1"),
    ("get", "/stac/search", {"filter": "swathstore:valid_fraction = 0.5"},
     ">=, >, <=, < or BETWEEN"),
    ("get", "/stac/search", {"filter": "swathstore:valid_fraction >= 0.5 OR "
                                       "collection = 'cover'"}, "top-level AND"),
    ("get", "/stac/search", {"filter": "NOT (swathstore:valid_fraction >= 0.5)"},
     "top-level AND"),
    ("get", "/stac/search", {"filter": "swathstore:valid_fraction IN (0.5)"},
     ">=, >, <=, < or BETWEEN"),
    ("get", "/stac/search", {"filter": "swathstore:valid_fraction IS NULL"},
     ">=, >, <=, < or BETWEEN"),
    ("post", "/stac/search", {"filter": {"op": ">=", "args": [
        {"property": "swathstore:valid_fraction"}, "0.5"]}}, "0..1"),
    ("post", "/stac/search", {"filter": {"op": "or", "args": [
        {"op": ">=", "args": [{"property": "swathstore:valid_fraction"}, 0.5]},
        {"op": "=", "args": [{"property": "collection"}, "x"]}]}}, "top-level AND"),
    ("get", "/stac/aggregate", {"aggregations": "total_count",
                                "filter": "swathstore:valid_fraction >= 0.5"}, "aggregation"),
    ("get", "/stac/search/export", {"filter": "swathstore:valid_fraction >= 0.5",
                                    "format": "urls"}, "export"),
    ("get", "/api/v1/swaths/export", {"valid_fraction_min": "0.5", "format": "urls"},
     "export"),
    ("get", "/api/v1/swaths/", {"valid_fraction_min": "0.5", "next": "eyJ2IjpbMl19"},
     "next token"),
]


@pytest.mark.parametrize(("method", "path", "params", "says"), BAD,
                         ids=[f"{b[1]} {b[2]}"[:80] for b in BAD])
def test_bad_requests_answer_400_saying_why(client: APIClient, rows: list[str], method: str,
                                            path: str, params: dict[str, Any],
                                            says: str) -> None:
    r = client.get(path, params) if method == "get" else client.post(path, params,
                                                                      format="json")
    assert r.status_code == 400, r.content[:300]
    assert says in r.json()["error"], r.json()


def test_too_many_candidates_is_a_400_naming_the_count_and_the_limit(
        client: APIClient, rows: list[str], settings: Any) -> None:
    settings.SEARCH_COVERAGE_MAX_CANDIDATES = 5
    from catalog.models import Swath
    n = Swath.objects.filter(uuid__in=list(brute_force(region_of([0, 0, 20, 20]))),
                             coverage__isnull=False).count()  # unknown: never candidates
    r = client.get("/api/v1/swaths/", {"bbox": "0,0,20,20", "valid_fraction_min": 0.5})
    assert r.status_code == 400
    error = r.json()["error"]
    assert f"match {n} swaths of known coverage" in error and "the 5 whose coverage" in error, error
    assert "SEARCH_COVERAGE_MAX_CANDIDATES" in error
    ok = client.get("/stac/search", {"bbox": "0,0,20,20", "filter":
                                     "swathstore:valid_fraction >= 0.5",
                                     "datetime": f"{T0:%Y-%m-%dT%H:%M:%SZ}/"
                                                 f"{T0.replace(hour=8):%Y-%m-%dT%H:%M:%SZ}"})
    assert ok.status_code == 200, ok.content[:300]  # narrower: under the limit


@pytest.fixture(scope="session")
def granules(shared_swaths: Any) -> dict[str, dict[str, Any]]:
    """name -> the catalog fields ingest makes of each shared granule, coverage included."""
    from ingest.pipeline import metadata_fields
    from ingest.readers import read_metadata

    return {p.name: metadata_fields(read_metadata(p)) for p in sorted(shared_swaths.iterdir())
            if p.suffix in (".nc", ".nc4", ".h5", ".he5", ".HDF5")}


def test_real_granules_pass_as_their_ingested_coverage_says(
        client: APIClient, granules: dict[str, dict[str, Any]]) -> None:
    """The shared granules as ingest stores them: over a box around the middle of each
    footprint, and over the whole swath, the filter keeps exactly what the brute force
    over all rows keeps, through REST and STAC."""
    from tests.catalog.factories import collection, swath

    coll = collection("real-cover")
    for name, fields in granules.items():
        f = {k: v for k, v in fields.items() if k not in ("filename", "end_time")}
        swath(f.pop("footprint"), start=f.pop("start_time"), coll=coll, granule_id=name, **f)
    with_coverage = [n for n, f in granules.items()
                     if f["coverage"] is not None and f["footprint"] is not None]
    assert len(with_coverage) >= 10  # ingest measured nearly all of them
    boxes = []
    for name in with_coverage:
        c = granules[name]["footprint"].point_on_surface
        boxes.append([round(max(-180, c.x - 6), 3), round(max(-90, c.y - 6), 3),
                      round(min(180, c.x + 6), 3), round(min(90, c.y + 6), 3)])
    kept = 0
    for bbox, threshold in [(b, t) for b in [*boxes, None] for t in (0.5, 0.9)]:
        area = {"bbox": ",".join(map(str, bbox))} if bbox else {}
        want = brute_force(region_of(bbox), lo=threshold)
        kept += len(want)
        rest = client.get("/api/v1/swaths/", {**area, "valid_fraction": threshold,
                                              "limit": 100})
        stac = client.get("/stac/search", {**area, "limit": 100,
                                           "filter": f"swathstore:valid_fraction >= {threshold}"})
        for face, r, key in (("REST", rest, "valid_fraction"),
                             ("STAC", stac, "swathstore:valid_fraction")):
            assert r.status_code == 200, (face, bbox, r.content[:300])
            assert _close(_fractions(r.json()["features"], key), want), (face, bbox, threshold)
    assert kept  # some real swaths pass some bounds

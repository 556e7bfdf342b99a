"""Orbit and pass searches: absolute and relative orbit, cycle, pass, orbit state and
equator-crossing longitude select the same swaths through REST GET and POST, STAC GET
(CQL2 text) and POST (CQL2 JSON).

The rows are seven real granules of ../shared/data/swaths as ingest reads them (that
ingest reads each file's own numbers is tests/ingest/test_orbit_extraction.py): Sentinel-6A
cycle 14 pass 191 (ascending, crossing 72.99 W), Jason-1 cycle 1 pass 2 (descending,
94.26 W), ICESat-2 ATL07 reference ground track 849 cycle 2 (descending, crossing
computed at 61.08 W), an ATL03 known only by its lineage (track 235, cycle 1),
CryoSat-2 relative orbit 3832 cycle 11 (descending, its orbit's node 169.87 E), MetOp-A
ASCAT (its orbit's crossing 192.175 E, i.e. -167.825) and Sentinel-5P orbit 7407
(dayside crossing 22.79 E); and two synthetic rows: one whose direction was stored
before names were normalised ("Ascending") and which crosses at 175 E, one with no
orbit numbers at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from ingest.pipeline import metadata_fields
from ingest.readers import read_metadata
from tests.catalog.factories import box, collection, swath

pytestmark = pytest.mark.django_db

REAL = {  # label -> file in ../shared/data/swaths
    "s6": "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc",
    "jason": "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc",
    "atl07": "processed_ATL07-01_20190222003738_08490201_003_02.h5",
    "cryosat": "CS_LTA__SIR_SAR_2__20191005T151255_20191005T151621_E001.nc",
    "ascat": "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc",
    "atl03": "ATL03_gt1l.h5",
    "tropomi": "test_var_subsetting_tropomi_S5P_OFFL_L2__CH4____20190319T110835_20190319T125006_"
               "07407_01_010202_20190325T125810_subset.nc4",
}


@pytest.fixture(scope="session")
def real(shared_swaths: Path) -> dict[str, dict[str, Any]]:
    """label -> the catalog fields ingest makes of each real granule (read once)."""
    return {label: metadata_fields(read_metadata(shared_swaths / name))
            for label, name in REAL.items()}


@pytest.fixture
def rows(real: dict[str, dict[str, Any]]) -> dict[str, str]:
    """label -> uuid of each row."""
    coll = collection("orbits")
    out = {}
    for label in REAL:
        f = dict(real[label])
        f.pop("filename")
        out[label] = swath(f.pop("footprint"), start=f.pop("start_time"), coll=coll,
                           granule_id=REAL[label], **{k: v for k, v in f.items()
                                                      if k != "end_time"})
    out["legacy-ascending"] = swath(box(0, 0, 10, 10), coll=coll, orbit=100,
                                    orbit_direction="Ascending",
                                    equator_crossing_longitude=175.0)
    out["no-orbit"] = swath(box(20, 0, 30, 10), coll=coll)
    return {label: str(s.uuid) for label, s in out.items()}


@pytest.fixture
def client() -> APIClient:
    c = APIClient()
    c.force_authenticate(User.objects.create_user("orbiter"))
    return c


def _cmp(op: str, prop: str, *values: Any) -> dict[str, Any]:
    return {"op": op, "args": [{"property": prop}, *values]}


# (REST parameters, CQL2 text, CQL2 JSON, the rows it selects)
CASES = [
    ({"orbit": "2"}, "sat:absolute_orbit = 2", _cmp("=", "sat:absolute_orbit", 2), {"jason"}),
    ({"orbit": "2000..3000"}, "sat:absolute_orbit BETWEEN 2000 AND 3000",
     _cmp("between", "sat:absolute_orbit", 2000, 3000), {"atl07"}),
    ({"relative_orbit": "849"}, "sat:relative_orbit = 849",
     _cmp("=", "sat:relative_orbit", 849), {"atl07"}),
    ({"relative_orbit": "235"}, "sat:relative_orbit = 235",
     _cmp("=", "sat:relative_orbit", 235), {"atl03"}),
    ({"relative_orbit": "3000.."}, "sat:relative_orbit >= 3000",
     _cmp(">=", "sat:relative_orbit", 3000), {"cryosat"}),
    ({"orbit_cycle": "14"}, "sat:orbit_cycle = 14", _cmp("=", "sat:orbit_cycle", 14), {"s6"}),
    ({"orbit_cycle": "1..2"}, "sat:orbit_cycle BETWEEN 1 AND 2",
     _cmp("between", "sat:orbit_cycle", 1, 2), {"jason", "atl07", "atl03"}),
    ({"orbit_cycle": "11", "orbit_direction": "descending"},
     "sat:orbit_cycle = 11 AND sat:orbit_state = 'descending'",
     {"op": "and", "args": [_cmp("=", "sat:orbit_cycle", 11),
                            _cmp("=", "sat:orbit_state", "descending")]}, {"cryosat"}),
    ({"pass_number": "191"}, "swathstore:pass = 191", _cmp("=", "swathstore:pass", 191),
     {"s6"}),
    ({"pass_number": "..100"}, "swathstore:pass <= 100", _cmp("<=", "swathstore:pass", 100),
     {"jason"}),
    ({"orbit_direction": "descending"}, "sat:orbit_state = 'descending'",
     _cmp("=", "sat:orbit_state", "descending"), {"jason", "atl07", "cryosat"}),
    # Case is ignored on both sides: a row stored as "Ascending" is ascending.
    ({"orbit_direction": "ASCENDING"}, "sat:orbit_state IN ('ascending')",
     _cmp("in", "sat:orbit_state", ["ascending"]), {"legacy-ascending", "s6"}),
    # Equator-crossing longitude: a range, across +-180 when west > east, and so is
    # CQL2's BETWEEN on it.
    ({"equator_crossing": "170,-160"},
     "swathstore:equator_crossing_longitude BETWEEN 170 AND -160",
     _cmp("between", "swathstore:equator_crossing_longitude", 170, -160),
     {"ascat", "legacy-ascending"}),
    ({"equator_crossing": "169.5,-179"},
     "swathstore:equator_crossing_longitude BETWEEN 169.5 AND -179",
     _cmp("between", "swathstore:equator_crossing_longitude", 169.5, -179),
     {"cryosat", "legacy-ascending"}),
    ({"equator_crossing": "170,-170"},
     "swathstore:equator_crossing_longitude >= 170 OR "
     "swathstore:equator_crossing_longitude <= -170",
     {"op": "or", "args": [_cmp(">=", "swathstore:equator_crossing_longitude", 170),
                           _cmp("<=", "swathstore:equator_crossing_longitude", -170)]},
     {"legacy-ascending"}),
    ({"equator_crossing": "-100,-90"},
     "swathstore:equator_crossing_longitude BETWEEN -100 AND -90",
     _cmp("between", "swathstore:equator_crossing_longitude", -100, -90), {"jason"}),
    ({"equator_crossing": "-75,30"},
     "swathstore:equator_crossing_longitude BETWEEN -75 AND 30",
     _cmp("between", "swathstore:equator_crossing_longitude", -75, 30),
     {"s6", "atl07", "tropomi"}),
    ({"equator_crossing": "-170,170", "orbit_direction": "descending"},
     "swathstore:equator_crossing_longitude BETWEEN -170 AND 170 AND "
     "sat:orbit_state = 'descending'",
     {"op": "and", "args": [_cmp("between", "swathstore:equator_crossing_longitude",
                                 -170, 170), _cmp("=", "sat:orbit_state", "descending")]},
     {"jason", "atl07", "cryosat"}),
    ({"orbit_direction": "geostationary"}, "sat:orbit_state = 'geostationary'",
     _cmp("=", "sat:orbit_state", "geostationary"), set()),
]
CQL2_ONLY = [  # what only CQL2 can say: a swath whose direction or cycle is unknown
    ("sat:orbit_state IS NULL", _cmp("isNull", "sat:orbit_state"),
     {"ascat", "atl03", "tropomi", "no-orbit"}),
    ("sat:orbit_state <> 'descending'", _cmp("<>", "sat:orbit_state", "descending"),
     {"legacy-ascending", "s6"}),
    ("sat:orbit_cycle IS NULL", _cmp("isNull", "sat:orbit_cycle"),
     {"ascat", "tropomi", "legacy-ascending", "no-orbit"}),
    ("swathstore:equator_crossing_longitude IS NULL",
     _cmp("isNull", "swathstore:equator_crossing_longitude"), {"atl03", "no-orbit"}),
    # BETWEEN W AND E across +-180 holds the two ends; the middle is its complement
    ("swathstore:equator_crossing_longitude BETWEEN 0 AND -100 OR "
     "swathstore:equator_crossing_longitude BETWEEN -100 AND 0",
     {"op": "or", "args": [_cmp("between", "swathstore:equator_crossing_longitude", 0, -100),
                           _cmp("between", "swathstore:equator_crossing_longitude", -100, 0)]},
     {"s6", "jason", "atl07", "cryosat", "ascat", "tropomi", "legacy-ascending"}),
]


def _labels(rows: dict[str, str], features: list[dict[str, Any]]) -> set[str]:
    by_id = {v: k for k, v in rows.items()}
    return {by_id[f["id"]] for f in features}


@pytest.mark.parametrize(("params", "text", "cql2", "expected"), CASES,
                         ids=[str(c[0]) for c in CASES])
def test_each_face_selects_exactly_the_swaths_with_those_numbers(
        client: APIClient, rows: dict[str, str], params: dict[str, str], text: str,
        cql2: dict[str, Any], expected: set[str]) -> None:
    answers = {
        "REST GET": client.get("/api/v1/swaths/", params),
        "REST POST": client.post("/api/v1/swaths/search/", params, format="json"),
        "STAC GET": client.get("/stac/search", {"filter": text}),
        "STAC GET json": client.get("/stac/search", {"filter": json.dumps(cql2),
                                                     "filter-lang": "cql2-json"}),
        "STAC POST": client.post("/stac/search", {"filter": cql2, "limit": 50}, format="json"),
        "STAC POST text": client.post("/stac/search", {"filter": text, "filter-lang":
                                                       "cql2-text"}, format="json"),
        "STAC items": client.get("/stac/collections/orbits/items", {"filter": text}),
    }
    for face, response in answers.items():
        assert response.status_code == 200, (face, response.content[:300])
        assert _labels(rows, response.json()["features"]) == expected, face


def test_items_and_rest_features_carry_the_orbit_fields(
        client: APIClient, rows: dict[str, str], real: dict[str, dict[str, Any]]) -> None:
    item = client.get(f"/stac/collections/orbits/items/{rows['jason']}").json()
    props = item["properties"]
    assert props["swathstore:equator_crossing_longitude"] == \
        real["jason"]["equator_crossing_longitude"]
    assert (props["sat:orbit_cycle"], props["swathstore:pass"], props["sat:orbit_state"]) == (
        real["jason"]["orbit_cycle"], real["jason"]["pass_number"], "descending")
    page = client.get("/stac/search", {"ids": ",".join(rows.values())}).json()
    by_id = {f["id"]: f["properties"] for f in page["features"]}
    assert by_id[rows["ascat"]]["swathstore:equator_crossing_longitude"] == -167.825
    assert by_id[rows["s6"]]["sat:orbit_state"] == "ascending"  # odd pass: over the turn
    assert (by_id[rows["atl03"]]["sat:relative_orbit"], by_id[rows["atl03"]]["sat:orbit_cycle"]
            ) == (real["atl03"]["relative_orbit"], real["atl03"]["orbit_cycle"])
    assert "swathstore:equator_crossing_longitude" not in by_id[rows["atl03"]]
    rest = client.get(f"/api/v1/swaths/{rows['jason']}/").json()
    assert rest["properties"]["equator_crossing_longitude"] == \
        real["jason"]["equator_crossing_longitude"]


def test_a_json_body_may_send_the_crossing_range_as_a_pair(
        client: APIClient, rows: dict[str, str]) -> None:
    found = client.post("/api/v1/swaths/search/", {"equator_crossing": [170, -160]},
                        format="json")
    assert found.status_code == 200, found.content[:300]
    assert _labels(rows, found.json()["features"]) == {"ascat", "legacy-ascending"}
    for bad in ([170], [170, "x"], [True, 10], [170, -170, 0]):
        refused = client.post("/api/v1/swaths/search/", {"equator_crossing": bad},
                              format="json")
        assert refused.status_code == 400
        assert refused.json()["error"].startswith("equator_crossing must be W,E or [W, E]")
    refused = client.post("/api/v1/swaths/search/", {"equator_crossing": [190, 10]},
                          format="json")
    assert refused.json()["error"].startswith(
        "equator_crossing='190,10': longitudes must be within -180..180")


@pytest.mark.parametrize(("text", "cql2", "expected"), CQL2_ONLY,
                         ids=[c[0] for c in CQL2_ONLY])
def test_cql2_reads_an_unknown_orbit_state_or_cycle_as_null(
        client: APIClient, rows: dict[str, str], text: str, cql2: dict[str, Any],
        expected: set[str]) -> None:
    for response in (client.get("/stac/search", {"filter": text}),
                     client.post("/stac/search", {"filter": cql2}, format="json")):
        assert response.status_code == 200, response.content[:300]
        assert _labels(rows, response.json()["features"]) == expected


@pytest.mark.parametrize(("params", "error"), [
    ({"relative_orbit": "x"}, "relative_orbit='x' must be a whole number N or a range A..B"),
    ({"orbit_cycle": "5..3"}, "orbit_cycle='5..3': the range ends before it starts"),
    ({"pass_number": "-1"}, "pass_number='-1' is out of range: numbers are 0 to 2147483647"),
    ({"orbit": "1.5"}, "orbit='1.5' must be a whole number N or a range A..B"),
    ({"orbit_direction": "up"},
     "orbit_direction='up' must be one of ascending, descending, geostationary"),
    ({"cycle": "3"}, "unknown parameter(s): cycle; allowed: "),
    ({"equator_crossing": "170"}, "equator_crossing='170' must be W,E: two longitudes"),
    ({"equator_crossing": "190,10"},
     "equator_crossing='190,10': longitudes must be within -180..180"),
    ({"equator_crossing": "a,10"}, "equator_crossing='a' is not a number"),
])
def test_rest_refuses_a_bad_value_naming_the_parameter_and_what_is_allowed(
        client: APIClient, params: dict[str, str], error: str) -> None:
    for response in (client.get("/api/v1/swaths/", params),
                     client.post("/api/v1/swaths/search/", params, format="json")):
        assert response.status_code == 400
        assert response.json()["error"].startswith(error)
        if "unknown" in error:
            assert "orbit_cycle" in response.json()["error"]


@pytest.mark.parametrize(("text", "error"), [
    ("sat:orbit_state = 'up'",
     "filter sat:orbit_state='up' must be one of ascending, descending, geostationary"),
    ("sat:orbit_state < 'b'", "filter: sat:orbit_state takes =, <>, IN or IS NULL, not <"),
    ("sat:relative_orbit = 'x'", "filter: = on sat:relative_orbit needs a number"),
    ("sat:cycle = 3", "filter: 'sat:cycle' is not a queryable; see /stac/queryables"),
    ("swathstore:equator_crossing_longitude BETWEEN 'a' AND 10",
     "filter: between on swathstore:equator_crossing_longitude needs a number"),
    ("swathstore:pass IN ('x')", "filter: in on swathstore:pass needs a number"),
    ("swathstore:equator_crossing_longitude BETWEEN 170 AND 190",
     "filter: between on swathstore:equator_crossing_longitude: 190 is not a longitude in "
     "-180..180"),
])
def test_cql2_refuses_a_bad_value_naming_the_property(client: APIClient, text: str,
                                                       error: str) -> None:
    response = client.get("/stac/search", {"filter": text})
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)


def test_queryables_list_the_orbit_properties_and_the_states(client: APIClient) -> None:
    props = client.get("/stac/queryables").json()["properties"]
    for name in ("sat:absolute_orbit", "sat:relative_orbit", "sat:orbit_cycle",
                 "swathstore:pass"):
        assert props[name]["type"] == "integer"
        assert props[name]["minimum"] == 1
    crossing = props["swathstore:equator_crossing_longitude"]
    assert (crossing["type"], crossing["minimum"], crossing["maximum"]) == ("number", -180, 180)
    assert props["sat:orbit_state"]["enum"] == ["ascending", "descending", "geostationary"]



def _and3(a: bool | None, b: bool | None) -> bool | None:
    """SQL's three-valued AND (None is unknown)."""
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or3(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _cmp3(value: Any, test: Any) -> bool | None:
    return None if value is None else bool(test(value))


NEGATIONS = [  # CQL2 text, how each row answers it before NOT (None: unknown)
    ("NOT sat:orbit_cycle BETWEEN 1 AND 2",
     lambda r: _cmp3(r["orbit_cycle"], lambda c: 1 <= c <= 2)),
    ("NOT (sat:orbit_cycle = 1 AND swathstore:equator_crossing_longitude > 0)",
     lambda r: _and3(_cmp3(r["orbit_cycle"], lambda c: c == 1),
                     _cmp3(r["equator_crossing_longitude"], lambda x: x > 0))),
    ("NOT (sat:orbit_cycle = 1 OR swathstore:pass < 100)",
     lambda r: _or3(_cmp3(r["orbit_cycle"], lambda c: c == 1),
                    _cmp3(r["pass_number"], lambda p: p < 100))),
    ("NOT NOT sat:orbit_cycle >= 11",
     lambda r: None if r["orbit_cycle"] is None else not r["orbit_cycle"] >= 11),
    ("NOT sat:orbit_cycle IS NULL", lambda r: r["orbit_cycle"] is None),
]


@pytest.mark.parametrize(("text", "before_not"), NEGATIONS, ids=[n[0] for n in NEGATIONS])
def test_cql2_not_follows_three_valued_logic_rows_of_unknown_value_never_match(
        client: APIClient, rows: dict[str, str], real: dict[str, dict[str, Any]],
        text: str, before_not: Any) -> None:
    """NOT of an unknown comparison is unknown, as in SQL and CQL2: a swath with no cycle
    matches neither `cycle BETWEEN 1 AND 2` nor its negation (Django's ~Q alone would
    keep it); NOT (a AND b) still keeps a row where b is known to be false."""
    fields = {label: real[label] for label in REAL}
    fields["legacy-ascending"] = {"orbit_cycle": None, "pass_number": None,
                                  "equator_crossing_longitude": 175.0}
    fields["no-orbit"] = {"orbit_cycle": None, "pass_number": None,
                          "equator_crossing_longitude": None}
    expected = {label for label, f in fields.items() if before_not(f) is False}
    assert expected and expected != set(fields)  # each case splits the rows
    for response in (client.get("/stac/search", {"filter": text}),
                     client.post("/stac/search", {"filter": text, "filter-lang": "cql2-text"},
                                 format="json")):
        assert response.status_code == 200, response.content[:300]
        assert _labels(rows, response.json()["features"]) == expected, text

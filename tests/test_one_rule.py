"""One rule, one place (issue 19): every entry point that takes a box, a time interval or
a geometry accepts and refuses the same values, with the same message naming the parameter.

Each face below sends one value the way its users do (a query string, a JSON body, a
command line, hpc.extract's parser) and answers None when the value was accepted, or
the error message when it was refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from hpc.apiplan import checked_interval
from hpc.extract import build_parser, resolve_region

pytestmark = pytest.mark.django_db

NO_SWATH = "00000000-0000-0000-0000-000000000000"
BOX = "0,0,10,10"
WHEN = "2024-01-01/2024-01-31"
Face = Callable[[str, str], str | None]


def _api(response) -> str | None:  # type: ignore[no-untyped-def]
    """None when the API took the value; its error message when it answered 400."""
    if response.status_code == 400:
        return response.json()["error"]
    assert response.status_code in (200, 404), response.content[:300]  # 404: no such swath
    return None


def _command(*args: str) -> str | None:
    try:
        call_command(*args)
    except CommandError as e:
        # A value that was taken reaches the work: a missing --file fails it there.
        return None if "subset(s) failed" in str(e) else str(e)
    return None


def _array(text: str) -> list:
    """A box as a STAC POST body carries it: a JSON array (of numbers where they are)."""
    parts: list = text.split(",")
    for i, p in enumerate(parts):
        try:
            value = float(p)
        except ValueError:
            continue
        if value == value:  # NaN has no JSON form: it stays text, as the client typed it
            parts[i] = value
    return parts


@pytest.fixture
def faces(tmp_path: Path) -> dict[str, Face]:
    """Entry point -> f(parameter, value) for parameter 'bbox', 'datetime' or 'geometry'."""
    anonymous = APIClient()
    user = User.objects.create_user("one-rule")
    signed_in = APIClient(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    missing = str(tmp_path / "missing.nc")
    out = str(tmp_path / "out")

    def geometry_file(value: str) -> str:
        path = tmp_path / "area.json"
        path.write_text(value)
        return str(path)

    def rest(param: str, value: str) -> str | None:
        if param == "geometry":
            return _api(anonymous.post("/api/v1/swaths/search/",
                                       {"intersects": json.loads(value)}, format="json"))
        return _api(anonymous.get("/api/v1/swaths/", {param: value}))

    def stac_get(param: str, value: str) -> str | None:
        return _api(anonymous.get("/stac/search",
                                  {"intersects" if param == "geometry" else param: value}))

    def stac_post(param: str, value: str) -> str | None:
        body = {"bbox": _array(value)} if param == "bbox" else (
            {"intersects": json.loads(value)} if param == "geometry" else {param: value})
        return _api(anonymous.post("/stac/search", body, format="json"))

    def subsets_api(param: str, value: str) -> str | None:
        body = {"swath": NO_SWATH, "bbox": BOX}
        if param == "geometry":
            body = {"swath": NO_SWATH, "geometry": json.loads(value)}
        else:
            body[param] = value
        return _api(signed_in.post("/api/v1/subsets/", body, format="json"))

    def subset_cli(param: str, value: str) -> str | None:
        area = ["--geometry", geometry_file(value)] if param == "geometry" else [
            "--bbox", value if param == "bbox" else BOX]
        times = ["--datetime", value] if param == "datetime" else []
        return _command("subset", "--file", missing, *area, *times, "--out", out)

    def plan_extract(param: str, value: str) -> str | None:
        return _command("plan-extract", "--bbox", value if param == "bbox" else BOX,
                        "--datetime", value if param == "datetime" else WHEN,
                        "-o", str(tmp_path / "manifest.jsonl"))

    def hpc_extract(param: str, value: str) -> str | None:
        area = ["--geometry", geometry_file(value)] if param == "geometry" else [
            "--bbox", value if param == "bbox" else BOX]
        args = build_parser().parse_args(
            ["--api", "http://archive.invalid", *area, "--datetime",
             value if param == "datetime" else WHEN, "--out", out])
        try:
            resolve_region(args, [])
            checked_interval(args.datetime)  # what plan_from_api sends, checked first
        except ValueError as e:
            return str(e)
        return None

    return {"REST swaths": rest, "STAC GET": stac_get, "STAC POST": stac_post,
            "subsets API": subsets_api, "subset CLI": subset_cli,
            "plan-extract CLI": plan_extract, "hpc.extract": hpc_extract}


BOXES = [
    # (value, None if accepted else the message every face gives)
    ("-10,40,10,50", None),  # a negative west edge, as the README types it
    ("0,0,-5,10,10,5", None),  # six numbers: a 3-D STAC box, heights ignored
    ("0,10,10,10", None),  # south == north: a line still touches what it crosses
    ("170,-10,-170,10", None),  # W > E crosses the antimeridian
    ("-70,80,-50,95", None),  # beyond +-90: the part inside the world is used
    ("175,0,185,10", None),  # beyond +-180 likewise
    ("0,50,10,40", "bbox south=50 is greater than north=40: the order is W,S,E,N"),
    ("1,2,3", "bbox must be four numbers W,S,E,N (or six with heights)"),
    ("0,nan,10,40", "bbox value 'nan' must be a finite number"),
    ("west,0,1,1", "bbox value 'west' is not a number"),
]

INTERVALS = [
    ("2024-01-01/2024-01-31", None),  # dates as ends: whole days
    ("2024-01-01T00:00:00Z/..", None),
    ("../2024-01-31T12:00:00+02:00", None),
    ("/2024-01-31", None),
    ("2024-01-31", "datetime='2024-01-31' is a date, not an instant: write "
                   "2024-01-31/2024-01-31 for that whole day"),
    ("2024-02-01/2024-01-01", "datetime='2024-02-01/2024-01-01' ends before it starts"),
    ("2024-01-01T00:00:00/..", "datetime='2024-01-01T00:00:00' has no time zone: add Z or an "
                               "offset such as +00:00"),
    ("2024-01-01T00:00:00+0100/..", "datetime='2024-01-01T00:00:00+0100' is not an RFC 3339 "
                                    "date-time such as 2024-01-31T12:00:00Z"),
    ("../..", "datetime='../..' is open at both ends"),
]

SQUARE = [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]
GEOMETRIES = [
    ({"type": "Polygon", "coordinates": [SQUARE]}, None),
    ({"type": "Polygon", "coordinates": [[[170, 0], [190, 0], [190, 5], [170, 5], [170, 0]]]},
     None),  # beyond +180: continues across the antimeridian, cut there
    ({"type": "Polygon", "coordinates": [[[0, 0, 5], [4, 0, 5], [4, 4, 5], [0, 0, 5]]]},
     None),  # heights ignored, as a 6-number box's
    ({"type": "Polygon", "coordinates": [[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]]},
     None),  # a bow-tie: repaired with MakeValid, the repair reported
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]},
     "{}: the polygon has no area"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 4], [0, 4]]]},
     "{}: a polygon ring must end where it starts (close the ring)"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 95], [0, 0]]]},
     "{}: latitude 95 is outside -90..90"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [400, 0], [4, 4], [0, 0]]]},
     "{}: longitude 400 is outside -360..360"),
    ({"type": "Circle", "coordinates": [0, 0]},
     "{}: type 'Circle' is not one of Point, MultiPoint, LineString, MultiLineString, "
     "Polygon, MultiPolygon"),
]
GEOMETRY_FACES = ["REST swaths", "STAC GET", "STAC POST", "subsets API", "subset CLI",
                  "hpc.extract"]
# The name each face reads its geometry under (STAC and search say intersects).
GEOMETRY_NAME = {"REST swaths": "intersects", "STAC GET": "intersects",
                 "STAC POST": "intersects"}


def _ask_all(faces: dict[str, Face], param: str, value: str,
             only: list[str] | None = None) -> dict[str, str | None]:
    return {name: face(param, value) for name, face in faces.items()
            if only is None or name in only}


@pytest.mark.parametrize(("value", "message"), BOXES)
def test_every_entry_point_reads_a_box_by_the_same_rule(
        faces: dict[str, Face], value: str, message: str | None) -> None:
    assert _ask_all(faces, "bbox", value) == dict.fromkeys(faces, message)


@pytest.mark.parametrize(("value", "message"), INTERVALS)
def test_every_entry_point_reads_an_interval_by_the_same_rule(
        faces: dict[str, Face], value: str, message: str | None) -> None:
    assert _ask_all(faces, "datetime", value) == dict.fromkeys(faces, message)


@pytest.mark.parametrize(("geometry", "message"), GEOMETRIES)
def test_every_entry_point_reads_a_geometry_by_the_same_rule(
        faces: dict[str, Face], geometry: dict, message: str | None) -> None:
    got = _ask_all(faces, "geometry", json.dumps(geometry), GEOMETRY_FACES)
    assert got == {face: message and message.format(GEOMETRY_NAME.get(face, "geometry"))
                   for face in GEOMETRY_FACES}


def test_a_subset_needs_an_area_where_a_search_takes_a_point(faces: dict[str, Face]) -> None:
    point = json.dumps({"type": "Point", "coordinates": [1, 2]})
    got = _ask_all(faces, "geometry", point, GEOMETRY_FACES)
    assert got["REST swaths"] is got["STAC GET"] is got["STAC POST"] is None
    cut = "geometry: a Point has no area to cut: give a Polygon or MultiPolygon"
    assert got["subsets API"] == got["subset CLI"] == got["hpc.extract"] == cut


def test_a_box_wholly_outside_the_world_finds_nothing_and_has_nothing_to_cut(
        faces: dict[str, Face]) -> None:
    got = _ask_all(faces, "bbox", "181,0,190,10")
    assert got["REST swaths"] is got["STAC GET"] is got["STAC POST"] is None
    cut = ("bbox=181,0,190,10 covers no part of the world (lon -180..180, lat -90..90): "
           "there is nothing to cut")
    assert {got[f] for f in ("subsets API", "subset CLI", "plan-extract CLI",
                             "hpc.extract")} == {cut}


def test_a_stac_post_box_is_an_array(faces: dict[str, Face]) -> None:
    response = APIClient().post("/stac/search", {"bbox": "0,0,10,10"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == (
        "bbox must be an array of four numbers W,S,E,N (or six with heights)")

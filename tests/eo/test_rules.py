"""The Django-free rules of eo: boxes, times, geometries, command lines (pure and fast)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from eo.argv import accept_negative_values, glue_negative_values
from eo.boxes import parse_box, world_pieces
from eo.errors import InputError
from eo.geometry import cut_at_antimeridian, parse_geometry
from eo.times import parse_instant, parse_interval


def test_a_box_may_have_six_numbers_whose_heights_are_ignored() -> None:
    assert parse_box("0,1,-100,10,11,100") == parse_box([0, 1, 10, 11]) == (0, 1, 10, 11)


def test_a_degenerate_box_is_a_line_and_is_kept() -> None:
    assert parse_box("5,10,5,10") == (5, 10, 5, 10)


def test_a_box_beyond_the_world_keeps_only_the_part_inside_it() -> None:
    assert world_pieces(*parse_box("-70,80,-50,95")) == [(-70, 80, -50, 90)]
    assert world_pieces(*parse_box("181,0,190,10")) == []


@pytest.mark.parametrize(("raw", "message"), [
    ("0,50,10,40", "bbox south=50 is greater than north=40"),
    ("1,2,3,4,5", "bbox must be four numbers"),
    ([True, 0, 1, 1], "bbox value True is not a number"),
    ("1e999,0,1,1", "bbox value '1e999' must be a finite number"),
    ([10**400, 0, 1, 1], "is not a number"),
])
def test_a_bad_box_is_refused_naming_the_parameter(raw: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_box(raw)


def test_a_json_body_box_must_be_an_array() -> None:
    with pytest.raises(InputError, match="an array of four numbers"):
        parse_box("0,0,1,1", text=False)


def test_date_ends_cover_whole_days_and_dots_leave_an_end_open() -> None:
    start, end = parse_interval("2024-01-01/2024-01-31")
    assert start == datetime(2024, 1, 1, tzinfo=UTC)
    assert end == datetime(2024, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_interval("../2024-01-01T06:00:00+06:00") == (None, datetime(2024, 1, 1,
                                                                             tzinfo=UTC))
    assert parse_interval("9999-12-31/9999-12-31")[1] == datetime.max.replace(tzinfo=UTC)


@pytest.mark.parametrize(("raw", "message"), [
    ("2024-01-31", "is a date, not an instant"),
    ("2024-02-30/..", "is not a valid date"),
    ("2024-01-01T00:00:00", "has no time zone"),
    ("1985-04-12T23:20:50,52Z", "is not an RFC 3339 date-time"),
    ("1990-12-31T23:59:61Z", "is not a valid date-time"),
    ("9999-12-31T23:59:59-01:00", "is outside"),
    ("/", "open at both ends"),
    ("a/b/c", "is not an RFC 3339"),
])
def test_a_bad_interval_is_refused_naming_the_parameter(raw: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as e:
        parse_interval(raw, "when")
    assert str(e.value).startswith("when=")


def test_an_instant_keeps_microseconds_of_a_nanosecond_fraction() -> None:
    assert parse_instant("2024-01-01t10:00:00.123456789z").microsecond == 123456


def test_an_unwrapped_polygon_is_cut_at_the_antimeridian_into_two() -> None:
    area = parse_geometry({"type": "Polygon", "coordinates": [
        [[170, -5], [190, -5], [190, 5], [170, 5], [170, -5]]]})
    assert sorted(p.bounds for p in area.polygons()) == [(-180, -5, -170, 5), (170, -5, 180, 5)]


def test_a_shape_ending_on_180_is_not_cut() -> None:
    from shapely.geometry import box

    assert cut_at_antimeridian(box(170, 0, 180, 5)).bounds == (170, 0, 180, 5)


def test_a_bow_tie_is_repaired_and_the_repair_reported() -> None:
    area = parse_geometry("POLYGON ((0 0, 10 10, 10 0, 0 10, 0 0))", "geometry")
    assert area.geometry.area == pytest.approx(50)
    assert area.repairs and area.repairs[0].startswith("geometry: invalid polygon")


@pytest.mark.parametrize(("value", "message"), [
    ("SRID=4326;POINT (0 0)", "neither GeoJSON nor WKT"),
    ("POINT (nan nan)", "longitude nan is outside"),
    ("POINT EMPTY", "the geometry is empty"),
    ("POLYGON ((0 0, 1 0", "is not valid WKT"),
    ({"type": "GeometryCollection", "geometries": []}, "non-empty geometries"),
    ({"type": "Feature", "geometry": None}, "a Feature needs a geometry"),
    ({"type": "Point", "coordinates": [1, 2, 3, 4]}, "a position must be"),
    ({"type": "MultiPoint", "coordinates": [[0, 0]] * 11}, "more than 10 vertices"),
])
def test_a_bad_geometry_is_refused_naming_the_parameter(value: object, message: str) -> None:
    with pytest.raises(InputError, match=message) as e:
        parse_geometry(value, "area", max_vertices=10)
    assert str(e.value).startswith("area")


def test_a_negative_west_edge_is_a_value_on_any_command_line() -> None:
    assert glue_negative_values(["--bbox", "-10,40,10,50"], ["--bbox"]) == ["--bbox=-10,40,10,50"]
    parser = accept_negative_values(argparse.ArgumentParser())
    parser.add_argument("--bbox")
    parser.add_argument("--n", type=int)
    assert parser.parse_args(["--bbox", "-10.5,-40,10,50", "--n", "-3"]).bbox == "-10.5,-40,10,50"
    with pytest.raises(SystemExit):  # a missing value is still a missing value
        parser.parse_args(["--bbox", "--n", "1"])

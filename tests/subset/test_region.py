"""Regions: parsing, validation, and point tests across the antimeridian and the poles."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from subset.region import Region, parse_bbox, parse_geometry

BAD_BBOXES = [
    ("190,0,200,10", "covers no part of the world"),
    ("10,20,20,10", "south=20 is greater than north=10"),
    ("nan,0,10,5", "must be a finite number"),
    ("1,2,3", "four numbers"),
]
BAD_GEOMETRIES = [
    ("POLYGON ((0 0, 10 0, 10 95, 0 0))", "latitude 95 is outside"),
    ("LINESTRING (0 0, 1 1)", "has no area"),
    ("not a geometry", "is not valid WKT"),
    ("42", "neither GeoJSON nor WKT"),
    ('{"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}', "at least 4 positions"),
]


@pytest.mark.parametrize("parse, text, reason", [
    *[pytest.param(parse_bbox, text, reason, id=f"bbox-{text}") for text, reason in BAD_BBOXES],
    *[pytest.param(parse_geometry, text, reason, id=f"geometry-{text}")
      for text, reason in BAD_GEOMETRIES],
])
def test_it_rejects_bad_bboxes_and_geometries_with_the_reason(
        parse: Callable[[str], Region], text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):  # eo's InputError, or RegionError
        parse(text)


def test_a_bbox_beyond_the_world_cuts_the_part_inside_it() -> None:
    assert parse_bbox("10,-95,20,0").bounds() == (10, -90, 20, 0)
    assert parse_bbox("170,0,200,10").bounds() == (170, 0, 180, 10)


def test_a_bbox_west_of_east_crosses_the_antimeridian() -> None:
    region = parse_bbox("170,-10,-170,10")
    lon = np.array([175.0, -175.0, 180.0, -180.0, 0.0, 185.0, 355.0])
    lat = np.zeros_like(lon)
    assert region.contains(lon, lat).tolist() == [True, True, True, True, False, True, False]


def test_longitudes_stored_0_to_360_are_tested_as_their_wrapped_values() -> None:
    region = parse_bbox("-10,-5,10,5")
    assert region.contains(np.array([355.0, 5.0, 185.0]), np.zeros(3)).tolist() == [
        True, True, False]


def test_bbox_edges_count_as_inside_and_nan_as_outside() -> None:
    region = parse_bbox("0,0,10,10")
    got = region.contains(np.array([0.0, 10.0, np.nan, 10.0001]), np.array([0.0, 10.0, 5, 5]))
    assert got.tolist() == [True, True, False, False]


def test_a_polygon_cap_reaches_the_pole() -> None:
    region = parse_geometry({"type": "Polygon", "coordinates": [
        [[-180, 80], [180, 80], [180, 90], [-180, 90], [-180, 80]]]})
    got = region.contains(np.array([0.0, 123.0, -179.9, 50.0]), np.array([90.0, 85.0, 81.0, 79.0]))
    assert got.tolist() == [True, True, True, False]


def test_an_unwrapped_polygon_is_cut_at_the_antimeridian() -> None:
    region = parse_geometry("POLYGON ((170 -5, 190 -5, 190 5, 170 5, 170 -5))")
    assert len(region.geometry.geoms) == 2
    assert region.contains(np.array([175.0, -175.0, -165.0]), np.zeros(3)).tolist() == [
        True, True, False]


def test_geojson_features_and_wkt_give_the_same_region() -> None:
    feature = {"type": "Feature", "properties": {}, "geometry": {
        "type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 4], [0, 0]]]}}
    a, b = parse_geometry(feature), parse_geometry("POLYGON ((0 0, 4 0, 4 4, 0 0))")
    assert a.geometry.equals(b.geometry)
    assert a.contains(np.array([3.0, 1.0]), np.array([1.0, 3.0])).tolist() == [True, False]


def test_a_self_intersecting_polygon_is_repaired_and_the_repair_kept() -> None:
    region = parse_geometry("POLYGON ((0 0, 10 10, 10 0, 0 10, 0 0))")
    assert region.geometry.area == pytest.approx(50)
    assert region.repairs[0].startswith("geometry: invalid polygon (Self-intersection")


def test_distance_lower_bound_never_exceeds_the_true_distance() -> None:
    region = parse_bbox("10,10,20,20")
    from ingest.footprint import lonlat_to_xyz

    pts = lonlat_to_xyz(np.array([15.0, 30.0, 15.0]), np.array([15.0, 15.0, -10.0]))
    bound = region.distance_lower_bound(pts)
    assert bound[0] == 0
    # (30, 15) is about 9.7 degrees east of the box edge at lat 15; (15, -10) 20 degrees south.
    assert 0 < np.degrees(bound[1]) <= 9.7
    assert 19.8 < np.degrees(bound[2]) <= 20.0

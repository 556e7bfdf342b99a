"""Region and time queries on PostGIS: antimeridian, poles, intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection

from catalog.geometry import QueryGeometryError, bbox_geometry, circle_geometry
from catalog.models import Region, Swath
from tests.catalog.factories import box, swath

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_tests_run_on_postgis() -> None:
    assert connection.vendor == "postgresql"
    with connection.cursor() as cur:
        cur.execute("SELECT postgis_lib_version()")
        assert cur.fetchone()[0].startswith("3.")


def test_bbox_crossing_the_antimeridian_finds_swaths_on_both_sides() -> None:
    east_side = swath(box(172, -5, 178, 5))
    west_side = swath(box(-178, -5, -172, 5))
    far_away = swath(box(0, -5, 10, 5))
    found = set(Swath.objects.in_bbox(170, -10, -170, 10))
    assert found == {east_side, west_side}
    assert far_away not in found


def test_split_footprint_is_found_from_either_hemisphere() -> None:
    # One swath stored as two pieces either side of 180.
    crossing = swath(box(175, 0, -175, 10))
    assert list(Swath.objects.in_bbox(-179, 1, -178, 2)) == [crossing]
    assert list(Swath.objects.in_bbox(176, 1, 177, 2)) == [crossing]
    assert not Swath.objects.in_bbox(0, 1, 1, 2).exists()


def test_polar_cap_footprint_contains_the_pole() -> None:
    cap = swath(box(-180, 80, 180, 90))
    assert list(Swath.objects.near(0, 90, 10)) == [cap]
    assert list(Swath.objects.in_bbox(100, 85, 101, 86)) == [cap]
    assert not Swath.objects.in_bbox(100, 0, 101, 1).exists()


def test_point_and_radius_are_measured_on_the_sphere() -> None:
    # Near 60N, one degree of longitude is ~55.6 km: a swath 1.5 degrees east of the
    # point is ~83 km away (inside 100 km) although 1.5 "degrees" would be 167 km at the equator.
    target = swath(box(11.5, 59.9, 12.5, 60.1))
    assert list(Swath.objects.near(10.0, 60.0, 100)) == [target]
    assert not Swath.objects.near(10.0, 60.0, 60).exists()


def test_circle_across_the_antimeridian_is_two_pieces() -> None:
    assert circle_geometry(179.9, 0, 50).num_geom == 2


def test_named_region_query() -> None:
    Region.objects.create(slug="agulhas", name="Agulhas", geometry=box(15, -45, 35, -30))
    inside = swath(box(20, -40, 25, -35))
    swath(box(-60, -40, -55, -35))
    assert list(Swath.objects.in_region("agulhas")) == [inside]


def test_time_interval_overlap_includes_partial_overlaps_and_open_ends() -> None:
    before = swath(box(0, 0, 1, 1), start=T0 - timedelta(hours=2))
    straddling = swath(box(0, 0, 1, 1), start=T0 - timedelta(minutes=2))
    inside = swath(box(0, 0, 1, 1), start=T0 + timedelta(minutes=10))
    after = swath(box(0, 0, 1, 1), start=T0 + timedelta(hours=2))
    window = set(Swath.objects.between(T0, T0 + timedelta(hours=1)))
    assert window == {straddling, inside}
    assert set(Swath.objects.between(T0 + timedelta(hours=1), None)) == {after}
    assert before in set(Swath.objects.between(None, T0))


def test_same_bytes_cannot_be_archived_twice() -> None:
    first = swath(box(0, 0, 1, 1))
    with pytest.raises(IntegrityError):
        swath(box(0, 0, 1, 1), sha256=first.sha256)


def test_deleted_swath_frees_its_checksum_for_a_new_copy() -> None:
    first = swath(box(0, 0, 1, 1), state="DELETED")
    again = swath(box(0, 0, 1, 1), sha256=first.sha256)
    assert again.sha256 == first.sha256


@pytest.mark.parametrize(
    ("bbox", "message"),
    [((0, 10, 1, 5), "south=10"), ((0, float("nan"), 1, 5), "south=nan"),
     ((float("inf"), 0, 1, 1), "west=inf")],
)
def test_invalid_boxes_are_refused_with_the_reason(bbox: tuple, message: str) -> None:
    with pytest.raises(QueryGeometryError, match=message):
        bbox_geometry(*bbox)


def test_a_box_reaching_beyond_the_world_searches_only_the_part_inside_it() -> None:
    north, edge = swath(box(0, 80, 10, 90)), swath(box(175, 0, 179.5, 5))
    swath(box(-179.5, 0, -175, 5))  # 181..185 does not wrap round to here
    assert list(Swath.objects.in_bbox(5, 85, 15, 95)) == [north]
    assert list(Swath.objects.in_bbox(170, -5, 185, 10)) == [edge]
    assert bbox_geometry(0, -95, 1, 5).extent == (0, -90, 1, 5)


@pytest.mark.parametrize("bbox", [(181, 91, 182, 92), (181, 0, 185, 5), (0, 91, 10, 95),
                                  (-200, 0, -181, 5)])
def test_a_box_wholly_beyond_the_world_matches_nothing(bbox: tuple) -> None:
    swath(box(-180, -90, 180, 90))
    assert bbox_geometry(*bbox).empty
    assert not Swath.objects.in_bbox(*bbox).exists()


def test_footprint_index_is_used_for_bbox_queries() -> None:
    for i in range(200):
        swath(box(i % 170, -5, i % 170 + 1, 5))
    with connection.cursor() as cur:
        cur.execute("ANALYZE catalog_swath")
        cur.execute("SET enable_seqscan = off")
        sql, params = Swath.objects.in_bbox(10, -1, 11, 1).query.sql_with_params()
        cur.execute("EXPLAIN " + sql, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
    assert "Index Scan using catalog_swath_footprint" in plan, plan

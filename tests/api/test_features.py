"""REST search pages (api.features): odd rows, null geometries and times, paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from rest_framework.test import APIClient

from catalog.models import Swath
from tests.catalog.factories import box, collection, swath

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def odd_pieces() -> MultiPolygon:
    """Pieces either side of the antimeridian, at precisions floats cannot hold exactly."""
    return MultiPolygon(
        Polygon([(170.1234567891234, 1.1), (180, 1.1), (180, 4.333333333333333),
                 (170.1234567891234, 1.1)]),
        Polygon([(-180, -2.5), (-176.99999999999997, -2.5), (-180, 2.0000000000001),
                 (-180, -2.5)]),
        srid=4326)


@pytest.fixture
def varied() -> list[Swath]:
    """Rows with every optional property empty or odd somewhere."""
    other = collection("o'dd-coll")
    rows = [
        swath(box(10, 10, 20, 20), start=T0, platform="aqua", instrument="modis", orbit=100,
              orbit_direction="ascending", format="netcdf4"),
        swath(odd_pieces(), start=T0 + timedelta(days=1, microseconds=1500), coll=other,
              orbit=0, format="HDF5"),
        swath(None, start=T0 + timedelta(days=2), is_empty=True, instrument="viirs"),
        swath(box(-10.5, -80.25, 30.75, -60), start=T0 + timedelta(days=3), sha256=None,
              granule_id='G "quoted" \\ back\\slash é ✓.nc', orbit=None),
    ]
    Swath.objects.filter(pk=rows[2].pk).update(end_time=None, size=None)
    return rows


def test_an_empty_granule_has_a_null_geometry_and_null_times_stay_null(
    varied: list[Swath],
) -> None:
    body = APIClient().get("/api/v1/swaths/", {"limit": 100}).json()
    empty = next(f for f in body["features"] if f["properties"]["is_empty"])
    assert empty["geometry"] is None
    assert empty["properties"]["end_time"] is None and empty["properties"]["size"] is None


def test_pages_of_value_rows_still_link_the_next_page_without_gaps(
    varied: list[Swath],
) -> None:
    client, seen, params = APIClient(), [], {"limit": 1}
    while True:
        body = client.get("/api/v1/swaths/", params).json()
        seen += [f["id"] for f in body["features"]]
        if "next" not in body:
            break
        params = {"limit": 1, "next": body["next"]}
    newest_first = sorted(varied, key=lambda s: s.start_time, reverse=True)
    assert seen == [str(s.uuid) for s in newest_first]

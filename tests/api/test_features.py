"""REST search pages (api.features) equal what SwathFeatureSerializer gives for the same rows."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from rest_framework.test import APIClient

from api.serializers import SwathFeatureSerializer
from catalog.models import Swath, SwathState
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


def close(a: Any, b: Any) -> bool:
    """Equal, with coordinates compared to 1e-9 degrees (the fast path keeps every digit
    of the stored double; OGR's writer, under the serializer, rounds some of them)."""
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    return a == b


def test_a_search_page_equals_the_serializers_features_key_for_key(
    varied: list[Swath],
) -> None:
    body = APIClient().get("/api/v1/swaths/", {"limit": 100}).json()
    fast = {f["id"]: f for f in body["features"]}
    qs = Swath.objects.select_related("collection").filter(state=SwathState.VERIFIED)
    slow = {f["id"]: json.loads(json.dumps(f))
            for f in SwathFeatureSerializer(qs, many=True).data["features"]}
    assert fast.keys() == slow.keys() and len(fast) == len(varied)
    for uid, expected in slow.items():
        got = fast[uid]
        assert list(got) == list(expected)  # id, type, geometry, properties, in this order
        assert got["properties"] == expected["properties"], uid
        assert list(got["properties"]) == list(expected["properties"])
        assert close(got["geometry"], expected["geometry"]), uid


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

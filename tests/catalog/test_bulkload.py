"""Catalog-only registration from a JSON-lines manifest."""

from __future__ import annotations

import json

import pytest

from catalog.bulkload import register_manifest
from catalog.models import StoredObject, Swath
from tests.catalog.factories import collection, manifest_line

pytestmark = pytest.mark.django_db


def test_manifest_rows_become_searchable_swaths_with_their_copies() -> None:
    result = register_manifest([manifest_line(i) for i in range(160)], collection(), batch_size=64,
                               trust_checksums=True)
    assert (result.loaded, result.skipped, result.rejected) == (160, 0, [])
    assert Swath.objects.verified().in_bbox(5.2, 0.2, 5.3, 0.3).get().granule_id == "G00005.nc"
    copy = StoredObject.objects.get(key="swaths/legacy/7")
    assert (copy.swath.granule_id, copy.size, copy.state) == ("G00007.nc", 107, "VERIFIED")


def test_a_rerun_loads_nothing_twice() -> None:
    lines = [manifest_line(i) for i in range(50)]
    register_manifest(lines, collection())
    again = register_manifest(lines + [manifest_line(50)], collection())
    assert (again.loaded, again.skipped) == (1, 50)
    assert Swath.objects.count() == 51


def test_rows_are_stored_not_verified_unless_vouched_for() -> None:
    register_manifest([manifest_line(1)], collection())
    assert Swath.objects.get().state == "STORED"


def test_bad_lines_are_rejected_by_line_number_and_the_rest_load() -> None:
    lines = [
        manifest_line(1),
        "{not json",
        manifest_line(2, sha256="xyz"),
        manifest_line(3, footprint={"type": "Polygon",
                             "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}),
        manifest_line(4, footprint={"type": "LineString", "coordinates": [[0, 0], [1, 1]]}),
        json.dumps({"granule_id": "nokey.nc"}),
        manifest_line(5, footprint=None),
    ]
    result = register_manifest(lines, collection())
    assert result.loaded == 2  # 1 and 5 (5 is empty: searchable by time only)
    reasons = dict(result.rejected)
    assert set(reasons) == {2, 3, 4, 5, 6}
    assert "sha256 'xyz'" in reasons[3]
    assert "not valid" in reasons[4]
    assert "LineString" in reasons[5]
    assert "missing key, sha256, size" in reasons[6]
    assert Swath.objects.get(granule_id="G00005.nc").is_empty


def test_wkt_footprints_pass_through_and_bad_wkt_is_rejected_alone() -> None:
    lines = [
        manifest_line(1, footprint="POLYGON ((10 10, 11 10, 11 11, 10 11, 10 10))"),
        manifest_line(2, footprint="MULTIPOLYGON (((20 20, 21 20, 21 21, 20 21, 20 20)))"),
        manifest_line(3, footprint="POLYGON ((10 10, 11 10, oops"),
        manifest_line(4, footprint="POLYGON ((170 0, 200 0, 200 5, 170 5, 170 0))"),  # lon 200
    ]
    result = register_manifest(lines, collection())
    assert result.loaded == 2
    assert [n for n, _ in result.rejected] == [3, 4]
    assert "not valid WKT" in result.rejected[0][1]
    assert "leaves lon/lat range" in result.rejected[1][1]
    assert Swath.objects.in_bbox(20.5, 20.5, 20.6, 20.6).get().granule_id == "G00002.nc"


def test_text_fields_with_tabs_and_backslashes_round_trip() -> None:
    register_manifest([manifest_line(1, granule_id="odd\\name\twith tab\n.nc",
                                     format="net\tcdf\\4")], collection())
    swath = Swath.objects.get()
    assert (swath.granule_id, swath.format) == ("odd\\name\twith tab\n.nc", "net\tcdf\\4")
    assert len(str(swath.uuid)) == 36 and str(swath.uuid)[14] == "4"


def test_platforms_and_instruments_are_stored_as_stac_names() -> None:
    register_manifest([manifest_line(1, platform="MetOp-B", instrument="ASCAT"),
                       manifest_line(2, platform="Foo Sat", instrument="")], collection())
    rows = dict(Swath.objects.values_list("granule_id", "platform"))
    assert rows == {"G00001.nc": "metop-b", "G00002.nc": "foo-sat"}
    first = Swath.objects.get(granule_id="G00001.nc")
    assert (first.constellation, first.instrument) == ("metop", "ascat")


def test_batches_parsed_ahead_keep_every_row_and_reject_in_line_order() -> None:
    # batch_size 4 over 23 lines: each batch is parsed in the read-ahead thread while
    # the one before it is COPYed, with bad lines spread over several batches.
    lines = [manifest_line(i) if i % 7 else "{not json" for i in range(1, 24)]
    result = register_manifest(lines, collection(), batch_size=4)
    assert [n for n, _ in result.rejected] == [7, 14, 21]
    assert result.loaded == 20
    assert Swath.objects.count() == 20


def test_a_manifest_that_fails_to_read_midway_raises_and_loads_no_partial_batch() -> None:
    def lines():
        for i in range(10):
            yield manifest_line(i)
        raise OSError("manifest.jsonl: read error at byte 4096")

    with pytest.raises(OSError, match="read error"):
        register_manifest(lines(), collection(), batch_size=4)
    # The two whole batches before the failure are in; the broken tail is not.
    assert Swath.objects.count() == 8


def test_footprints_are_checked_before_the_copy_and_stored_as_given() -> None:
    # Checked by shapely while the batch before is COPYed: each bad one is refused by
    # its line with the reason, and the good ones keep their coordinates exactly.
    ring = "10.123456789 -5.5, 11.25 -5.5, 11.25 -4.75, 10.123456789 -5.5"
    lines = [
        manifest_line(1, footprint=f"POLYGON (({ring}))"),
        manifest_line(2, footprint="POLYGON EMPTY"),
        manifest_line(3, footprint="LINESTRING (0 0, 1 1)"),
        manifest_line(4, footprint=42),
        manifest_line(5, footprint={"type": "Polygon",
                                    "coordinates": [[[0, 80], [1, 80], [1, 95], [0, 80]]]}),
        manifest_line(6, footprint="POLYGON ((0 0, 2 2, 2 0, 0 2, 0 0))"),  # a bow tie
        manifest_line(7, footprint=f"MULTIPOLYGON ((({ring})))", sha256="7" * 64),
    ]
    result = register_manifest(lines, collection(), trust_checksums=True)
    reasons = dict(result.rejected)
    assert (result.loaded, sorted(reasons)) == (3, [3, 4, 5, 6])
    assert "a LineString, not a (Multi)Polygon" in reasons[3]
    assert "not a readable geometry" in reasons[4]
    assert "leaves lon/lat range" in reasons[5]
    assert "not valid" in reasons[6]
    first = Swath.objects.get(granule_id="G00001.nc")
    assert first.footprint.geom_type == "MultiPolygon" and first.footprint.srid == 4326
    assert first.footprint.coords[0][0][0] == (10.123456789, -5.5)
    assert Swath.objects.get(granule_id="G00007.nc").footprint == first.footprint
    empty = Swath.objects.get(granule_id="G00002.nc")
    assert empty.is_empty and empty.footprint is None

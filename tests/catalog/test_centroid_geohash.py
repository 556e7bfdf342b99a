"""Swath.centroid_geohash always equals the geohash of its footprint's centroid.

The column is the database's (a stored generated column), so every way a footprint is
written keeps it: ingest, a bulk registration's COPY, reinspect's rewrite, a plain
update, and the migration that added it fills the rows already there. Each is checked
against the textbook geohash of GEOS's centroid, computed here in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from api.stac import storeditems
from catalog.bulkload import register_manifest
from catalog.models import CENTROID_GEOHASH_PRECISION, Swath
from tests.api.test_stac_aggregate import geohash
from tests.catalog.factories import collection, manifest_line
from tests.fixtures.geoloc_files import icesat2_subset
from tests.ingest.test_reinspect import SUBSET, SUMMARY, ingest, make_old, run

BEFORE = [("catalog", "0012_swath_coverage")]
AFTER = [("catalog", "0013_swath_centroid_geohash")]


def expected(footprint: GEOSGeometry | None) -> str | None:
    if footprint is None:
        return None
    c = footprint.centroid
    return geohash(c.x, c.y, CENTROID_GEOHASH_PRECISION)


def assert_no_drift() -> None:
    """Every row's stored geohash is its footprint's, read back from the database."""
    rows = list(Swath.objects.values_list("granule_id", "footprint", "centroid_geohash"))
    assert rows
    assert {g: h for g, _, h in rows} == {g: expected(fp) for g, fp, _ in rows}


@pytest.mark.django_db
def test_it_follows_ingest_and_reinspects_footprint_changes(tmp_path: Path) -> None:
    src = tmp_path / "incoming"
    src.mkdir()
    icesat2_subset(src / SUBSET)
    icesat2_subset(src / SUMMARY, summary_only=True, orbit=1)
    ingest([src / SUBSET, src / SUMMARY])
    assert Swath.objects.filter(centroid_geohash__isnull=False).count() == 2
    assert_no_drift()

    before = dict(Swath.objects.values_list("granule_id", "centroid_geohash"))
    for swath in Swath.objects.all():
        make_old(swath, src / swath.granule_id)  # a footprint from every pair: another centroid
    Swath.objects.filter(granule_id=SUMMARY).update(footprint=None, is_empty=True)
    assert Swath.objects.get(granule_id=SUMMARY).centroid_geohash is None
    assert Swath.objects.get(granule_id=SUBSET).centroid_geohash != before[SUBSET]
    assert_no_drift()

    code, out = run("--collection", "atl07")
    assert code == 0, out
    assert dict(Swath.objects.values_list("granule_id", "centroid_geohash")) == before
    assert_no_drift()


@pytest.mark.django_db
def test_it_follows_a_bulk_registration_and_a_saved_footprint() -> None:
    lines = [manifest_line(i) for i in range(40)]
    lines.append(manifest_line(40, footprint="MULTIPOLYGON (((-179 -60, -170 -60, -170 -50,"
                                             " -179 -50, -179 -60)))"))
    lines.append(manifest_line(41, footprint=None))
    result = register_manifest(lines, collection(), trust_checksums=True)
    assert (result.loaded, result.rejected) == (42, [])
    assert Swath.objects.get(granule_id="G00041.nc").centroid_geohash is None
    assert_no_drift()

    swath = Swath.objects.get(granule_id="G00003.nc")
    swath.footprint = MultiPolygon(Polygon.from_bbox((120, 30, 121, 31)), srid=4326)
    swath.save()
    swath.refresh_from_db()
    assert swath.centroid_geohash == geohash(120.5, 30.5, CENTROID_GEOHASH_PRECISION)
    assert_no_drift()


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    # The stored-item triggers read today's columns (api.apps installs them after each
    # migrate): an older schema runs without them, as it did then.
    storeditems.uninstall(connection)
    executor = MigrationExecutor(connection)
    yield executor
    executor = MigrationExecutor(connection)  # whatever happened, back to the latest
    executor.migrate(executor.loader.graph.leaf_nodes())
    storeditems.install(connection)


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_rows_already_there(executor: MigrationExecutor) -> None:
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    coll = old.get_model("catalog", "Collection").objects.create(slug="old", title="old")
    OldSwath = old.get_model("catalog", "Swath")
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    boxes = {"east": (10, 40, 12, 44), "south": (-70, -80, -60, -75), "none": None}
    for name, box in boxes.items():
        fp = MultiPolygon(Polygon.from_bbox(box), srid=4326) if box else None
        OldSwath.objects.create(collection=coll, granule_id=name, filename=name,
                                footprint=fp, is_empty=fp is None, start_time=t0,
                                end_time=t0, state="VERIFIED")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("catalog", "Swath")
    got = dict(new.objects.values_list("granule_id", "centroid_geohash"))
    assert got == {"east": geohash(11, 42, 8), "south": geohash(-65, -77.5, 8), "none": None}

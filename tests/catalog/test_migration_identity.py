"""Migration catalog/0004 identifies the swaths already in a catalog from what they kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from api.stac import storeditems

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("catalog", "0005_swath_footprint_warning")]
AFTER = [("catalog", "0006_swath_stac_identity")]


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    # The stored-item triggers are this code's, which reads the columns 0004 adds: a
    # catalog of before 0004 had its own (api.apps installs them after each migrate).
    storeditems.uninstall(connection)
    executor = MigrationExecutor(connection)
    yield executor
    executor = MigrationExecutor(connection)  # whatever happened, back to the latest
    executor.migrate(executor.loader.graph.leaf_nodes())
    storeditems.install(connection)


def test_existing_rows_get_stac_names_levels_and_orbit_numbers(
        executor: MigrationExecutor) -> None:
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    coll = old.get_model("catalog", "Collection").objects.create(slug="mixed", title="mixed")
    Swath = old.get_model("catalog", "Swath")
    t0 = datetime(2021, 4, 3, tzinfo=UTC)

    def row(granule: str, platform: str = "", instrument: str = "", orbit: int | None = None,
            attrs: dict | None = None) -> int:
        return Swath.objects.create(
            collection=coll, granule_id=granule, filename=granule + ".nc", platform=platform,
            instrument=instrument, orbit=orbit, attrs=attrs or {}, start_time=t0,
            end_time=t0, state="VERIFIED").pk

    ingested = row("S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00",
                   "Sentinel-6A", "Poseidon-4A", 1696, {"global_attrs": {
                       "mission_name": "Sentinel-6A", "altimeter_sensor_name": "Poseidon-4A",
                       "cycle_number": 14, "pass_number": 191}})
    registered = row("G00001", "Aqua", "MODIS")  # from a manifest: no attributes
    named = row("ascat_20211220_231800_metopb_48038_eps_o_250_3202_ovw.l2")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("catalog", "Swath")
    fields = ("platform", "constellation", "instrument", "processing_level", "orbit",
              "orbit_cycle", "pass_number")
    got = {pk: new.objects.values_list(*fields).get(pk=pk) for pk in (ingested, registered, named)}
    assert got[ingested] == ("sentinel-6a", "sentinel-6", "poseidon-4", "L2", 1696, 14, 191)
    assert got[registered] == ("aqua", "", "modis", "", None, None, None)
    assert got[named] == ("metop-b", "metop", "ascat", "L2", 48038, None, None)

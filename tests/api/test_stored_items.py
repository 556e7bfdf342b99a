"""STAC Items stored by the catalog's trigger (api.stac.storeditems) stay true to the rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from api.search import SwathSearch, run_search
from api.stac import items, storeditems
from api.stac.views import _page_rows
from catalog.bulkload import register_manifest
from catalog.models import Collection, Swath, SwathState
from tests.catalog.factories import box, collection, manifest_line, swath

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL trigger"),
]
T0 = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def item_path() -> str:
    """These tests are about the stored items themselves: the SQL path only."""
    return "sql-items"


def stored(pk: int) -> tuple[str | None, int | None]:
    """(text, revision) of the swath's stored item, (None, None) when it has none."""
    with connection.cursor() as cur:
        cur.execute("SELECT text, rev FROM api_stacitem WHERE swath_id = %s", [pk])
        return cur.fetchone() or (None, None)


def search_item(s: Swath, **params: Any) -> dict[str, Any]:
    body = APIClient().get("/stac/search", {"ids": str(s.uuid), **params}).json()
    (item,) = body["features"]
    return item


def python_item(s: Swath) -> dict[str, Any]:
    """The same item from the Python renderer (the embedded default's)."""
    page = run_search(SwathSearch(ids=[str(s.uuid)]), _page_rows(), items.ITEM_COLUMNS)
    (row,) = page.rows
    return json.loads(items.dumps(items.item(row, "http://testserver".__add__)))


def test_a_verified_row_carries_its_item_and_searches_serve_it() -> None:
    s = swath(box(1, 2, 3, 4), start=T0, platform="aqua", orbit=12)
    text, rev = stored(s.pk)
    assert rev == storeditems.REV and text is not None
    assert "testserver" not in text
    assert "\x01/stac/collections/" in text and "\x01/api/v1/swaths/" in text
    served = search_item(s)
    assert json.loads(text.replace("\x01", "http://testserver")) == served
    assert served == python_item(s)


def test_a_search_serves_the_stored_text_itself() -> None:
    s = swath(box(1, 2, 3, 4), start=T0, granule_id="real.nc")
    with connection.cursor() as cur:
        cur.execute("UPDATE api_stacitem SET text = replace(text, 'real.nc', 'from-store.nc')"
                    " WHERE swath_id = %s", [s.pk])
    assert search_item(s)["properties"]["title"] == "from-store.nc"


def test_updates_behind_the_orms_back_are_in_the_next_search() -> None:
    s = swath(box(1, 2, 3, 4), start=T0, orbit=12, attrs={})
    Swath.objects.filter(pk=s.pk).update(orbit=99, granule_id="renamed.nc",
                                         attrs={"cloud_cover": 40})
    item = search_item(s)
    assert item["properties"]["sat:absolute_orbit"] == 99
    assert item["properties"]["title"] == "renamed.nc"
    assert item["properties"]["eo:cloud_cover"] == 40
    assert stored(s.pk)[1] == storeditems.REV
    assert item == python_item(s)


def test_a_row_that_leaves_verified_keeps_no_item_and_gets_one_back() -> None:
    s = swath(box(1, 2, 3, 4), start=T0)
    Swath.objects.filter(pk=s.pk).update(state=SwathState.FAILED)
    assert stored(s.pk) == (None, None)
    assert APIClient().get("/stac/search", {"ids": str(s.uuid)}).json()["features"] == []
    Swath.objects.filter(pk=s.pk).update(state=SwathState.VERIFIED)
    assert stored(s.pk)[1] == storeditems.REV
    assert search_item(s) == python_item(s)


def test_a_rows_not_yet_verified_never_get_an_item() -> None:
    s = swath(box(1, 2, 3, 4), start=T0, state=SwathState.UPLOADING)
    assert stored(s.pk) == (None, None)


def test_a_collection_renamed_renames_its_items() -> None:
    s = swath(box(1, 2, 3, 4), start=T0, coll=collection("old-name"))
    Collection.objects.filter(slug="old-name").update(slug="new-name")
    item = search_item(s)
    assert item["collection"] == "new-name"
    assert {link["href"] for link in item["links"] if link["rel"] == "parent"} == {
        "http://testserver/stac/collections/new-name"}
    assert item == python_item(s)


def test_an_item_stored_by_another_revision_is_never_served_and_refresh_replaces_it() -> None:
    s = swath(box(1, 2, 3, 4), start=T0, orbit=5)
    with connection.cursor() as cur:
        # As an older renderer would have left it.
        cur.execute("UPDATE api_stacitem SET text = '{\"stale\": true}', rev = 1"
                    " WHERE swath_id = %s", [s.pk])
    assert search_item(s) == python_item(s)
    assert storeditems.stale(connection) == 1
    with pytest.raises(SystemExit) as stop:
        call_command("refresh_stac_items", "--check")
    assert stop.value.code == 1
    call_command("refresh_stac_items", "--batch", "1")
    assert storeditems.stale(connection) == 0
    text, rev = stored(s.pk)
    assert rev == storeditems.REV and "stale" not in text
    assert search_item(s) == python_item(s)


@pytest.mark.django_db(transaction=True)
def test_a_write_that_bypasses_the_triggers_is_never_served_stale() -> None:
    # Committed apart, as such writes are: the row's new version gets another xmin.
    s = swath(box(1, 2, 3, 4), start=T0, granule_id="before.nc")
    with connection.cursor() as cur:
        # As a replica or a data-only restore writes: no trigger runs.
        cur.execute("SET session_replication_role = replica")
        try:
            cur.execute("UPDATE catalog_swath SET granule_id = 'after.nc' WHERE id = %s",
                        [s.pk])
        finally:
            cur.execute("SET session_replication_role = DEFAULT")
    assert "before.nc" in stored(s.pk)[0]
    assert search_item(s)["properties"]["title"] == "after.nc"
    assert storeditems.stale(connection) == 1
    call_command("refresh_stac_items")
    assert "after.nc" in stored(s.pk)[0]
    assert search_item(s) == python_item(s)


def test_a_footprint_whose_box_wraps_is_stored_and_served_with_its_bbox() -> None:
    s = swath(box(172, -5, -178, 5), start=T0)
    assert stored(s.pk)[1] == storeditems.REV
    item = search_item(s)
    assert item["bbox"] == [172, -5, -178, 5]
    assert item == python_item(s)


def test_the_base_url_is_spliced_in_escaped() -> None:
    s = swath(box(1, 2, 3, 4), start=T0)
    base = 'http://h\\"q'
    page = run_search(SwathSearch(ids=[str(s.uuid)]), render=storeditems.render(base))
    item = json.loads(storeditems.finish(page.rows[0]))
    assert item["assets"]["data"]["href"] == f"{base}/api/v1/swaths/{s.uuid}/download"
    assert item["links"][-1]["href"] == f"{base}/stac/"


def test_rows_registered_by_the_bulk_copy_carry_their_items() -> None:
    register_manifest([manifest_line(1)], collection(), trust_checksums=True)
    s = Swath.objects.get(granule_id="G00001.nc")
    assert stored(s.pk)[1] == storeditems.REV
    assert search_item(s) == python_item(s)


@pytest.mark.django_db(transaction=True)
def test_a_committed_bulk_load_has_its_items_stored_beside_it() -> None:
    result = register_manifest([manifest_line(i) for i in range(250)], collection(), batch_size=64,
                               trust_checksums=True)
    assert result.loaded == 250
    assert storeditems.stale(connection) == 0
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM api_stacitem WHERE rev = %s", [storeditems.REV])
        assert cur.fetchone()[0] == 250
    s = Swath.objects.get(granule_id="G00100.nc")
    assert search_item(s) == python_item(s)


@pytest.mark.django_db(transaction=True)
def test_a_bulk_load_whose_items_cannot_be_stored_still_loads_and_searches(
        caplog: pytest.LogCaptureFixture) -> None:
    with connection.cursor() as cur:
        cur.execute("DROP FUNCTION swathstore_store_items(bigint[], boolean, boolean)")
    try:
        result = register_manifest([manifest_line(i) for i in range(100)], collection(),
                                   batch_size=40, trust_checksums=True)
    finally:
        storeditems.install(connection)
    assert (result.loaded, result.rejected) == (100, [])
    assert "refresh_stac_items" in caplog.text
    assert storeditems.stale(connection) == 100
    s = Swath.objects.get(granule_id="G00042.nc")
    assert search_item(s) == python_item(s)
    call_command("refresh_stac_items")
    assert storeditems.stale(connection) == 0

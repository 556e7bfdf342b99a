"""Batch reads fall back to a manifest item's replica when its first copy is missing or
does not match, before the kernel reads a byte; the reasons are kept with the item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpc.extract import main
from hpc.sources import open_item
from tests.hpc.conftest import outputs_of, report_of


def with_replica(item: dict, first: dict) -> dict:
    """``item`` read first from ``first`` (a broken copy), its real copy as the replica."""
    replica = {k: item[k] for k in ("store_url", "key", "codec") if k in item}
    return {**item, **first, "replicas": [replica]}


def test_a_missing_first_copy_is_read_from_the_replica(node_env: dict, staged: list[dict],
                                                       tmp_path: Path) -> None:
    item = with_replica(staged[0], {"key": "swaths/gone/x.nc"})
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps(item) + "\n")
    assert main(["--manifest", str(manifest), "--out", str(tmp_path / "out"), "--mapping",
                 "serial", "--progress", "60"]) == 0
    assert report_of(tmp_path / "out")["counts"]["done"] == 1
    assert len(outputs_of(tmp_path / "out")) == 1


def test_a_first_copy_that_does_not_match_is_passed_over_with_its_reason(
        node_env: dict, staged: list[dict], tmp_path: Path) -> None:
    # Another swath's object under the first key: its recorded sha256 is not the item's.
    item = with_replica(staged[0], {"key": staged[1]["key"]})
    problems: list[str] = []
    with open_item(item, tmp_path, problems) as src:
        assert src is not None
    assert len(problems) == 1 and "does not match the manifest" in problems[0]
    assert staged[1]["key"] in problems[0]


@pytest.mark.django_db
def test_a_catalog_plan_lists_the_other_verified_copies_as_replicas(settings) -> None:
    from catalog.models import StoredObject
    from hpc.plan import plan_from_catalog
    from tests.catalog.factories import box, swath

    settings.ARCHIVE_STORES = {"primary": "s3://bucket/p", "offsite": "s3://other/o"}
    both, degraded = swath(box(0, 0, 1, 1)), swath(box(0, 0, 1, 1))
    for s in (both, degraded):
        for store in ("primary", "offsite"):
            StoredObject.objects.create(swath=s, store=store, key=f"swaths/{s.uuid}/a.nc",
                                        state="VERIFIED")
    StoredObject.objects.filter(swath=degraded, store="primary").update(state="MISSING")
    items = {i["id"]: i for i in plan_from_catalog(bbox="-1,-1,2,2").items}
    first = items[str(both.uuid)]
    assert first["store_url"] == "s3://bucket/p"
    assert [(r["store"], r["store_url"]) for r in first["replicas"]] == [
        ("offsite", "s3://other/o")]
    second = items[str(degraded.uuid)]  # its primary copy is MISSING: read from offsite
    assert second["store"] == "offsite" and "replicas" not in second

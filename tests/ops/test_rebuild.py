"""`archive rebuild-catalog`: an empty catalog comes back from the store's objects alone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command

from catalog.models import StoredObject, Swath
from ops.rebuild import rebuild_catalog
from tests.support.ingesting import copies_of, ingest_paths

pytestmark = pytest.mark.django_db

FILES = ("GPM_test_file.HDF5", "SS_MODIS_A-JPL-L2P-v2014.0.nc",
         "ascat_20211220_231800_metopb_48038_eps_o_250_3202_ovw.l2.nc4")


@pytest.fixture
def archived(s3_primary, shared_swaths: Path, tmp_path: Path) -> dict[str, dict]:
    """Three real granules ingested into rclone's S3 server, then the catalog dropped."""
    run = ingest_paths([copies_of(shared_swaths, FILES, tmp_path / "src")], "orig")
    assert run.n_new == 3, run.errors
    before = {
        s.uuid.hex: {"sha256": s.sha256, "start": s.start_time, "end": s.end_time,
                     "footprint": s.footprint, "key": s.copies.get().key}
        for s in Swath.objects.all()
    }
    StoredObject.objects.all().delete()
    Swath.objects.all().delete()
    return before


def test_an_empty_catalog_is_rebuilt_from_the_store(archived, s3_primary) -> None:
    result = rebuild_catalog("rebuilt", verify=True)
    assert (result.listed, result.created, result.verified, result.failed) == (3, 3, 3, 0), \
        result.lines
    for uuid_hex, was in archived.items():
        swath = Swath.objects.get(uuid=uuid_hex)
        assert swath.state == "VERIFIED" and swath.sha256 == was["sha256"]
        assert (swath.start_time, swath.end_time) == (was["start"], was["end"])
        if was["footprint"] is None:
            assert swath.footprint is None
        else:
            assert swath.footprint.equals_exact(was["footprint"], 1e-9)
        copy = swath.copies.get()
        assert copy.key == was["key"] and copy.state == "VERIFIED"
        s3_primary.verify(copy.key, swath.sha256, codec=copy.codec)
    # Searchable by time again, through the same querysets the API uses.
    starts = sorted(w["start"] for w in archived.values())
    hits = Swath.objects.verified().between(starts[0], starts[0])
    assert hits.count() >= 1
    assert rebuild_catalog("rebuilt").created == 0  # a re-run adds nothing


def test_objects_whose_metadata_was_lost_are_rehashed(archived, s3_primary,
                                                      rclone_s3) -> None:
    """rclone forgets user metadata on restart: sizes and hashes come from the bytes.
    (Rewritten here without metadata: restarting the session's server would disturb
    other tests.)"""
    client = rclone_s3.client()
    for was in archived.values():
        s3_key = s3_primary.prefix + was["key"]
        body = client.get_object(Bucket=rclone_s3.bucket, Key=s3_key)["Body"].read()
        client.put_object(Bucket=rclone_s3.bucket, Key=s3_key, Body=body)
    key = next(iter(archived.values()))["key"]
    assert s3_primary.head(key).sha256 is None, "the metadata is gone"
    result = rebuild_catalog("rebuilt", verify=True)
    assert result.created == 3 and result.failed == 0, result.lines
    for uuid_hex, was in archived.items():
        swath = Swath.objects.get(uuid=uuid_hex)
        # Nothing recorded to verify against: STORED, with the hash of the bytes read.
        assert swath.state == "STORED" and swath.sha256 == was["sha256"]
    assert StoredObject.objects.filter(state="STORED").count() == 3


def test_an_object_whose_bytes_differ_from_its_metadata_is_not_trusted(
    archived, s3_primary, rclone_s3, capsys
) -> None:
    """An object whose recorded sha256 does not match its bytes comes back CORRUPT."""
    victim = f"swaths/{'ab' * 16}/{'cd' * 16}.nc"
    rclone_s3.client().put_object(
        Bucket=rclone_s3.bucket, Key=s3_primary.prefix + victim,
        Body=(Path(__file__).parent / "test_rebuild.py").read_bytes(),
        Metadata={"sha256": "0" * 64, "codec": "none"},
    )
    with pytest.raises(SystemExit) as exit_info:
        call_command("archive", "rebuild-catalog", "--collection", "rebuilt", "--verify",
                     "--no-inspect")
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert f"CORRUPT {victim}" in out and "3 rows created (3 VERIFIED)" in out
    assert StoredObject.objects.get(key=victim).state == "CORRUPT"
    assert Swath.objects.get(uuid="ab" * 16).state == "FAILED"


def test_without_inspection_rows_are_still_created(archived) -> None:
    result = rebuild_catalog("rebuilt", inspect=False)
    assert result.created == 3
    assert Swath.objects.filter(start_time__isnull=True).count() == 3
    assert datetime.now(UTC)  # rows are there; times need --inspect (the default)

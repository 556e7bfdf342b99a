"""`archive fsck` and `archive cleanup` against rclone's file-backed S3 server: objects
changed or deleted behind the service's back are found, stale uploads aborted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

from catalog.models import StoredObject, Swath
from tests.support.commands import archive_command
from tests.support.ingesting import copies_of, ingest_paths

pytestmark = pytest.mark.django_db

FILES = ("ATL03_gt1l.h5", "GPM_test_file.HDF5", "SS_MODIS_A-JPL-L2P-v2014.0.nc")


@pytest.fixture
def archived(s3_primary, shared_swaths: Path, tmp_path: Path) -> dict[str, StoredObject]:
    run = ingest_paths([copies_of(shared_swaths, FILES, tmp_path / "src")], "fsck")
    assert run.n_new == 3, run.errors
    return {o.swath.granule_id: o for o in StoredObject.objects.select_related("swath")}


def fsck(capsys, *args: str) -> tuple[int, str]:
    code, out, _ = archive_command(capsys, "fsck", *args)
    return code, out


def data_file(s3_primary, rclone_s3, key: str) -> Path:
    return rclone_s3.object_path(s3_primary.prefix + key)  # the prefix ends with "/"


def test_a_clean_archive_passes_fsck(archived, capsys) -> None:
    code, out = fsck(capsys, "--full")
    assert code == 0, out
    assert "3 catalogued copies checked" in out and "MISSING 0, CORRUPT 0" in out


def test_a_deleted_object_is_missing(archived, s3_primary, rclone_s3, capsys,
                                     tmp_path: Path) -> None:
    gone = archived["GPM_test_file.HDF5"]
    data_file(s3_primary, rclone_s3, gone.key).unlink()
    rclone_s3.forget()  # rclone caches its directory listing
    report = tmp_path / "report.txt"
    code, out = fsck(capsys, "--report", str(report))
    assert code == 1
    assert f"MISSING      primary:{gone.key}" in out
    assert report.read_text().count("MISSING") == 1


def test_a_flipped_byte_is_corrupt_under_full_fsck_only(archived, s3_primary, rclone_s3,
                                                        capsys) -> None:
    victim = archived["SS_MODIS_A-JPL-L2P-v2014.0.nc"]
    path = data_file(s3_primary, rclone_s3, victim.key)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    rclone_s3.forget()
    assert fsck(capsys)[0] == 0  # same size, same metadata: a HEAD cannot see it
    code, out = fsck(capsys, "--full")
    assert code == 1
    assert f"CORRUPT      primary:{victim.key}" in out
    assert sum(line.startswith("CORRUPT") for line in out.splitlines()) == 1


def test_an_unknown_object_is_an_orphan(archived, s3_primary, capsys, tmp_path: Path) -> None:
    stray = tmp_path / "stray.bin"
    stray.write_bytes(b"x" * 1000)
    s3_primary.put("swaths/not-catalogued/1", stray)
    code, out = fsck(capsys)
    assert code == 1
    assert "ORPHAN       primary:swaths/not-catalogued/1" in out


def named_side_objects() -> set[str]:
    """Keys of the quicklooks and chunk indexes the swaths' records name."""
    return {swath.attrs[entry]["key"] for swath in Swath.objects.all()
            for entry in ("quicklook", "chunk_index") if entry in swath.attrs}


def put_strays(store, tmp_path: Path) -> list[str]:
    stray = tmp_path / "stray.bin"
    stray.write_bytes(b"{}")
    keys = ["indexes/0123abcd/stale.json", "quicklooks/0123abcd/stale.png"]
    for key in keys:
        store.put(key, stray)
    return keys


def test_side_objects_no_swath_names_are_orphans(archived, s3_primary, capsys,
                                                 tmp_path: Path) -> None:
    named = named_side_objects()
    assert named, "the ingest kept no quicklook or index: the clean check proves nothing"
    assert fsck(capsys)[0] == 0  # every recorded one is known
    strays = put_strays(s3_primary, tmp_path)
    code, out = fsck(capsys)
    assert code == 1
    orphans = [line for line in out.splitlines() if line.startswith("ORPHAN")]
    assert len(orphans) == 2 and all(f"primary:{key}" in out for key in strays)


def test_reconcile_deletes_old_side_orphans_and_keeps_named_ones(archived, s3_primary,
                                                                 tmp_path: Path) -> None:
    from ops.derived import DERIVED
    from ops.reconcile import reconcile

    named = named_side_objects()
    strays = put_strays(s3_primary, tmp_path)

    def side_keys() -> set[str]:
        return {info.key for prefix in DERIVED for info in s3_primary.list(prefix)}

    young = reconcile(apply=True)  # within the grace: a record may be on its way
    assert f"ORPHAN primary:{strays[0]}" in young.lines and side_keys() == {*named, *strays}
    report = reconcile(apply=True, grace=timedelta(0))
    assert {f"ORPHAN primary:{key} (deleted)" for key in strays} <= set(report.lines)
    assert side_keys() == named


def test_cleanup_aborts_stale_multipart_uploads_by_database_time(archived, s3_primary,
                                                                 rclone_s3, capsys) -> None:
    client = rclone_s3.client()
    full_key = f"{s3_primary.prefix}swaths/abandoned/1"
    client.create_multipart_upload(Bucket=rclone_s3.bucket, Key=full_key)
    code, out = fsck(capsys)
    assert code == 1 and "STALE_UPLOAD" in out
    call_command("archive", "cleanup", "--older-than", "0s")
    assert "1 uploads aborted" in capsys.readouterr().out
    assert s3_primary.list_uploads() == []


def test_verify_command_rehashes_one_object(archived, capsys) -> None:
    obj = archived["ATL03_gt1l.h5"]
    call_command("archive", "verify", obj.key)
    out = capsys.readouterr().out
    assert f"OK {obj.key}" in out
    assert Swath.objects.get(pk=obj.swath_id).sha256 in out

"""Bulk ingest on PostGIS with real files: every real granule goes through, re-runs
are idempotent, a bad file never stops the batch and is never marked stored."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

import archive.config
from archive.streaming import sha256_file
from catalog.models import IngestRun, StoredObject, Swath
from ingest.bulk import start_run
from tests.support.ingesting import ingest_paths

pytestmark = pytest.mark.django_db


def ingest(paths: list[Path], **options: object) -> IngestRun:
    return ingest_paths(paths, "mixed", **options)


@pytest.fixture
def tree(tmp_path: Path, shared_swaths: Path) -> Path:
    """A copy of the real granules, so tests may change them."""
    root = tmp_path / "incoming"
    shutil.copytree(shared_swaths, root, ignore=shutil.ignore_patterns("*.md"))
    return root


@pytest.mark.django_db(transaction=True)  # worker threads use their own connections
def test_every_real_granule_is_archived_and_verified(tree: Path) -> None:
    run = ingest([tree], workers=2)
    assert (run.n_files, run.n_new, run.n_failed) == (13, 13, 0), run.errors
    store = archive.config.get_store("primary")
    for swath in Swath.objects.all():
        assert swath.state == "VERIFIED"
        assert swath.sha256 == sha256_file(tree / swath.granule_id)
        (copy,) = swath.copies.all()
        info = store.verify(copy.key, swath.sha256)
        assert info.size == (tree / swath.granule_id).stat().st_size
    empty = Swath.objects.get(granule_id__startswith="ascat_20211220")
    assert empty.is_empty and empty.footprint is None
    assert Swath.objects.filter(is_empty=False, footprint__isnull=True).count() == 0


def test_netcdf4_is_stored_as_is_and_netcdf3_compressed(tree: Path) -> None:
    ingest([tree / "SS_MODIS_A-JPL-L2P-v2014.0.nc",
            tree / "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc"])
    codecs = dict(StoredObject.objects.values_list("swath__format", "codec"))
    assert codecs == {"netcdf4": "none", "netcdf3": "zstd"}


def test_a_rerun_skips_unchanged_files_without_new_rows(tree: Path) -> None:
    ingest([tree])
    again = ingest([tree])
    assert (again.n_new, again.n_skipped, again.n_failed) == (0, 13, 0)
    assert Swath.objects.count() == 13 and StoredObject.objects.count() == 13


def test_a_changed_file_becomes_a_new_version(tree: Path) -> None:
    target = tree / "GPM_test_file.HDF5"
    ingest([target])
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF  # a change in the last (unused) byte keeps the file readable
    target.write_bytes(bytes(data))
    run = ingest([target])
    assert run.n_new == 1
    versions = sorted(Swath.objects.filter(granule_id=target.name).values_list("version", "state"))
    assert versions == [(1, "VERIFIED"), (2, "VERIFIED")]


def test_the_same_bytes_under_another_name_are_not_stored_twice(tree: Path) -> None:
    src = tree / "ATL03_gt1l.h5"
    twin_dir = tree.parent / "twin"
    twin_dir.mkdir()
    shutil.copy2(src, twin_dir / "ATL03_copy.h5")
    ingest([src])
    run = ingest([twin_dir])
    assert (run.n_new, run.n_skipped) == (0, 1)
    assert "already archived as mixed:ATL03_gt1l.h5" in run.items.get().reason
    assert Swath.objects.count() == 1


def test_bad_files_fail_with_a_reason_and_the_batch_goes_on(tree: Path) -> None:
    good = tree / "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc"
    truncated = tree / "truncated.nc"
    truncated.write_bytes(good.read_bytes()[:20000])
    (tree / "notes.txt").write_text("not a swath")
    os.symlink("/etc/passwd", tree / "escape.nc")
    os.mkfifo(tree / "pipe.nc")
    run = ingest([tree])
    assert run.n_new == 13
    reasons = {Path(e["path"]).name: e["reason"] for e in run.errors}
    assert set(reasons) == {"truncated.nc", "notes.txt", "escape.nc", "pipe.nc"}
    assert "symbolic link" in reasons["escape.nc"]
    assert "not a regular file" in reasons["pipe.nc"]
    for name in ("truncated.nc", "notes.txt"):
        row = Swath.objects.get(granule_id=name)
        assert row.state == "FAILED" and row.failure_reason
        assert not row.copies.exists()
    assert run.state == "FAILED"


def test_failed_files_are_resumed_by_the_next_run(tree: Path) -> None:
    target = tree / "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc"
    good = target.read_bytes()
    target.write_bytes(good[:5000])
    first = ingest([target])
    assert first.n_failed == 1
    target.write_bytes(good)
    second = ingest([target])
    assert second.n_new == 1
    (row,) = Swath.objects.filter(granule_id=target.name)
    assert row.state == "VERIFIED" and row.version == 1


def test_a_new_run_gives_a_file_out_of_attempts_a_fresh_count(tree: Path) -> None:
    """Three failed attempts stop the automatic retries of the run that made them, not
    the data manager's next run (after an outage that used every attempt up)."""
    from catalog.services import MAX_ATTEMPTS
    from ingest.pipeline import ingest_file

    target = tree / "SS_MODIS_A-JPL-L2P-v2014.0.nc"
    good = target.read_bytes()
    target.write_bytes(good[:5000])
    first = ingest([target])
    (row,) = Swath.objects.all()
    Swath.objects.filter(pk=row.pk).update(attempts=MAX_ATTEMPTS)
    target.write_bytes(good)
    redelivered = ingest_file(target, first.collection_id, ingest_run_id=first.pk)
    assert redelivered.status == "failed" and "attempts exhausted" in redelivered.reason
    second = ingest([target])
    assert second.n_new == 1, second.errors
    row.refresh_from_db()
    assert (row.state, row.attempts, row.version) == ("VERIFIED", 1, 1)


def test_reconcile_stops_retrying_an_unreadable_file_after_three_inspections(
        tree: Path) -> None:
    from catalog.services import MAX_ATTEMPTS
    from ops.reconcile import reconcile

    target = tree / "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc"
    target.write_bytes(target.read_bytes()[:5000])
    ingest([target])
    sweeps = 0
    while any(line.startswith("REQUEUE") for line in reconcile("primary", apply=True).lines):
        sweeps += 1
        assert sweeps < 10, "reconcile keeps re-reading an unreadable file"
    (row,) = Swath.objects.all()
    assert (row.state, row.attempts, sweeps) == ("FAILED", MAX_ATTEMPTS, MAX_ATTEMPTS - 1)
    assert "unreadable" in row.failure_reason or "HDF5" in row.failure_reason, \
        row.failure_reason


def test_a_failed_inspection_leaves_another_workers_live_upload_alone(tree: Path) -> None:
    """A redelivered task whose inspection fails (a timeout under load, a file replaced
    mid-way) while the first delivery uploads must not fail that upload."""
    from catalog import services
    from ingest.pipeline import ingest_file, source_info

    target = tree / "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc"
    coll, _ = services.get_or_create_collection("leases")
    row = services.register_swath(coll.pk, source_info(target), {"filename": target.name})
    assert services.claim_upload(row.pk, "first-delivery", 600)
    target.write_bytes(target.read_bytes()[:5000])  # this delivery's inspection fails
    outcome = ingest_file(target, coll.pk)
    row.refresh_from_db()
    assert outcome.status == "skipped" and "another worker is uploading it" in outcome.reason
    assert (row.state, row.lease_owner, row.attempts) == ("UPLOADING", "first-delivery", 1)


@pytest.mark.django_db(transaction=True)  # by default files run in threads, own connections
def test_ingest_command_prints_scan_summary_progress_and_table(tree: Path, capsys) -> None:
    from ingest.management.commands.ingest import MAX_DEFAULT_WORKERS

    log = tree.parent / "ingest.log"
    call_command("ingest", str(tree), "--collection", "cli-test", "--log", str(log),
                 "--include", "SS_*")
    # one file per core by default
    workers = IngestRun.objects.get().options["workers"]
    assert workers == max(1, min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1))
    out = capsys.readouterr().out
    assert "collection 'cli-test' does not exist: creating it with defaults" in out
    assert "scan: 3 files" in out
    assert "[3/3]" in out and "MB/s" in out
    assert "  new           3" in out
    assert "ingest run" in log.read_text()


def test_dry_run_archives_nothing(tree: Path, capsys) -> None:
    call_command("ingest", str(tree), "--collection", "dry", "--dry-run")
    assert "scan: 13 files" in capsys.readouterr().out
    assert not Swath.objects.exists()


@pytest.mark.django_db(transaction=True)  # by default files run in threads, own connections
def test_ingest_command_exits_nonzero_when_a_file_failed(tree: Path) -> None:
    (tree / "junk.nc").write_bytes(b"CDF\x01" + b"\x00" * 100)
    with pytest.raises(SystemExit) as exit_info:
        call_command("ingest", str(tree / "junk.nc"), "--collection", "junk")
    assert exit_info.value.code == 1


@pytest.fixture
def two_stores(settings, tmp_path: Path, s3_server) -> None:
    """primary: a local directory; offsite: a real S3 server (each in turn) over HTTP."""
    from tests.support.stores import stores_on

    settings.ARCHIVE_POLICIES = {"single": ["primary"], "replicate": ["primary", "offsite"],
                                 "copy3": ["primary", "offsite"]}
    with stores_on(settings, {"primary": (tmp_path / "primary").as_uri(),
                              "offsite": f"s3://{s3_server.bucket}/offsite-{tmp_path.name}"},
                   s3_server):
        yield


def test_replicate_policy_keeps_two_verified_copies(tree: Path, two_stores: None) -> None:
    run = ingest([tree / "ATL03_gt1l.h5", tree / "GPM_test_file.HDF5"], policy="replicate")
    assert run.n_new == 2, run.errors
    for swath in Swath.objects.all():
        copies = {c.store: c for c in swath.copies.all()}
        assert set(copies) == {"primary", "offsite"}
        assert {c.state for c in copies.values()} == {"VERIFIED"}
        offsite = archive.config.get_store("offsite")
        assert offsite.verify(copies["offsite"].key, swath.sha256).size == swath.size


def test_a_policy_needing_more_stores_than_configured_fails_clearly(tree: Path,
                                                                    two_stores: None) -> None:
    run = ingest([tree / "ATL03_gt1l.h5"], policy="copy3")
    assert run.n_failed == 1
    assert "policy copy3 needs 3 stores" in run.errors[0]["reason"]


def test_a_name_that_is_not_utf8_is_archived_under_an_escaped_name(tree: Path) -> None:
    odd = os.path.join(os.fsencode(tree), b"granule-\xe9.h5")
    shutil.copy2(tree / "ATL03_gt1l.h5", odd)
    run = ingest([Path(os.fsdecode(odd))])
    assert run.n_new == 1, run.errors
    swath = Swath.objects.get()
    assert swath.granule_id == "granule-\\xe9.h5"
    assert "granule-\\xe9.h5" in run.items.get().path


def test_a_file_growing_during_upload_is_never_verified(tree: Path) -> None:
    """S12: a writer appends while the file is archived; the change is detected."""
    import threading
    import time

    growing = tree / "growing.nc"
    shutil.copy2(tree / "SS_MODIS_A-JPL-L2P-v2014.0.nc", growing)
    stop = threading.Event()

    def append() -> None:
        with growing.open("ab") as out:
            while not stop.is_set():
                out.write(b"\0" * 4096)
                out.flush()
                time.sleep(0.002)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        run = ingest([growing])
    finally:
        stop.set()
        writer.join()
    final = sha256_file(growing)
    assert not Swath.objects.filter(state="VERIFIED").exclude(sha256=final).exists()
    assert run.n_failed == 1
    assert "changed while it was being archived" in run.errors[0]["reason"]


@pytest.mark.django_db(transaction=True)  # the lease keeper renews on its own connection
def test_an_upload_longer_than_its_lease_keeps_the_lease_and_is_verified(
        tree: Path, settings: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without renewal another worker could claim the swath mid-upload and start again."""
    import time
    import uuid

    from catalog import services
    from ingest.pipeline import ingest_file

    settings.UPLOAD_LEASE_S = 2  # type: ignore[attr-defined]  # renewed every second
    store = archive.config.get_store("primary")
    seen: dict[str, object] = {}
    real_put = store.put

    def slow_put(key: str, *args: object, **kwargs: object) -> object:
        if not key.startswith("swaths/"):  # the chunk index and quicklook come after VERIFIED
            return real_put(key, *args, **kwargs)
        swath = Swath.objects.get(uuid=uuid.UUID(key.split("/")[1]))
        seen["lease_at_start"] = swath.lease_until
        time.sleep(4.5)  # more than twice the lease
        seen["lease_after"] = Swath.objects.get(pk=swath.pk).lease_until
        seen["intruder_claimed"] = services.claim_upload(swath.pk, "intruder", 60)
        return real_put(key, *args, **kwargs)

    monkeypatch.setattr(store, "put", slow_put)
    collection_id = start_run("leases", [], [], paths=[], options={}).collection_id
    outcome = ingest_file(tree / "GPM_test_file.HDF5", collection_id)
    assert outcome.status == "new", outcome.reason
    assert seen["intruder_claimed"] is False
    assert seen["lease_after"] > seen["lease_at_start"]
    swath = Swath.objects.get(pk=outcome.swath_id)
    assert (swath.state, swath.attempts) == ("VERIFIED", 1)

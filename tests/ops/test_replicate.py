"""`archive replicate` brings archived swaths up to a policy across real servers: every copy
verified before it counts, a re-run does nothing, a store that fails mid-run leaves FAILED
lines and no VERIFIED row, and an interrupted copy's leftovers are never trusted."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Collection, StoredObject, Swath
from ops.replicate import SwathLine, replicate_collection
from tests.support.ingesting import ingest_paths
from tests.support.policystores import stores_from_env, three_store_env

pytestmark = pytest.mark.django_db

GRANULES = ["SS_MODIS_A-JPL-L2P-v2014.0.nc", "GPM_test_file.HDF5", "ATL03_gt1l.h5"]


@pytest.fixture
def archived(settings, tmp_path: Path, shared_swaths: Path, rclone_s3, seaweed_s3,
             s3_prefix: str):
    """Three swaths archived with one copy each (primary on rclone), and the stores of
    copy3 configured: offsite on SeaweedFS, tertiary a local directory."""
    settings.INGEST_QUICKLOOKS = False
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for name in GRANULES:
        shutil.copy2(shared_swaths / name, incoming / name)
    env = three_store_env(rclone_s3, seaweed_s3, tmp_path, s3_prefix)
    with stores_from_env(settings, env):
        run = ingest_paths([incoming], "old", policy="single")
        assert run.n_new == 3, run.errors
        yield {"env": env, "tmp": tmp_path}


def verified_stores() -> dict[str, set[str]]:
    """Each swath's granule name -> the stores holding a VERIFIED copy of it."""
    found: dict[str, set[str]] = {}
    for granule, store in StoredObject.objects.filter(state="VERIFIED").values_list(
            "swath__granule_id", "store"):
        found.setdefault(granule, set()).add(store)
    return found


def test_replicate_brings_single_copies_up_to_replicate_then_copy3_and_a_rerun_does_nothing(
        archived: dict, capsys) -> None:
    import archive.config

    call_command("archive", "replicate", "--collection", "old", "--policy", "replicate")
    out = capsys.readouterr().out
    assert out.count("COPIED ") == 3 and "offsite from primary" in out
    assert ("replicate old to replicate (primary, offsite): 3 VERIFIED swaths checked, "
            "0 already complete, 3 brought up, 0 failed; 3 copies copied") in out
    assert all(s == {"primary", "offsite"} for s in verified_stores().values())

    call_command("archive", "replicate", "--collection", "old", "--policy", "copy3",
                 "--batch", "2")
    out = capsys.readouterr().out
    assert out.count("COPIED ") == 3 and "tertiary from primary" in out
    assert "3 brought up, 0 failed; 3 copies copied" in out
    assert all(s == {"primary", "offsite", "tertiary"} for s in verified_stores().values())
    for swath in Swath.objects.all():
        for copy in swath.copies.all():
            store = archive.config.get_store(copy.store)
            assert store.verify(copy.key, swath.sha256).size == swath.size

    call_command("archive", "replicate", "--collection", "old", "--policy", "copy3")
    out = capsys.readouterr().out
    assert "COPIED" not in out
    assert "3 VERIFIED swaths checked, 3 already complete, 0 brought up, 0 failed; " \
           "0 copies copied, 0.0 MB" in out
    assert Collection.objects.get(slug="old").default_policy == "single"  # left alone


def test_a_dry_run_lists_the_copies_and_makes_none(archived: dict, capsys) -> None:
    call_command("archive", "replicate", "--collection", "old", "--policy", "copy3",
                 "--dry-run")
    out = capsys.readouterr().out
    assert out.count("WOULD COPY ") == 6
    assert "3 to bring up, 0 failed; 6 copies would copy" in out
    assert all(s == {"primary"} for s in verified_stores().values())
    assert not StoredObject.objects.exclude(store="primary").exists()


def test_set_default_makes_the_policy_the_collections_and_later_ingests_follow(
        archived: dict, shared_swaths: Path, capsys) -> None:
    call_command("archive", "replicate", "--collection", "old", "--policy", "replicate",
                 "--set-default")
    assert Collection.objects.get(slug="old").default_policy == "replicate"
    late = archived["tmp"] / "late"
    late.mkdir()
    shutil.copy2(shared_swaths / "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc", late)
    assert ingest_paths([late], "old").n_new == 1
    assert all(s == {"primary", "offsite"} for s in verified_stores().values())


def test_a_store_that_fails_mid_run_leaves_a_failed_line_and_no_verified_copy(
        archived: dict, settings, seaweed_s3, tcp_proxy) -> None:
    proxy = tcp_proxy(seaweed_s3.endpoint_url)
    env = {**archived["env"], "STORE_OFFSITE_ENDPOINT_URL": proxy.endpoint_url}
    lines: list[SwathLine] = []
    given_up: list[str] = []

    def cut_after_first(line: SwathLine) -> None:
        lines.append(line)
        proxy.stop()  # offsite goes away after the first swath's copy

    with stores_from_env(settings, env):
        report = replicate_collection(
            "old", "replicate", on_swath=cut_after_first, give_up_after=1,
            on_give_up=lambda store, why: given_up.append(f"{store}: {why}"))
    assert (report.brought_up, report.failed, report.not_tried) == (1, 1, 1)
    assert lines[0].lines()[0].startswith(f"COPIED {lines[0].uuid} offsite from primary")
    (failed,) = lines[1].lines()
    assert failed.startswith(f"FAILED {lines[1].uuid} offsite (from primary): "
                             "TransientArchiveError: ")
    assert lines[2].lines() == []  # not tried: offsite was given up after one failure
    assert given_up == [f"offsite: its last 1 copies failed, the last with: "
                        f"{lines[1].outcomes[0].reason}"]
    assert "1 failed, 1 not tried (offsite given up)" in report.summary()
    offsite = StoredObject.objects.filter(store="offsite")
    assert set(offsite.values_list("swath__uuid", "state")) == {
        (uuid.UUID(lines[0].uuid), "VERIFIED"), (uuid.UUID(lines[1].uuid), "FAILED")}

    # With offsite back, a re-run copies only what is missing.
    with stores_from_env(settings, archived["env"]):
        report = replicate_collection("old", "replicate")
    assert (report.complete, report.brought_up, report.failed, report.copies) == (1, 2, 0, 2)
    assert offsite.filter(state="VERIFIED").count() == 3


def test_a_corrupt_source_is_never_copied_and_the_command_exits_1(
        archived: dict, rclone_s3, capsys) -> None:
    swath = Swath.objects.get(granule_id=GRANULES[0])
    primary = swath.copies.get()
    prefix = archived["env"]["STORE_URL"].split("/", 3)[3]
    rclone_s3.corrupt_behind(f"{prefix}/{primary.key}", offset=4096)
    with pytest.raises(SystemExit) as exit_info:
        call_command("archive", "replicate", "--collection", "old", "--policy", "replicate")
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert f"FAILED {swath.uuid} offsite: every VERIFIED copy failed to read back: " \
        "primary: " in out
    assert out.count("COPIED ") == 2 and "2 brought up, 1 failed" in out
    assert not StoredObject.objects.filter(swath=swath, store="offsite",
                                           state="VERIFIED").exists()
    import archive.config

    assert archive.config.get_store("offsite").head(primary.key) is None


def test_bytes_an_interrupted_copy_left_behind_are_replaced_not_trusted(
        archived: dict, settings) -> None:
    """A copy cut short left an UPLOADING row and wrong bytes at its key in tertiary."""
    swath = Swath.objects.get(granule_id=GRANULES[0])
    primary = swath.copies.get()
    StoredObject.objects.create(swath=swath, store="tertiary", key=primary.key,
                                codec=primary.codec, state="UPLOADING")
    leftover = archived["tmp"] / "tertiary" / primary.key
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"the first 64 KiB of a copy that never finished" * 100)

    with stores_from_env(settings, archived["env"]):
        report = replicate_collection("old", "copy3")
    assert (report.brought_up, report.failed) == (3, 0)
    copy = StoredObject.objects.get(swath=swath, store="tertiary")
    assert copy.state == "VERIFIED" and copy.sha256 == swath.sha256
    assert hashlib.sha256(leftover.read_bytes()).hexdigest() == swath.sha256


def test_replicate_refuses_a_policy_the_stores_cannot_meet(archived: dict, settings) -> None:
    settings.ARCHIVE_POLICIES = {**settings.ARCHIVE_POLICIES, "copy3": ["primary", "offsite"]}
    with pytest.raises(CommandError,
                       match=r"policy copy3 needs 3 stores but names 2 \(primary, offsite\)"):
        call_command("archive", "replicate", "--collection", "old", "--policy", "copy3")
    with pytest.raises(CommandError, match="--collection 'nope': no such collection"):
        call_command("archive", "replicate", "--collection", "nope")
    assert not StoredObject.objects.exclude(store="primary").exists()


def test_a_stop_request_finishes_the_swath_in_hand_and_a_rerun_does_the_rest(
        archived: dict, settings) -> None:
    seen: list[SwathLine] = []
    with stores_from_env(settings, archived["env"]):
        report = replicate_collection("old", "replicate", on_swath=seen.append,
                                      should_stop=lambda: len(seen) >= 1)
        assert (report.stopped, report.brought_up, report.checked) == (True, 1, 1)
        assert report.summary().endswith(f" MB, stopped early in {report.seconds:.1f} s")
        again = replicate_collection("old", "replicate")
    assert (again.complete, again.brought_up, again.failed) == (1, 2, 0)
    assert all(s == {"primary", "offsite"} for s in verified_stores().values())

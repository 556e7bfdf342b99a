"""Replicas that heal: copies deleted or corrupted on disk under real S3 servers (rclone
as primary, SeaweedFS as offsite) are found by fsck and reconcile in every store, rebuilt
from a verified copy and re-verified; with no good copy left the swath is LOST, and says
why in the API and fsck's report; a store that goes away mid-heal leaves a clear state."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_framework.test import APIClient

import archive.config
from catalog.apps import store_specs
from catalog.models import StoredObject, Swath
from ops.fsck import fsck
from ops.heal import heal
from ops.reconcile import reconcile
from subset.services import open_any_copy
from tests.support.commands import archive_command
from tests.support.ingesting import ingest_paths
from tests.support.s3servers import S3Server

pytestmark = pytest.mark.django_db


def options(server: S3Server, endpoint_url: str | None = None) -> dict:
    return {**server.store_options(), "endpoint_url": endpoint_url or server.endpoint_url,
            "connect_timeout": 2, "read_timeout": 4}


@pytest.fixture
def two_servers(settings, rclone_s3: S3Server, seaweed_s3: S3Server, s3_prefix: str,
                tcp_proxy) -> Iterator[dict]:
    """primary on rclone, offsite on SeaweedFS behind a TCP proxy (to cut it off)."""
    original = store_specs()  # before the settings change: teardown must not read them
    proxy = tcp_proxy(seaweed_s3.endpoint_url)
    urls = {"primary": f"s3://{rclone_s3.bucket}/{s3_prefix}/p",
            "offsite": f"s3://{seaweed_s3.bucket}/{s3_prefix}/o"}
    settings.ARCHIVE_STORES = urls
    settings.ARCHIVE_POLICIES = {"single": ["primary"], "replicate": ["primary", "offsite"],
                                 "copy3": ["primary", "offsite"]}
    archive.config.configure({"primary": (urls["primary"], options(rclone_s3)),
                              "offsite": (urls["offsite"],
                                          options(seaweed_s3, proxy.endpoint_url))})
    yield {"proxy": proxy, "prefix": s3_prefix, "primary": rclone_s3, "offsite": seaweed_s3}
    # (restore_stores() here would read the S3 URLs still in settings, whose fixture
    # tears down after this one, and leave credential-less S3 stores to later tests.)
    archive.config.configure(original)


def synth(path: Path) -> Path:
    """A small swath of random (so unique, incompressible) values."""
    from ingest.synth import write_swath

    path.parent.mkdir(exist_ok=True)
    write_swath(path, seed=random.randrange(1 << 30), start="2024-03-01T00:00:00",
                target_bytes=600_000, incompressible=True, compression=None)
    return path


@pytest.fixture
def replicated(two_servers: dict, tmp_path: Path) -> Swath:
    """One swath with a VERIFIED copy in each store."""
    run = ingest_paths([synth(tmp_path / "in" / "granule.nc")], "heal", policy="replicate")
    assert run.n_new == 1, run.errors
    swath = Swath.objects.get()
    assert sorted(swath.copies.filter(state="VERIFIED").values_list("store", flat=True)) == \
        ["offsite", "primary"]
    return swath


def bucket_key(servers: dict, copy: StoredObject) -> str:
    return f"{servers['prefix']}/{'p' if copy.store == 'primary' else 'o'}/{copy.key}"


def remove(servers: dict, copy: StoredObject) -> None:
    servers[copy.store].remove_behind(bucket_key(servers, copy))


def corrupt(servers: dict, copy: StoredObject, offset: int = 300_000) -> None:
    servers[copy.store].corrupt_behind(bucket_key(servers, copy), offset)


def assert_whole(swath: Swath) -> None:
    """Every copy VERIFIED, and each store's object hashes to the catalog's sha256."""
    swath.refresh_from_db()
    assert swath.state == "VERIFIED"
    for copy in swath.copies.all():
        assert copy.state == "VERIFIED" and copy.problem == "", (copy.store, copy.problem)
        archive.config.get_store(copy.store).verify(copy.key, swath.sha256, codec=copy.codec)


def test_a_copy_deleted_under_either_store_is_rebuilt_and_reverified(
        replicated: Swath, two_servers: dict, capsys) -> None:
    primary = replicated.copies.get(store="primary")
    remove(two_servers, primary)
    # Every store holding copies, by default.
    code, out, _ = archive_command(capsys, "fsck", "--repair")
    assert code == 1
    assert f"MISSING      primary:{primary.key}" in out and "fsck primary, offsite" in out
    assert f"REBUILT primary:{primary.key} from offsite:" in out
    assert_whole(replicated)

    offsite = replicated.copies.get(store="offsite")
    remove(two_servers, offsite)
    report = reconcile(apply=True)  # reconcile too looks in every store
    assert any(line.startswith(f"REBUILT offsite:{offsite.key} from primary:")
               for line in report.lines), report.lines
    assert_whole(replicated)
    assert archive_command(capsys, "fsck", "--full")[0] == 0


def test_corrupt_bytes_are_found_by_full_fsck_and_rebuilt(replicated: Swath,
                                                          two_servers: dict, capsys) -> None:
    primary = replicated.copies.get(store="primary")
    corrupt(two_servers, primary)
    assert archive_command(capsys, "fsck")[0] == 0  # HEAD cannot see a flipped bit
    code, out, _ = archive_command(capsys, "fsck", "--full", "--repair")
    assert code == 1 and f"CORRUPT      primary:{primary.key}" in out
    assert "1 copies rebuilt and re-verified" in out
    assert_whole(replicated)


def test_an_unreadable_seaweedfs_copy_is_reported_in_seconds_and_rebuilt(
        replicated: Swath, two_servers: dict, capsys) -> None:
    offsite = replicated.copies.get(store="offsite")
    corrupt(two_servers, offsite)  # SeaweedFS then answers HTTP 500 (needle CRC)
    started = time.monotonic()
    report = fsck(full=True)
    took = time.monotonic() - started
    kinds = {(p.kind, p.store) for p in report.problems}
    assert kinds in ({("UNREADABLE", "offsite")}, {("CORRUPT", "offsite")}), report.problems
    assert took < 60, f"fsck spent {took:.0f} s on one unreadable object"
    report = fsck(full=True, repair=True)
    assert report.healed is not None and report.healed.rebuilt == 1, report.healed
    assert_whole(replicated)


def test_a_corrupt_replica_and_a_missing_primary_make_the_swath_lost(
        replicated: Swath, two_servers: dict, capsys, tmp_path: Path) -> None:
    primary = replicated.copies.get(store="primary")
    offsite = replicated.copies.get(store="offsite")
    remove(two_servers, primary)
    corrupt(two_servers, offsite)
    code, out, _ = archive_command(capsys, "fsck", "--full", "--repair", "--report",
                                   str(tmp_path / "r"))
    assert code == 1
    replicated.refresh_from_db()
    assert replicated.state == "LOST"
    assert "primary" in replicated.failure_reason and "offsite" in replicated.failure_reason
    assert not replicated.copies.filter(state="VERIFIED").exists()  # nothing counted good
    assert f"LOST         -:{replicated.uuid}" in out
    assert f"LOST         -:{replicated.uuid}" in (tmp_path / "r").read_text()

    client = APIClient()
    detail = client.get(f"/api/v1/swaths/{replicated.uuid}/").json()
    assert detail["properties"]["state"] == "LOST"
    assert "no copy hashes" in detail["properties"]["failure_reason"]
    assert {c["state"] for c in detail["properties"]["copies"]} == {"MISSING", "CORRUPT"}
    listed = client.get("/api/v1/swaths/", {"state": "LOST"}).json()
    assert [f["id"] for f in listed["features"]] == [str(replicated.uuid)]
    assert client.get(f"/api/v1/swaths/{replicated.uuid}/download").status_code == 409

    # A later fsck still reports it; heal again changes nothing and counts nothing good.
    assert f"LOST         -:{replicated.uuid}" in archive_command(capsys, "fsck")[1]
    assert heal().lost == [str(replicated.uuid)]
    assert not replicated.copies.filter(state="VERIFIED").exists()


def test_a_corrupt_source_is_never_copied_and_is_marked_so(replicated: Swath,
                                                         two_servers: dict) -> None:
    primary = replicated.copies.get(store="primary")
    offsite = replicated.copies.get(store="offsite")
    corrupt(two_servers, primary)  # rclone serves the flipped bytes; HEAD cannot tell
    remove(two_servers, offsite)
    report = fsck(repair=True)  # offsite MISSING -> rebuilt from primary?
    primary.refresh_from_db()
    assert primary.state == "CORRUPT" and "failed its hash" in primary.problem, report.healed
    offsite.refresh_from_db()
    assert offsite.state == "MISSING"
    assert archive.config.get_store("offsite").head(offsite.key) is None  # nothing published
    replicated.refresh_from_db()
    assert replicated.state == "LOST" and "failed its hash" in replicated.failure_reason
    # Its source file is still there, with the same bytes: reconcile ingests it again.
    lines = reconcile(apply=True).lines
    assert any(line.startswith(f"REINGEST LOST swath {replicated.uuid}") for line in lines)
    replicated.refresh_from_db()
    assert replicated.state == "VERIFIED"
    fresh = replicated.copies.get(state="VERIFIED", store="primary")
    archive.config.get_store("primary").verify(fresh.key, replicated.sha256)


def test_a_target_store_cut_off_mid_heal_leaves_the_copy_missing_with_the_reason(
        replicated: Swath, two_servers: dict) -> None:
    offsite = replicated.copies.get(store="offsite")
    remove(two_servers, offsite)
    fsck(repair=False)  # finds it; marks nothing
    assert replicated.copies.get(store="offsite").state == "VERIFIED"
    reconcile(apply=False)
    assert replicated.copies.get(store="offsite").state == "VERIFIED"
    two_servers["proxy"].cut_after(64 * 1024, times=None)  # every connection, mid-body
    report = reconcile(apply=True)
    copy = replicated.copies.get(store="offsite")
    assert copy.state == "MISSING" and "not rebuilt" in copy.problem, report.lines
    replicated.refresh_from_db()
    assert replicated.state == "VERIFIED"  # the primary copy is still good
    assert replicated.copies.get(store="primary").state == "VERIFIED"
    two_servers["proxy"].clear()
    assert heal().rebuilt == 1
    assert_whole(replicated)


def test_a_source_store_gone_during_heal_is_not_held_against_its_copy(
        replicated: Swath, two_servers: dict) -> None:
    primary = replicated.copies.get(store="primary")
    remove(two_servers, primary)
    two_servers["proxy"].stop()  # the offsite store goes away: connections refused
    report = fsck(repair=True)
    assert any("offsite cannot be reached" in w for w in report.warnings), report.warnings
    assert report.healed is not None and report.healed.rebuilt == 0
    assert any("not rebuilt" in line for line in report.healed.lines), report.healed.lines
    assert replicated.copies.get(store="primary").state == "MISSING"
    assert replicated.copies.get(store="offsite").state == "VERIFIED"  # unreachable != bad
    replicated.refresh_from_db()
    assert replicated.state == "VERIFIED"
    seaweed = two_servers["offsite"]  # it comes back (without the proxy)
    archive.config.configure({
        "primary": archive.config.spec("primary"),
        "offsite": (archive.config.spec("offsite")[0], options(seaweed))})
    assert heal().rebuilt == 1
    assert_whole(replicated)


def test_reads_fall_back_to_the_replica_and_mark_the_primary_for_heal(
        replicated: Swath, two_servers: dict, tmp_path: Path) -> None:
    primary = replicated.copies.get(store="primary")
    remove(two_servers, primary)
    response = APIClient().get(f"/api/v1/swaths/{replicated.uuid}/download")
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    assert len(data) == replicated.size
    assert replicated.copies.get(store="primary").state == "MISSING"
    assert heal().rebuilt == 1
    assert_whole(replicated)

    remove(two_servers, replicated.copies.get(store="primary"))
    with open_any_copy(replicated, tmp_path) as (src, copy):  # a subset cut's source
        assert copy.store == "offsite" and src is not None
    assert replicated.copies.get(store="primary").state == "MISSING"

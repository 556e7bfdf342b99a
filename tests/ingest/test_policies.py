"""Replication policies as ingest applies them: the collection's default policy and codec
unless an option says otherwise, copies in three real stores of three kinds, each with its
own endpoint and keys, and a policy the stores cannot meet refused before any file."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.checks import check_collection_policies, check_policies
from catalog.models import Collection, StoredObject, Swath
from catalog.services import get_or_create_collection
from tests.conftest import REPO, _test_database_url, embedded_env
from tests.support.ingesting import ingest_paths
from tests.support.policystores import stores_from_env, three_store_env

pytestmark = pytest.mark.django_db

GRANULES = ["SS_MODIS_A-JPL-L2P-v2014.0.nc", "GPM_test_file.HDF5"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def granules(tmp_path: Path, shared_swaths: Path) -> Path:
    """Two real granules (NetCDF4 and HDF5: stored as they are under the auto codec)."""
    root = tmp_path / "incoming"
    root.mkdir()
    for name in GRANULES:
        shutil.copy2(shared_swaths / name, root / name)
    return root


@pytest.fixture
def three_stores(settings, tmp_path: Path, rclone_s3, seaweed_s3, s3_prefix: str):
    """primary on rclone, offsite on SeaweedFS (its own endpoint and keys), tertiary a
    local directory; quicklooks off (they are not what these tests are about)."""
    settings.INGEST_QUICKLOOKS = False
    with stores_from_env(settings, three_store_env(rclone_s3, seaweed_s3, tmp_path,
                                                   s3_prefix)):
        yield {"rclone": rclone_s3, "seaweed": seaweed_s3, "prefix": s3_prefix,
               "tertiary": tmp_path / "tertiary"}


def stored_bytes(stores: dict, copy: StoredObject) -> bytes:
    """The object's bytes as the server or the directory holds them, behind the archive."""
    prefix = stores["prefix"]
    if copy.store == "primary":
        server, key = stores["rclone"], f"{prefix}/primary/{copy.key}"
    elif copy.store == "offsite":
        server, key = stores["seaweed"], f"{prefix}/offsite/{copy.key}"
    else:
        return (stores["tertiary"] / copy.key).read_bytes()
    return server.client().get_object(Bucket=server.bucket, Key=key)["Body"].read()


def test_copy3_from_the_collection_default_puts_a_verified_copy_in_each_of_three_stores(
        granules: Path, three_stores: dict) -> None:
    get_or_create_collection("copy3-coll", default_policy="copy3")
    run = ingest_paths([granules], "copy3-coll")
    assert (run.n_new, run.n_failed) == (2, 0), run.errors
    assert run.options["policy"] == "copy3"
    assert run.options["policy_from"] == "collection copy3-coll"
    for swath in Swath.objects.all():
        copies = {c.store: c for c in swath.copies.all()}
        assert set(copies) == {"primary", "offsite", "tertiary"}
        for copy in copies.values():
            assert copy.state == "VERIFIED" and copy.sha256 == swath.sha256
            assert copy.codec == "none"
            assert sha256(stored_bytes(three_stores, copy)) == swath.sha256


def test_the_ingest_command_applies_the_collection_defaults_and_says_so(
        granules: Path, three_stores: dict, capsys) -> None:
    get_or_create_collection("gz-coll", default_policy="replicate", default_codec="gzip")
    call_command("ingest", str(granules / GRANULES[0]), "--collection", "gz-coll",
                 "--workers", "1")
    out = capsys.readouterr().out
    assert "policy replicate (from collection gz-coll), codec gzip (from collection gz-coll)" \
        in out
    copies = StoredObject.objects.filter(swath__granule_id=GRANULES[0])
    assert sorted(copies.values_list("store", "codec", "state")) == [
        ("offsite", "gzip", "VERIFIED"), ("primary", "gzip", "VERIFIED")]


def test_an_explicit_policy_and_codec_win_over_the_collection_defaults(
        granules: Path, three_stores: dict, capsys) -> None:
    get_or_create_collection("wins", default_policy="copy3", default_codec="gzip")
    call_command("ingest", str(granules / GRANULES[0]), "--collection", "wins",
                 "--policy", "single", "--codec", "zstd", "--workers", "1")
    assert "policy single (from --policy), codec zstd (from --codec)" in \
        capsys.readouterr().out
    copy = StoredObject.objects.get(swath__granule_id=GRANULES[0])
    assert (copy.store, copy.codec, copy.state) == ("primary", "zstd", "VERIFIED")


def test_INGEST_POLICY_is_the_fewest_copies_a_collection_gets(
        granules: Path, three_stores: dict, settings) -> None:
    settings.INGEST_DEFAULT_POLICY = "replicate"
    get_or_create_collection("plain")  # default_policy single
    run = ingest_paths([granules / GRANULES[0]], "plain")
    assert run.n_new == 1, run.errors
    assert set(StoredObject.objects.filter(state="VERIFIED").values_list("store", flat=True)) \
        == {"primary", "offsite"}


def test_ingest_refuses_a_collection_policy_the_stores_cannot_meet_before_any_file(
        granules: Path, settings, tmp_path: Path) -> None:
    settings.ARCHIVE_POLICIES = {"single": ["primary"], "replicate": ["primary"],
                                 "copy3": ["primary"]}
    get_or_create_collection("too-many", default_policy="copy3")
    with pytest.raises(CommandError, match=r"policy copy3 needs 3 stores; 1 configured "
                                           r"\(primary\).*policy from collection too-many"):
        call_command("ingest", str(granules), "--collection", "too-many")
    assert not Swath.objects.exists()


def test_a_collection_policy_that_cannot_be_met_is_a_warning_of_the_database_checks(
        settings) -> None:
    get_or_create_collection("wants-three", default_policy="copy3")
    settings.ARCHIVE_POLICIES = {"single": ["primary"], "replicate": ["primary"],
                                 "copy3": ["primary"]}
    assert check_collection_policies(None) == []  # plain `check` reads no catalog
    (warning,) = check_collection_policies(None, databases=["default"])
    assert warning.id == "swathstore.W009"
    assert warning.msg.startswith("collection 'wants-three': default_policy copy3 needs 3 "
                                  "stores; 1 configured (primary)")
    Collection.objects.filter(slug="wants-three").update(default_policy="single")
    assert check_collection_policies(None, databases=["default"]) == []


def test_a_configured_policy_naming_a_missing_store_is_refused_at_start(
        tmp_path: Path) -> None:
    offsite = (tmp_path / "offsite").as_uri()
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, capture_output=True, text=True,
        timeout=120, env=embedded_env(tmp_path / "var", STORES=f"offsite={offsite}",
                                      POLICY_COPY3_STORES="primary,offsite,tape"))
    assert done.returncode != 0
    assert ("POLICY_COPY3_STORES: replication policy 'copy3' names store 'tape', which "
            "neither STORE_URL nor STORES configures (configured: primary, offsite)") \
        in done.stderr
    # Named right, the same stores start; built-in copy3 out of reach is no error.
    fine = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, capture_output=True, text=True,
        timeout=120, env=embedded_env(tmp_path / "var", STORES=f"offsite={offsite}",
                                      POLICY_REPLICATE_STORES="primary,offsite"))
    assert fine.returncode == 0, fine.stderr


def test_a_configured_policy_must_name_its_number_of_stores_primary_first(settings) -> None:
    settings.ARCHIVE_STORES = {"primary": "file:///a", "offsite": "file:///b",
                               "lab": "file:///c"}
    settings.ARCHIVE_POLICIES = {"single": ["primary"], "replicate": ["offsite", "lab"],
                                 "copy3": ["primary", "offsite", "lab"]}
    settings.ARCHIVE_POLICY_VARS = {"replicate": "POLICY_REPLICATE_STORES"}
    (error,) = check_policies(None)
    assert error.id == "swathstore.E011"
    assert error.msg.startswith("POLICY_REPLICATE_STORES=offsite,lab: replication policy "
                                "'replicate' names 2 different stores, primary first")


@pytest.mark.django_db(transaction=True)  # the subprocess reads committed rows
def test_two_s3_servers_with_their_own_endpoints_and_keys_from_the_environment(
        granules: Path, rclone_s3, seaweed_s3, s3_prefix: str, tmp_path: Path) -> None:
    """manage.py as deployed: primary and offsite on two servers that know only their own
    keys (offsite's read from files), configured by variables alone."""
    env = embedded_env(tmp_path / "var", DATABASE_URL=_test_database_url(),
                       INGEST_QUICKLOOKS="0",
                       **three_store_env(rclone_s3, seaweed_s3, tmp_path, s3_prefix))
    done = subprocess.run(
        [sys.executable, "manage.py", "ingest", str(granules / GRANULES[0]),
         "--collection", "two-servers", "--policy", "replicate", "--workers", "1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    swath = Swath.objects.get()
    copies = {c.store: c for c in swath.copies.all()}
    assert {k: c.state for k, c in copies.items()} == {"primary": "VERIFIED",
                                                       "offsite": "VERIFIED"}
    stores = {"rclone": rclone_s3, "seaweed": seaweed_s3, "prefix": s3_prefix}
    for copy in copies.values():
        assert sha256(stored_bytes(stores, copy)) == swath.sha256
    # Each server holds only its own copy: the keys did not lead both to one server.
    listed = seaweed_s3.client().list_objects_v2(Bucket=seaweed_s3.bucket,
                                                 Prefix=f"{s3_prefix}/")
    assert [o["Key"] for o in listed.get("Contents", [])] == [
        f"{s3_prefix}/offsite/{copies['offsite'].key}"]


@pytest.mark.django_db(transaction=True)  # the worker sees committed rows
@pytest.mark.slow
def test_a_celery_worker_applies_the_collection_default_codec(
        celery_worker: dict, granules: Path) -> None:
    from ingest.tasks import ingest_file_task

    collection, _ = get_or_create_collection("celery-gz", default_codec="gzip")
    ingest_file_task.delay(str(granules / GRANULES[0]), collection.pk)
    deadline = time.monotonic() + 120
    while not StoredObject.objects.filter(state="VERIFIED").exists():
        failed = list(Swath.objects.filter(state="FAILED").values_list("failure_reason",
                                                                         flat=True))
        assert not failed, failed
        assert time.monotonic() < deadline, celery_worker["log"].read_text()[-3000:]
        time.sleep(0.3)
    assert StoredObject.objects.get().codec == "gzip"


def test_an_offsite_store_with_wrong_keys_fails_its_copy_naming_the_store(
        granules: Path, settings, tmp_path: Path, rclone_s3, seaweed_s3,
        s3_prefix: str) -> None:
    settings.INGEST_QUICKLOOKS = False
    env = three_store_env(rclone_s3, seaweed_s3, tmp_path, s3_prefix)
    # rclone's keys are good keys, but not at SeaweedFS.
    Path(env["STORE_OFFSITE_SECRET_ACCESS_KEY_FILE"]).write_text(rclone_s3.secret_key)
    with stores_from_env(settings, env):
        run = ingest_paths([granules / GRANULES[0]], "bad-keys", policy="replicate")
    assert run.n_failed == 1
    reason = run.errors[0]["reason"]
    assert reason.startswith("replica in offsite failed: "), reason
    assert "in offsite failed: 403" in reason  # the server's refusal, naming the store
    assert not StoredObject.objects.filter(store="offsite", state="VERIFIED").exists()
    assert StoredObject.objects.get(store="primary").state == "VERIFIED"

"""Pure parts of hpc/: manifests, intervals, policies, partitions; no services."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from hpc import limits
from hpc.manifest import ManifestError, read_manifest, write_manifest
from hpc.policy import parse_policy, run_item
from hpc.scheduler import block, largest_first, run_serial
from tests.hpc.helpers import REPO

ITEM = {"id": "a1", "store_url": "s3://bucket/p", "key": "swaths/a1/x.nc", "size": 10}


def test_importing_the_worker_modules_loads_no_django() -> None:
    code = ("import sys; import hpc.extract, hpc.stage, hpc.mpi, hpc.apiplan, hpc.work; "
            "bad = [m for m in sys.modules if m == 'django' or m.startswith('django.')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_manifest_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    assert write_manifest(path, [ITEM, {**ITEM, "id": "b2"}]) == 2
    assert [i["id"] for i in read_manifest(path)] == ["a1", "b2"]


def test_a_manifest_refuses_credentials_repeated_ids_and_sourceless_items(
        tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    for bad, words in (([ITEM, ITEM], "appears twice"),
                       ([{**ITEM, "secret_key": "x"}], "credentials never go"),
                       ([{"id": "c3", "size": 1}], "needs 'store_url'"),
                       ([{**ITEM, "id": "../x"}], "'id' must be")):
        path.write_text("".join(json.dumps(i) + "\n" for i in bad))
        with pytest.raises(ManifestError, match=words):
            read_manifest(path)


def test_policies_parse_and_bad_ones_are_refused() -> None:
    assert parse_policy("retry:3").retries == 3 and parse_policy("retry:3").then == "fail"
    assert parse_policy("retry:2,skip").then == "skip"
    with pytest.raises(ValueError):
        parse_policy("sometimes")


def _flaky(item: dict, job: dict) -> dict:
    job["calls"].append(item["id"])
    if len(job["calls"]) < 3:
        raise OSError("connection reset")
    return {"id": item["id"], "status": "done", "bytes_read": 1, "bytes_written": 1}


def test_retry_runs_an_item_again_until_it_succeeds() -> None:
    job = {"policy": {"retries": 3, "then": "fail", "backoff_s": 0.001}, "calls": []}
    result = run_item(_flaky, ITEM, job)
    assert result["status"] == "done" and result["attempts"] == 3


def test_retries_exhausted_fail_or_skip_as_the_policy_says() -> None:
    for then in ("fail", "skip"):
        job = {"policy": {"retries": 1, "then": then, "backoff_s": 0.001}, "calls": []}
        result = run_item(_flaky, ITEM, job)
        assert result["status"] == ("failed" if then == "fail" else "skipped")
        assert result["attempts"] == 2 and "connection reset" in result["reason"]


def _fail_g0(item: dict, job: dict) -> dict:
    if item["id"] == "g0":
        raise OSError("unreadable")
    return {"id": item["id"], "status": "done", "bytes_read": 0, "bytes_written": 0}


def test_cancel_successors_cancels_only_the_later_items_of_the_failed_items_group() -> None:
    items = [{"id": "a0", "granule_id": "A"}, {"id": "g0", "granule_id": "G"},
             {"id": "g1", "granule_id": "G"}, {"id": "a1", "granule_id": "A"}]
    job = {"policy": asdict(parse_policy("cancel-successors")), "region": {"bbox": "0,0,1,1"}}
    outcome = run_serial(items, _fail_g0, job, lambda r: None)
    assert [(r["id"], r["status"]) for r in outcome.results] == [
        ("a0", "done"), ("g0", "skipped"), ("g1", "cancelled"), ("a1", "done")]
    assert outcome.results[2]["cancelled_by"] == "g0" and not outcome.aborted
    # By region: the job cuts one region, so every later item is cancelled.
    job["policy"] = asdict(parse_policy("cancel-successors", group_by="region"))
    outcome = run_serial(items, _fail_g0, job, lambda r: None)
    assert [r["status"] for r in outcome.results] == ["done", "skipped", "cancelled",
                                                      "cancelled"]
    assert outcome.results[3]["group"] == "region:0,0,1,1"


def test_item_limits_apply_by_default_to_formats_read_through_hdf5() -> None:
    def job(mode: str) -> dict:
        return {"limits": asdict(limits.Limits(mode=mode))}

    for fmt, auto in (("netcdf4", True), ("hdf5", True), ("", True), ("netcdf3", False)):
        assert limits.applies({"id": "x", "format": fmt}, job("auto")) is auto
        assert limits.applies({"id": "x", "format": fmt}, job("all"))
        assert not limits.applies({"id": "x", "format": fmt}, job("off"))
    assert not limits.applies({"id": "x", "format": "netcdf4"}, {})  # hpc.stage's jobs


def test_static_blocks_cover_every_item_once_and_dynamic_order_is_largest_first() -> None:
    items = [{"id": str(i), "size": s} for i, s in enumerate([5, 50, 1, 20, None, 50])]
    assert [i["id"] for i in largest_first(items)] == ["1", "5", "3", "0", "2", "4"]
    parts = [block(items, r, 4) for r in range(4)]
    assert sum(parts, []) == items


def test_the_examples_in_the_docstrings_hold() -> None:
    import doctest

    import hpc.apiplan
    import hpc.manifest
    import hpc.outputs
    import hpc.policy
    import hpc.scheduler

    for module in (hpc.apiplan, hpc.manifest, hpc.outputs, hpc.policy, hpc.scheduler):
        failed, _ = doctest.testmod(module)
        assert failed == 0, module.__name__


def test_only_errors_a_retry_may_cure_are_retried() -> None:
    from archive.errors import ArchiveError, ChecksumMismatch, TransientArchiveError
    from hpc.policy import retryable
    from subset.errors import NoDataInRegion, SubsetTooLarge

    assert retryable(TransientArchiveError("503 SlowDown")) and retryable(OSError("reset"))
    for permanent in (ArchiveError("no such object"), ChecksumMismatch("differs"),
                      SubsetTooLarge(10, 1), NoDataInRegion("none")):
        assert not retryable(permanent)


def test_a_compute_nodes_probe_cache_follows_the_environment(monkeypatch, tmp_path) -> None:
    from hpc.env import EnvError, store_config

    def store_options(url: str) -> dict:
        return store_config().options_for(url)

    monkeypatch.setenv("S3_PROBE_CACHE_SECONDS", "0")
    monkeypatch.setenv("S3_PROBE_CACHE_DIR", str(tmp_path))
    options = store_options("s3://bucket/p")
    assert options["probe_ttl_s"] == 0 and options["probe_cache_dir"] == str(tmp_path)
    monkeypatch.delenv("S3_PROBE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("S3_PROBE_CACHE_SECONDS", "ten")
    with pytest.raises(EnvError, match="S3_PROBE_CACHE_SECONDS"):
        store_options("s3://bucket/p")
    monkeypatch.delenv("S3_PROBE_CACHE_SECONDS")
    options = store_options("s3://bucket/p")
    assert options["probe_ttl_s"] == 600
    assert options["probe_cache_dir"] == str(tmp_path / "xdg" / "swathstore" / "probes")

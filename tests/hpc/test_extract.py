"""hpc.extract without mpirun: mappings, failure policies, resume; objects in each real S3
server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import netCDF4
import pytest

from hpc.extract import main
from tests.hpc.conftest import outputs_of, report_of
from tests.hpc.helpers import run_extract

Fault = Callable[[str, str], tuple[int, dict]]


def extract(manifest: Path, out: Path, *extra: str) -> int:
    return main(["--manifest", str(manifest), "--out", str(out), "--mapping", "serial",
                 "--retry-backoff", "0.01", "--progress", "60", *extra])


@pytest.fixture
def extract_with_fault(node_env: dict, manifest: Path, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> Fault:
    """Extract of the manifest with HPC_FAULT set: (fault, --on-failure) -> (exit, report)."""

    def run(fault: str, on_failure: str) -> tuple[int, dict]:
        monkeypatch.setenv("HPC_FAULT", fault)
        out = tmp_path / "out"
        return extract(manifest, out, "--on-failure", on_failure), report_of(out)

    return run


def test_serial_and_process_mappings_write_byte_identical_outputs(
        node_env: dict, manifest: Path, staged: list[dict], tmp_path: Path) -> None:
    serial = run_extract(["--manifest", str(manifest), "--out", str(tmp_path / "serial"),
                          "--mapping", "serial"], node_env)
    pool = run_extract(["--manifest", str(manifest), "--out", str(tmp_path / "pool"),
                        "--mapping", "processes", "--workers", "2"], node_env)
    assert serial.returncode == 0, serial.stderr[-3000:]
    assert pool.returncode == 0, pool.stderr[-3000:]
    a, b = outputs_of(tmp_path / "serial"), outputs_of(tmp_path / "pool")
    assert len(a) == len(staged) and a == b
    summary = report_of(tmp_path / "pool")
    assert summary["complete"] and summary["counts"]["done"] == len(staged)
    assert len(summary["ranks"]) == 2 and summary["load_imbalance"] >= 1.0
    assert "load imbalance" in pool.stdout and "MB/s" in pool.stdout


def test_an_output_holds_the_subset_with_provenance_and_the_job_time(
        node_env: dict, manifest: Path, staged: list[dict], tmp_path: Path) -> None:
    assert extract(manifest, tmp_path / "out", "--bbox", "40,10,50,20",
                   "--variables", "sst", "--created", "2030-01-02T03:04:05Z") == 0
    summary = report_of(tmp_path / "out")
    done = [r for r in summary["results"] if r["status"] == "done"]
    assert done and summary["counts"]["empty"] == len(staged) - len(done)
    with netCDF4.Dataset(done[0]["output"]) as ds:
        assert ds.subset_created == "2030-01-02T03:04:05Z"
        assert ds.history.split("\n")[-1].startswith("2030-01-02T03:04:05Z ")
        assert ds.source_sha256 == next(i["sha256"] for i in staged if i["id"] == done[0]["id"])
        assert 10 <= ds.geospatial_lat_min <= ds.geospatial_lat_max <= 20
        names = {v for g in [ds, *ds.groups.values()] for v in g.variables}
        assert "sst" in names and "chlor_a" not in names


def test_a_rerun_skips_finished_items_and_redoes_a_damaged_one(
        node_env: dict, manifest: Path, staged: list[dict], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert extract(manifest, out) == 0
    first = outputs_of(out)
    victim = out / sorted(first)[0]
    victim.write_bytes(victim.read_bytes()[:1000])  # truncated behind the job's back
    assert extract(manifest, out) == 0
    counts = report_of(out)["counts"]
    assert counts["resumed"] == len(staged) - 1 and counts["done"] == 1
    assert outputs_of(out) == first
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(("_", "."))) == \
        sorted([*first, *(f"{n}.done" for n in first)])


def test_retry_cures_a_transient_failure(staged: list[dict], extract_with_fault: Fault) -> None:
    code, summary = extract_with_fault(f"raise:{staged[1]['id']}:2", "retry:3")
    assert code == 0
    result = next(r for r in summary["results"] if r["id"] == staged[1]["id"])
    assert result["status"] == "done" and result["attempts"] == 3


def test_skip_reports_the_failed_item_and_finishes_the_rest(
        staged: list[dict], extract_with_fault: Fault) -> None:
    code, summary = extract_with_fault(f"fail:{staged[2]['id']}", "skip")
    assert code == 2
    assert summary["complete"] and summary["counts"]["skipped"] == 1
    assert summary["counts"]["done"] == len(staged) - 1
    (failure,) = summary["failures"]
    assert failure["id"] == staged[2]["id"] and "injected permanent" in failure["reason"]


def test_fail_stops_the_job_with_a_non_zero_exit_and_an_incomplete_report(
        staged: list[dict], extract_with_fault: Fault) -> None:
    code, summary = extract_with_fault(f"raise:{staged[0]['id']}:9", "retry:1")
    assert code == 1
    assert not summary["complete"] and summary["counts"]["failed"] == 1
    assert summary["counts"]["not_run"] == len(staged) - 1  # serial: stopped at the first
    assert summary["failures"][0]["attempts"] == 2


def test_a_missing_object_and_a_bad_manifest_are_reported_by_name(
        node_env: dict, staged: list[dict], tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({**staged[0], "key": "swaths/gone/x.nc"}) + "\n")
    assert extract(manifest, tmp_path / "out", "--on-failure", "skip") == 2
    assert "missing" in report_of(tmp_path / "out")["failures"][0]["reason"]
    manifest.write_text("{not json\n")
    bad = run_extract(["--manifest", str(manifest), "--out", str(tmp_path / "o2"),
                       "--mapping", "serial"], node_env)
    assert bad.returncode == 1 and "manifest line 1" in bad.stderr

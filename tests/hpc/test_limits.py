"""Item limits and cancel-successors under a real ``mpirun -n 2``, with the kept hang fixtures.

The fixtures (tests/faults/fixtures/timeout-*.nc, kept by fuzzing the ingest inspector)
never return from HDF5's dimension-scale walk, so an unlimited rank would stall for ever.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpc.extract import main
from tests.hpc.conftest import outputs_of, report_of
from tests.hpc.helpers import run_extract, stage
from tests.support.s3servers import S3Server

pytestmark = pytest.mark.mpi
HANGS = Path(__file__).resolve().parents[1] / "faults" / "fixtures"
TIMEOUT_S = 2


@pytest.fixture(scope="module")
def hanging(s3_server: S3Server) -> dict:
    """The manifest item of a kept hang fixture, stored under ``hpc-hang/``."""
    path = HANGS / "timeout-CS_LTA__SIR_SAR_2__20191-zero-185.nc"
    [item] = stage(s3_server.store("hpc-hang"), f"s3://{s3_server.bucket}/hpc-hang", [path])
    return {**item, "id": "hang-" + item["id"]}


def write(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path


def args(manifest: Path, out: Path, *extra: str) -> list[str]:
    return ["--manifest", str(manifest), "--out", str(out), "--retry-backoff", "0.01",
            "--progress", "60", *extra]


def test_a_hanging_item_times_out_and_the_rest_of_the_job_finishes(
        node_env: dict, staged: list[dict], hanging: dict, tmp_path: Path) -> None:
    manifest = write(tmp_path / "m.jsonl", [*staged, hanging])
    # The reference: the same swaths cut in this process, without a child.
    assert main(args(write(tmp_path / "ok.jsonl", staged), tmp_path / "serial",
                      "--mapping", "serial", "--item-limits", "off")) == 0
    out = tmp_path / "out"
    done = run_extract(args(manifest, out, "--item-timeout", str(TIMEOUT_S),
                            "--on-failure", "retry:3,skip"), node_env, ranks=2)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert outputs_of(out) == outputs_of(tmp_path / "serial")
    summary = report_of(out)
    [hung] = summary["timeouts"]
    assert hung["id"] == hanging["id"] and hung["cause"] == "timeout"
    assert hung["status"] == "skipped" and hung["seconds"] <= TIMEOUT_S + 5
    result = next(r for r in summary["results"] if r["id"] == hanging["id"])
    assert result["attempts"] == 1  # a hang is not retried: the same bytes hang again
    assert sum(r["timeouts"] for r in summary["ranks"]) == 1
    assert [hanging["id"]] in [r["limit_failures"] for r in summary["ranks"]]
    assert f"timeout: {hanging['id']} on rank" in done.stdout


@pytest.mark.s3_servers("rclone")  # about scheduling, not the store
@pytest.mark.parametrize("schedule", ["dynamic", "static"])
def test_cancel_successors_cancels_the_unstarted_items_of_the_failed_items_group(
        node_env: dict, staged: list[dict], tmp_path: Path, schedule: str) -> None:
    # g-0 fails at once. Dynamic, largest first: g-0 goes out first; while both ranks cut
    # x-0 and x-1, the smaller g-1 and g-2 wait in rank 0's queue. Static: rank 0 holds
    # g-0 and x-0, rank 1 x-1, g-1 and g-2, and hears of the group while cutting x-1.
    big, mid, small, smallest = staged[2], staged[0], staged[1], staged[3]
    items = [{**big, "id": "g-0", "granule_id": "G"}, {**big, "id": "x-0"},
             {**mid, "id": "x-1"}, {**small, "id": "g-1", "granule_id": "G"},
             {**smallest, "id": "g-2", "granule_id": "G"}]
    out = tmp_path / "out"
    done = run_extract(args(write(tmp_path / "m.jsonl", items), out, "--on-failure",
                            "cancel-successors", "--group-by", "granule",
                            "--schedule", schedule),
                       {**node_env, "HPC_FAULT": "fail:g-0,slow:x-:1"}, ranks=2)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    summary = report_of(out)
    status = {r["id"]: r["status"] for r in summary["results"]}
    assert status == {"g-0": "skipped", "x-0": "done", "x-1": "done", "g-1": "cancelled",
                      "g-2": "cancelled"}
    assert {(c["id"], c["cancelled_by"], c["group"]) for c in summary["cancelled"]} == {
        ("g-1", "g-0", "granule:G"), ("g-2", "g-0", "granule:G")}
    assert sum(r["cancelled"] for r in summary["ranks"]) == 2
    assert sorted(outputs_of(out)) == ["x-0.nc", "x-1.nc"]
    assert "cancelled g-1: g-0 of granule:G failed" in done.stdout


@pytest.mark.parametrize("value", ["0", "-2"])
def test_an_item_timeout_that_is_not_positive_is_refused_naming_the_parameter(
        value: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args(tmp_path / "m.jsonl", tmp_path / "out", f"--item-timeout={value}"))
    assert exit_.value.code == 2
    assert "argument --item-timeout: must be a positive number of seconds" in \
        capsys.readouterr().err
    assert not (tmp_path / "out").exists()

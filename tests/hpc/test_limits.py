"""Item limits and cancel-successors under a real ``mpirun -n 2``, with the kept hang fixtures,
and a real memory overrun.

The fixtures (tests/faults/fixtures/timeout-*.nc, kept by fuzzing the ingest inspector)
never return from HDF5's dimension-scale walk, so an unlimited rank would stall for ever.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import netCDF4
import pytest

from hpc.extract import main
from hpc.limits import MIN_MEMORY_MB
from tests.hpc.conftest import outputs_of, report_of
from tests.hpc.helpers import run_extract, stage
from tests.support.s3servers import S3Server

pytestmark = pytest.mark.mpi
HANGS = Path(__file__).resolve().parents[1] / "faults" / "fixtures"
TIMEOUT_S = 2
GREEDY_BYTES = 1 << 30  # twice --item-memory at its least, which the child's libraries share


@pytest.fixture(scope="module")
def hanging(s3_server: S3Server) -> dict:
    """The manifest item of a kept hang fixture, stored under ``hpc-hang/``."""
    path = HANGS / "timeout-CS_LTA__SIR_SAR_2__20191-zero-185.nc"
    [item] = stage(s3_server.store("hpc-hang"), f"s3://{s3_server.bucket}/hpc-hang", [path])
    return {**item, "id": "hang-" + item["id"]}


@pytest.fixture(scope="module")
def greedy(s3_server: S3Server, synth_paths: list[Path],
           tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The manifest item of a small swath whose cut needs 1 GiB at once, stored under
    ``hpc-greedy/``.

    It carries a variable of one 1 GiB chunk that was never written: HDF5 stores no
    bytes for it (the file stays the size of the swath) and reads it as its fill value,
    so the kernel, which reads whole output chunks, asks for a 1 GiB array in one piece.
    """
    path = tmp_path_factory.mktemp("hpc-greedy") / "greedy.nc"
    shutil.copy(synth_paths[3], path)
    with netCDF4.Dataset(path, "a") as ds:
        lines, pixels = (len(ds.dimensions[d]) for d in ("number_of_lines", "pixels_per_line"))
        depth = math.ceil(GREEDY_BYTES / (lines * pixels * 8))
        ds.createDimension("depth", depth)
        ds.createVariable("padding", "f8", ("number_of_lines", "pixels_per_line", "depth"),
                          zlib=True, chunksizes=(lines, pixels, depth), fill_value=0.0)
    assert path.stat().st_size < 2 * synth_paths[3].stat().st_size
    [item] = stage(s3_server.store("hpc-greedy"), f"s3://{s3_server.bucket}/hpc-greedy", [path])
    return {**item, "id": "greedy-" + item["id"]}


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


@pytest.mark.s3_servers("rclone")  # about the child's limit, not the store
def test_an_item_over_its_memory_limit_fails_as_a_memory_overrun_and_the_job_finishes(
        node_env: dict, staged: list[dict], greedy: dict, tmp_path: Path,
        capsys: pytest.CaptureFixture) -> None:
    small = [staged[1], staged[3]]
    manifest = write(tmp_path / "m.jsonl", [small[0], greedy, small[1]])
    out = tmp_path / "out"
    code = main(args(manifest, out, "--mapping", "serial", "--item-memory",
                     str(MIN_MEMORY_MB), "--on-failure", "retry:3,skip"))
    assert code == 2
    summary = report_of(out)
    [overrun] = summary["timeouts"]
    assert overrun["id"] == greedy["id"] and overrun["cause"] == "memory"
    assert overrun["status"] == "skipped"
    assert overrun["reason"] == f"memory: the item exceeded {MIN_MEMORY_MB} MB (child killed)"
    result = next(r for r in summary["results"] if r["id"] == greedy["id"])
    assert result["attempts"] == 1  # the same cut needs the same memory again
    assert [greedy["id"]] == summary["ranks"][0]["limit_failures"]
    # The items before and after it were cut, the one after by a fresh child.
    assert sorted(outputs_of(out)) == sorted(f"{i['id']}.nc" for i in small)
    assert summary["counts"]["done"] == 2
    assert f"memory: {greedy['id']} on rank 0" in capsys.readouterr().out


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

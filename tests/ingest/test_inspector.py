"""The reusable inspection child: one interpreter for many files, and still a hang or a
crash ends as a classified failure while the next file goes on."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from ingest.inspect import InspectError
from ingest.inspector import Inspector

GOOD = "GPM_test_file.HDF5"
OTHER = "ATL03_gt1l.h5"


@pytest.fixture
def files(tmp_path: Path, shared_swaths: Path) -> dict[str, Path]:
    out = {}
    for label, name in (("good", GOOD), ("other", OTHER), ("hang", GOOD), ("crash", GOOD)):
        out[label] = tmp_path / f"{label}-{name}"
        shutil.copy2(shared_swaths / name, out[label])
    return out


def test_one_child_serves_many_files(files: dict[str, Path]) -> None:
    inspector = Inspector(reader="tests.ingest.misbehaving_readers:pid_reader")
    try:
        pids = {inspector.inspect(files[k], 60).granule_id for k in ("good", "other", "good")}
    finally:
        inspector.close()
    assert len(pids) == 1


def test_a_hanging_file_times_out_and_the_next_file_is_read(files: dict[str, Path]) -> None:
    inspector = Inspector(reader="tests.ingest.misbehaving_readers:hang_on_marker")
    try:
        inspector.inspect(files["good"], 60)  # warm: imports done
        started = time.monotonic()
        with pytest.raises(InspectError) as err:
            inspector.inspect(files["hang"], 3)
        assert err.value.reason == "inspect_timeout"
        assert time.monotonic() - started < 10
        assert str(files["hang"]) in str(err.value)
        assert inspector.inspect(files["other"], 60).format == "hdf5"
    finally:
        inspector.close()


def test_a_crashing_reader_is_classified_and_replaced(files: dict[str, Path]) -> None:
    inspector = Inspector(reader="tests.ingest.misbehaving_readers:crash_on_marker")
    try:
        with pytest.raises(InspectError) as err:
            inspector.inspect(files["crash"], 60)
        assert err.value.reason == "inspect_crashed"
        assert "SIGSEGV" in str(err.value)
        assert inspector.inspect(files["good"], 60).start_time is not None
    finally:
        inspector.close()


def test_an_unreadable_file_is_a_reason_not_an_exception_trace(tmp_path: Path) -> None:
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"CDF\x01" + b"\xff" * 64)
    inspector = Inspector()
    try:
        with pytest.raises(InspectError) as err:
            inspector.inspect(junk, 60)
    finally:
        inspector.close()
    assert err.value.reason in {"unreadable", "unsupported_format"}
    assert str(junk) in str(err.value)

"""The reusable inspection child: one interpreter for many files, and still a hang or a
crash ends as a classified failure while the next file goes on."""

from __future__ import annotations

import shutil
import time
from contextlib import closing
from pathlib import Path

import pytest

from ingest.inspect import InspectError
from ingest.inspector import Inspector

GOOD = "GPM_test_file.HDF5"
OTHER = "ATL03_gt1l.h5"
DRAWN = "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc"  # a 2-D SST field: drawn
MISBEHAVING = "tests.ingest.misbehaving_readers"  # the readers and renderers planted in the child


@pytest.fixture
def files(tmp_path: Path, shared_swaths: Path) -> dict[str, Path]:
    out = {}
    for label, name in (("good", GOOD), ("other", OTHER), ("hang", GOOD), ("crash", GOOD)):
        out[label] = tmp_path / f"{label}-{name}"
        shutil.copy2(shared_swaths / name, out[label])
    return out


def test_one_child_serves_many_files(files: dict[str, Path]) -> None:
    with closing(Inspector(reader=f"{MISBEHAVING}:pid_reader")) as inspector:
        pids = {inspector.inspect(files[k], 60).granule_id for k in ("good", "other", "good")}
    assert len(pids) == 1


def test_a_hanging_file_times_out_and_the_next_file_is_read(files: dict[str, Path]) -> None:
    with closing(Inspector(reader=f"{MISBEHAVING}:hang_on_marker")) as inspector:
        inspector.inspect(files["good"], 60)  # warm: imports done
        started = time.monotonic()
        with pytest.raises(InspectError) as err:
            inspector.inspect(files["hang"], 3)
        assert err.value.reason == "inspect_timeout"
        assert time.monotonic() - started < 10
        assert str(files["hang"]) in str(err.value)
        assert inspector.inspect(files["other"], 60).format == "hdf5"


def test_a_crashing_reader_is_classified_and_replaced(files: dict[str, Path]) -> None:
    with closing(Inspector(reader=f"{MISBEHAVING}:crash_on_marker")) as inspector:
        with pytest.raises(InspectError) as err:
            inspector.inspect(files["crash"], 60)
        assert err.value.reason == "inspect_crashed"
        assert "SIGSEGV" in str(err.value)
        assert inspector.inspect(files["good"], 60).start_time is not None


def test_an_unreadable_file_is_a_reason_not_an_exception_trace(tmp_path: Path) -> None:
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"CDF\x01" + b"\xff" * 64)
    with closing(Inspector()) as inspector, pytest.raises(InspectError) as err:
        inspector.inspect(junk, 60)
    assert err.value.reason in {"unreadable", "unsupported_format"}
    assert str(junk) in str(err.value)


@pytest.fixture
def drawable(tmp_path: Path, shared_swaths: Path) -> dict[str, Path]:
    out = {}
    for label in ("good", "hang", "crash"):
        out[label] = tmp_path / f"{label}-{DRAWN}"
        shutil.copy2(shared_swaths / DRAWN, out[label])
    return out


def test_the_child_draws_the_same_quicklook_as_the_renderer_in_process(
        drawable: dict[str, Path]) -> None:
    from ingest.quicklook import make_quicklook

    with closing(Inspector()) as inspector:
        look = inspector.quicklook(drawable["good"], 60)
    assert look == make_quicklook(drawable["good"])
    assert look.png.startswith(b"\x89PNG")


def test_a_file_with_nothing_to_draw_says_so_and_keeps_its_child(shared_swaths: Path) -> None:
    from ingest.quicklook import NothingToDraw

    with closing(Inspector(reader=f"{MISBEHAVING}:pid_reader")) as inspector:
        pid = inspector.inspect(shared_swaths / GOOD, 60).granule_id
        with pytest.raises(NothingToDraw, match="no 2-D numeric variable"):
            inspector.quicklook(shared_swaths / GOOD, 60)  # GPM: 1-D fields only
        assert inspector.inspect(shared_swaths / GOOD, 60).granule_id == pid


def test_a_hanging_quicklook_times_out_and_the_next_one_is_drawn(
        drawable: dict[str, Path]) -> None:
    from ingest.quicklook import QuicklookError

    with closing(Inspector(renderer=f"{MISBEHAVING}:hang_render_on_marker")) as inspector:
        inspector.quicklook(drawable["good"], 60)  # warm: imports done
        started = time.monotonic()
        with pytest.raises(QuicklookError, match="inspect_timeout") as err:
            inspector.quicklook(drawable["hang"], 3)
        assert time.monotonic() - started < 10
        assert drawable["hang"].name in str(err.value)
        assert inspector.quicklook(drawable["good"], 60).png.startswith(b"\x89PNG")


def test_a_crashing_quicklook_is_a_quicklook_error_and_its_child_is_replaced(
        drawable: dict[str, Path]) -> None:
    from ingest.quicklook import QuicklookError

    with closing(Inspector(renderer=f"{MISBEHAVING}:crash_render_on_marker")) as inspector:
        with pytest.raises(QuicklookError, match="SIGSEGV"):
            inspector.quicklook(drawable["crash"], 60)
        assert inspector.quicklook(drawable["good"], 60).png.startswith(b"\x89PNG")


def test_each_request_has_its_own_cpu_budget_and_a_spinning_one_is_stopped() -> None:
    # RLIMIT_CPU counts a process's whole life: the child moves the limit per request, so
    # requests that each stay within the budget all pass though together they exceed it.
    with closing(Inspector(cpu_limit_s=2)) as inspector:
        spent = [inspector.call(f"{MISBEHAVING}:burn", [1.2], "burn", timeout_s=60)
                 for _ in range(3)]
        assert sum(spent) > 3  # past any whole-life limit of 2 (+1 for rounding) seconds
        started = time.monotonic()
        with pytest.raises(InspectError) as err:
            inspector.call(f"{MISBEHAVING}:burn", [-1], "spinner", timeout_s=60)
        assert err.value.reason == "inspect_timeout"
        assert "more than its 2 CPU seconds" in err.value.message
        assert time.monotonic() - started < 30  # the CPU budget, not the wall timeout
        assert inspector.call(f"{MISBEHAVING}:burn", [0.1], "after", timeout_s=60) > 0


def test_the_cpu_budget_follows_the_timeout_as_in_the_one_shot_child() -> None:
    from ingest.inspector import cpu_budget

    assert (cpu_budget(0.5), cpu_budget(3), cpu_budget(60)) == (1, 4, 61)

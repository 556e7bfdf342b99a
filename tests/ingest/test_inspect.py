"""inspect_file: corrupted granules end classified in a child process; the parent survives."""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

import pytest

from ingest.inspect import InspectError, inspect_file

SWATHS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "swaths"
SOURCE = SWATHS / "SS_MODIS_A-JPL-L2P-v2014.0.nc"
REASONS = {"unreadable", "no_geolocation", "unsupported_format", "inspect_crashed",
           "inspect_timeout", "inspect_out_of_memory"}


def hang_forever(path: str, hints: dict | None = None) -> None:
    """A reader that never returns (stands in for a C library stuck on a bad file)."""
    while True:
        time.sleep(1)


def crash_hard(path: str, hints: dict | None = None) -> None:
    """A reader that dies the way a segfaulting C library does."""
    os.abort()


def test_a_good_file_is_read_in_the_child(tmp_path: Path) -> None:
    meta = inspect_file(SWATHS / "GPM_test_file.HDF5", timeout_s=60)
    assert meta.footprint is not None and meta.start_time.year == 2021


def test_a_truncated_file_is_classified_and_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "truncated.nc"
    bad.write_bytes(SOURCE.read_bytes()[: SOURCE.stat().st_size // 3])
    with pytest.raises(InspectError) as info:
        inspect_file(bad, timeout_s=60)
    assert info.value.reason in REASONS and "truncated.nc" in str(info.value)


@pytest.mark.parametrize("seed", range(6))
def test_bit_flipped_and_zeroed_mutations_end_classified(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    data = bytearray(SOURCE.read_bytes())
    if seed % 2:
        for _ in range(200):
            pos = rng.randrange(len(data))
            data[pos] ^= 1 << rng.randrange(8)
    else:
        start = rng.randrange(0, len(data) // 2)
        data[start:start + 4096 * (seed + 1)] = bytes(4096 * (seed + 1))
    bad = tmp_path / f"mutant-{seed}.nc"
    bad.write_bytes(bytes(data))
    try:
        meta = inspect_file(bad, timeout_s=60)
    except InspectError as e:
        assert e.reason in REASONS and bad.name in str(e)
    else:
        assert meta.path == str(bad)  # the damage missed everything we read


def test_a_hanging_reader_is_killed_at_its_timeout(tmp_path: Path) -> None:
    target = tmp_path / "granule.nc"
    shutil.copy(SOURCE, target)
    started = time.monotonic()
    with pytest.raises(InspectError) as info:
        inspect_file(target, timeout_s=3, reader="tests.ingest.test_inspect:hang_forever")
    assert info.value.reason == "inspect_timeout" and "granule.nc" in str(info.value)
    assert time.monotonic() - started < 15


def test_a_crashing_reader_is_reported_as_a_crash(tmp_path: Path) -> None:
    with pytest.raises(InspectError) as info:
        inspect_file(SOURCE, timeout_s=30, reader="tests.ingest.test_inspect:crash_hard")
    assert info.value.reason == "inspect_crashed" and "SIGABRT" in str(info.value)


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(InspectError) as info:
        inspect_file(tmp_path / "nope.nc")
    assert info.value.reason == "not_found"

"""Malformed input: seeded NetCDF/HDF5 mutations (M1), kept hang/crash files (M2),
decompression bombs (M3). No file may crash a batch or reach VERIFIED with bytes
other than its source's."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from archive.streaming import sha256_file
from catalog.models import StoredObject, Swath
from ingest.bulk import run_in_process, start_run
from ingest.inspect import InspectError
from ingest.inspector import Inspector
from ingest.scan import scan
from tests.conftest import REPO, SHARED_SWATHS
from tests.faults.conftest import sized

pytestmark = pytest.mark.faults

FIXTURES = Path(__file__).parent / "fixtures"
# Small granules whose reads take well under a second: hundreds of cases fit in CI.
BASES = ["ascat_20211220_231800_metopb_48038_eps_o_250_3202_ovw.l2.nc4",
         "CS_LTA__SIR_SAR_2__20191005T151255_20191005T151621_E001.nc",
         "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc",
         "GPM_test_file.HDF5"]
KEEP_MAX_BYTES = 1_000_000  # larger hang/crash cases are reported, not committed
CLASSIFIED = {"ok", "error", "timeout", "crash"}


def mutate(data: bytes, rng: object) -> tuple[str, bytes]:
    """One seeded mutation that changes the bytes: truncation, bit flips (mostly in the
    metadata head), zeroing."""
    while True:
        how, mutated = _mutate_once(data, rng)
        # Zeroing a run of zeros (or flipping one bit twice) changes nothing; such a
        # "mutant" is the original, which the archive rightly skips as a duplicate.
        if mutated != data:
            return how, mutated


def _mutate_once(data: bytes, rng: object) -> tuple[str, bytes]:
    kind = rng.choice(["truncate", "flip", "zero"])
    buf = bytearray(data)
    if kind == "truncate":
        return f"truncate@{(cut := rng.randrange(len(buf)))}", bytes(buf[:cut])
    if kind == "flip":
        spots = []
        for _ in range(rng.randint(1, 8)):
            head = rng.random() < 0.7
            at = rng.randrange(min(len(buf), 16384) if head else len(buf))
            buf[at] ^= 1 << rng.randrange(8)
            spots.append(at)
        return f"flip@{','.join(map(str, spots))}", bytes(buf)
    at, length = rng.randrange(len(buf)), rng.randint(1, 4096)
    buf[at:at + length] = bytes(len(buf[at:at + length]))
    return f"zero@{at}+{length}", bytes(buf)


def test_m1_seeded_mutations_are_all_classified_and_the_parent_survives(
    rng, tmp_path: Path
) -> None:
    cases = sized(300, 2000)
    timeout = sized(10, 30)
    harness = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.fuzzharness",
         *(str(SHARED_SWATHS / b) for b in BASES)], cwd=REPO, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    originals = {name: (SHARED_SWATHS / name).read_bytes() for name in BASES}
    outcomes: Counter[str] = Counter()
    kept: list[str] = []
    slowest = 0.0
    started = time.monotonic()
    try:
        for i in range(cases):
            name = rng.choice(BASES)
            how, data = mutate(originals[name], rng)
            case = tmp_path / f"case{i:04d}{Path(name).suffix}"
            case.write_bytes(data)
            harness.stdin.write(json.dumps({"path": str(case), "timeout": timeout}) + "\n")
            harness.stdin.flush()
            line = harness.stdout.readline()
            assert line, f"the fuzz parent died at case {i} ({name} {how})"
            result = json.loads(line)
            kind = result["outcome"]
            outcomes[kind if kind != "error" else f"error:{result['reason']}"] += 1
            slowest = max(slowest, result.get("seconds", 0.0))
            assert kind in CLASSIFIED
            assert result.get("seconds", 0) <= timeout + 2, f"case {i} outlived its timeout"
            if kind in ("timeout", "crash"):
                kept.append(f"{name} {how} -> {result}")
                if len(data) <= KEEP_MAX_BYTES:
                    stem = f"{kind}-{Path(name).stem[:24]}-{how.split('@')[0]}-{i}"
                    shutil.copy(case, FIXTURES / f"{stem}{Path(name).suffix}")
            case.unlink()
    finally:
        harness.stdin.close()
        harness.wait(30)
    print(f"M1: {cases} mutations in {time.monotonic() - started:.0f} s, slowest "
          f"{slowest:.1f} s: {dict(outcomes)}")
    for line in kept:
        print("kept:", line)
    assert harness.returncode == 0, "the parent survives every case"
    assert sum(outcomes.values()) == cases


def fixtures() -> list[Path]:
    return sorted(p for p in FIXTURES.iterdir() if p.is_file() and p.name != ".gitkeep")


@pytest.mark.parametrize("path", [*fixtures(), None],
                         ids=lambda p: p.name if p else "simulated-hang")
def test_m2_kept_hang_and_crash_files_fail_cleanly_in_the_inspector(
    path: Path | None, tmp_path: Path
) -> None:
    """Every kept hang/crash file, plus a simulated hang (a reader that never returns,
    standing in until fuzzing keeps a real one), ends classified; the next file runs."""
    reader = "ingest.readers:read_metadata"
    if path is None:
        path = tmp_path / f"hang-{BASES[0]}"
        shutil.copy2(SHARED_SWATHS / BASES[0], path)
        reader = "tests.ingest.misbehaving_readers:hang_on_marker"
    inspector = Inspector(reader=reader)
    try:
        with pytest.raises(InspectError) as info:
            inspector.inspect(path, timeout_s=sized(10, 30))
        assert info.value.reason in ("inspect_timeout", "inspect_crashed", "unreadable",
                                     "inspect_out_of_memory", "unsupported_format")
        # The next file in the queue still runs.
        meta = inspector.inspect(SHARED_SWATHS / BASES[0], timeout_s=30)
        assert meta.start_time is not None
    finally:
        inspector.close()


@pytest.mark.django_db
def test_a_batch_of_malformed_files_never_crashes_and_accepts_only_matching_bytes(
    rng, tmp_path: Path, settings
) -> None:
    """M1's last figure through the real pipeline: every mutated file becomes an outcome;
    any that reads as valid is VERIFIED with exactly its own (mutated) bytes."""
    import archive.config
    from catalog.apps import store_specs

    settings.ARCHIVE_STORES = {"primary": (tmp_path / "objects").as_uri()}
    original = store_specs()
    archive.config.configure(store_specs())
    src = tmp_path / "src"
    src.mkdir()
    n = sized(12, 60)
    for i in range(n):
        name = BASES[i % 2]  # the two fastest bases
        _, data = mutate((SHARED_SWATHS / name).read_bytes(), rng)
        (src / f"m{i:03d}{Path(name).suffix}").write_bytes(data)
    shutil.copy(SHARED_SWATHS / BASES[0], src / "valid.nc4")
    try:
        found = scan([src])
        run = run_in_process(start_run("fuzz", found.files, [], paths=[], options={}),
                             found.files)
        print(f"batch: {run.n_new} new, {run.n_failed} failed, {run.n_skipped} skipped")
        assert run.n_new + run.n_failed + run.n_skipped == n + 1
        assert Swath.objects.get(granule_id="valid.nc4").state == "VERIFIED"
        store = archive.config.get_store("primary")
        for copy in StoredObject.objects.filter(state="VERIFIED").select_related("swath"):
            expected = sha256_file(src / copy.swath.granule_id)
            assert copy.sha256 == expected
            store.verify(copy.key, expected, codec=copy.codec)
        for swath in Swath.objects.exclude(state="VERIFIED"):
            assert swath.state == "FAILED" and swath.failure_reason
            assert not swath.copies.filter(state__in=["STORED", "VERIFIED"]).exists()
    finally:
        archive.config.configure(original)


@pytest.mark.django_db
def test_m3_a_decompression_bomb_ends_failed_with_nothing_uploaded(tmp_path: Path,
                                                                    settings) -> None:
    import archive.config
    from catalog.apps import store_specs
    from ingest.pipeline import ingest_file
    from tests.faults.helpers import collection

    settings.ARCHIVE_STORES = {"primary": (tmp_path / "objects").as_uri()}
    original = store_specs()
    archive.config.configure(store_specs())
    bomb = tmp_path / "bomb.nc.gz"
    size = sized(256, 2048) * 2**20  # zeros behind a NetCDF4/HDF5 signature
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        out.write(b"\x89HDF\r\n\x1a\n")
        block = bytes(2**20)
        for _ in range(size // 2**20):
            out.write(block)
    started = time.monotonic()
    try:
        outcome = ingest_file(bomb, collection("bombs").pk)
    finally:
        archive.config.configure(original)
    seconds = time.monotonic() - started
    print(f"M3: {bomb.stat().st_size} byte bomb of {size} bytes -> {outcome.status} in "
          f"{seconds:.1f} s: {outcome.reason}")
    assert outcome.status == "failed"
    assert Swath.objects.get().state == "FAILED"
    assert StoredObject.objects.count() == 0
    assert not any((tmp_path / "objects").rglob("*.*")) if (tmp_path / "objects").exists() \
        else True


@pytest.mark.django_db
def test_m3_b_the_unwrap_cap_is_the_setting_ingest_honours(tmp_path: Path, settings) -> None:
    """INGEST_UNWRAP_MAX_MB reaches the inspection child: a bomb past it ends FAILED as a
    decompression bomb, and a wrapped real granule under it still goes in."""
    import archive.config
    from catalog.apps import store_specs
    from ingest.pipeline import ingest_file
    from tests.faults.helpers import collection

    settings.ARCHIVE_STORES = {"primary": (tmp_path / "objects").as_uri()}
    settings.INGEST_UNWRAP_MAX_MB = 8
    settings.INGEST_QUICKLOOKS = False
    original = store_specs()
    archive.config.configure(store_specs())
    bomb = tmp_path / "bomb.nc.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        out.write(b"\x89HDF\r\n\x1a\n")
        for _ in range(32):
            out.write(bytes(2**20))
    granule = SHARED_SWATHS / BASES[1]
    wrapped = tmp_path / f"{granule.name}.gz"
    wrapped.write_bytes(gzip.compress(granule.read_bytes()))
    coll = collection("unwrap-cap").pk
    try:
        refused = ingest_file(bomb, coll)
        kept = ingest_file(wrapped, coll)
    finally:
        archive.config.configure(original)
    print(f"M3 setting: {refused.status}: {refused.reason}")
    assert refused.status == "failed" and "decompression_bomb" in refused.reason
    assert "bomb.nc.gz" in refused.reason
    assert Swath.objects.get(pk=refused.swath_id).state == "FAILED"
    assert kept.status == "new", kept.reason
    assert Swath.objects.get(pk=kept.swath_id).state == "VERIFIED"
    assert StoredObject.objects.filter(swath_id=refused.swath_id).count() == 0


def test_m3_the_unwrap_cap_stops_a_bomb_in_the_inspector_quickly(tmp_path: Path) -> None:
    """The reader's cap: a reader spec with a 100 MiB cap ends a 1 GiB bomb in < 1 s."""
    bomb = tmp_path / "bomb.h5.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        for _ in range(sized(1024, 2048)):
            out.write(bytes(2**20))
    inspector = Inspector(reader="tests.faults.capped_reader:read")
    try:
        started = time.monotonic()
        with pytest.raises(InspectError) as info:
            inspector.inspect(bomb, timeout_s=30)
        seconds = time.monotonic() - started
    finally:
        inspector.close()
    print(f"M3 cap: {info.value.reason} after {seconds:.2f} s (child start included)")
    assert info.value.reason == "decompression_bomb"
    assert seconds < 10

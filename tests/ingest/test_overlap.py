"""A bulk run verifies a file while the next one is inspected and uploaded (issue 24):
the overlap keeps the invariants. A read-back that does not match ends that swath FAILED,
never VERIFIED, with its object gone, while the next file is archived; a reader that hangs
or crashes costs its child and its file only, with the reason on the file's entry."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import archive.config
import ingest.inspector
from archive.s3 import S3Store
from catalog.models import IngestRun, StoredObject, Swath, SwathState
from ingest.inspector import Inspector
from tests.support.ingesting import copies_of, ingest_paths
from tests.support.s3servers import S3Server
from tests.support.stores import stores_on

pytestmark = pytest.mark.django_db(transaction=True)  # the run's threads: own connections
GOOD = ["CS_LTA__SIR_SAR_2__20191005T151255_20191005T151621_E001.nc",
        "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc"]


@pytest.fixture
def rclone_primary(settings: Any, rclone_s3: S3Server, s3_prefix: str) -> Iterator[S3Store]:
    """rclone (no SHA-256 checks: ingest reads every object back) as the primary store."""
    with stores_on(settings, {"primary": f"s3://{rclone_s3.bucket}/{s3_prefix}"}, rclone_s3):
        store = archive.config.get_store("primary")
        assert isinstance(store, S3Store)
        yield store


@pytest.mark.parametrize("workers", [1, 2])
def test_a_read_back_mismatch_fails_its_swath_while_the_next_file_is_archived(
    rclone_primary: S3Store, rclone_s3: S3Server, shared_swaths: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, workers: int,
) -> None:
    store, put, confirm = rclone_primary, rclone_primary.put, rclone_primary.confirm
    data_keys: list[str] = []
    next_upload = threading.Event()
    overlapped: list[bool] = []

    def watched_put(key: str, *args: Any, **kwargs: Any) -> Any:
        if key.startswith("swaths/"):
            data_keys.append(key)
            if len(data_keys) > 1:
                next_upload.set()
        return put(key, *args, **kwargs)

    def corrupting_confirm(key: str, *args: Any, **kwargs: Any) -> Any:
        if key == data_keys[0]:
            # The first file's check waits for the second file's upload to start (it
            # would wait for nothing if the run verified before going on), and then
            # finds one bit of the stored object flipped on the server's disk.
            overlapped.append(next_upload.wait(60))
            rclone_s3.corrupt_behind(store._s3_key(key), offset=1000)
        return confirm(key, *args, **kwargs)

    monkeypatch.setattr(store, "put", watched_put)
    monkeypatch.setattr(store, "confirm", corrupting_confirm)

    run = ingest_paths([copies_of(shared_swaths, GOOD, tmp_path / "in")], f"overlap-{workers}",
                       workers=workers)

    assert overlapped == [True]
    assert (run.state, run.n_new, run.n_failed) == (IngestRun.State.FAILED, 1, 1)
    first = StoredObject.objects.get(key=data_keys[0]).swath
    assert first.state == SwathState.FAILED
    assert "SHA-256" in first.failure_reason and "expected" in first.failure_reason
    assert not first.copies.filter(state=StoredObject.State.VERIFIED).exists()
    assert store.head(data_keys[0]) is None  # the corrupt bytes were discarded
    (error,) = run.errors
    assert error["path"].endswith(first.granule_id) and "SHA-256" in error["reason"]
    second = StoredObject.objects.get(key=data_keys[1]).swath
    assert second.state == SwathState.VERIFIED
    store.verify(data_keys[1], second.sha256)


def test_a_hanging_and_a_crashing_reader_fail_their_files_and_the_batch_goes_on(
    shared_swaths: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any,
) -> None:
    settings.INGEST_INSPECT_TIMEOUT_S = 5
    made: list[Inspector] = []
    local = threading.local()

    def misbehaving_pooled() -> Inspector:
        # Every thread of the run gets a child whose reader hangs or crashes on a marker.
        if not hasattr(local, "inspector"):
            local.inspector = Inspector(reader="tests.ingest.misbehaving_readers:crash_or_hang")
            made.append(local.inspector)
        return local.inspector

    monkeypatch.setattr(ingest.inspector, "pooled", misbehaving_pooled)
    src = tmp_path / "in"
    src.mkdir()
    # One worker, in name order: the crash and the hang come between two good files.
    for name, base in (("a-good.nc", GOOD[0]), ("b-crash.nc", GOOD[0]),
                       ("c-hang.nc", GOOD[1]), ("d-good.nc", GOOD[1])):
        (src / name).write_bytes((shared_swaths / base).read_bytes())
    try:
        run = ingest_paths([src], "misbehaving", workers=1)
    finally:
        for inspector in made:
            inspector.close()

    assert (run.n_new, run.n_failed) == (2, 2)
    reasons = {Path(e["path"]).name: e["reason"] for e in run.errors}
    assert "inspect_crashed" in reasons["b-crash.nc"] and "SIGSEGV" in reasons["b-crash.nc"]
    assert "inspect_timeout" in reasons["c-hang.nc"] and "5 s" in reasons["c-hang.nc"]
    states = dict(Swath.objects.filter(collection__slug="misbehaving")
                  .values_list("filename", "state"))
    assert states == {"a-good.nc": SwathState.VERIFIED, "b-crash.nc": SwathState.FAILED,
                      "c-hang.nc": SwathState.FAILED, "d-good.nc": SwathState.VERIFIED}

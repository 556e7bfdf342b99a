"""Downloads of large objects into a file (archive/fileget.py): parts written in place as
they land and hashed in order; only a whole, matching file ever takes the target's name."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archive.errors import ArchiveError, ChecksumMismatch
from archive.s3 import S3Store
from archive.stores import ObjectInfo
from tests.archive.conftest import PART, MiB, payload, sha
from tests.support.s3servers import S3Server, start_rclone

Fetch = Callable[[int, int], bytes]


def big_store(server: S3Server, prefix: str, **options: object) -> S3Store:
    """A store that downloads anything over 2 MiB as 1 MiB ranged GETs, three in flight."""
    return server.store(prefix, **{"part_size": PART, "get_part_size": MiB, "concurrency": 3,
                                   "max_attempts": 2, "retry_base_s": 0.05, **options})


def wrap_fetches(monkeypatch: pytest.MonkeyPatch, wrap: Callable[[Fetch], Fetch]) -> None:
    """Pass every ranged GET of S3Store through ``wrap`` (the GETs still go to the server)."""
    real = S3Store._range_fetch

    def range_fetch(self: S3Store, key: str, info: ObjectInfo) -> Fetch:
        return wrap(real(self, key, info))

    monkeypatch.setattr(S3Store, "_range_fetch", range_fetch)


def leftovers(directory: Path) -> list[str]:
    """Names in ``directory``: a download's target and its temporary files alike."""
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def own_rclone(tmp_path: Path) -> Iterator[S3Server]:
    """An rclone server of this test's own, which the test may kill."""
    server = start_rclone(tmp_path / "server")
    yield server
    server.stop()


def test_parts_landing_out_of_order_give_the_right_bytes_and_hash(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = big_store(s3_server, s3_prefix)
    data = payload(7 * MiB + 4321, seed=41)  # seven whole parts and a short last one
    store.put("k/big", io.BytesIO(data), sha256=sha(data))
    landed: list[int] = []
    others_in = threading.Event()

    def held_back(fetch: Fetch) -> Fetch:
        def first_last(start: int, stop: int) -> bytes:
            got = fetch(start, stop)
            if start == 0:  # the first part waits until the two fetched beside it land
                others_in.wait(timeout=10)
            landed.append(start)
            if len(landed) == 2:
                others_in.set()
            return got
        return first_last

    wrap_fetches(monkeypatch, held_back)
    dest = tmp_path / "dl" / "big.bin"
    dest.parent.mkdir()
    info = store.get("k/big", dest, expected_sha256=sha(data))
    assert landed.index(0) >= 2  # the first part landed after two later ones
    assert sorted(landed) == [n * MiB for n in range(8)]
    assert dest.read_bytes() == data and info.size == len(data)
    assert leftovers(dest.parent) == ["big.bin"]


def test_a_download_that_hashes_wrong_leaves_no_file(
    rclone_s3: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    store = big_store(rclone_s3, s3_prefix)
    data = payload(6 * MiB, seed=42)
    store.put("k/rot", io.BytesIO(data), sha256=sha(data))
    rclone_s3.corrupt_behind(store.prefix + "k/rot", 4 * MiB + 17)  # bit rot in part 5
    for fsync in (True, False):
        with pytest.raises(ChecksumMismatch, match="k/rot.*differs from the expected"):
            store.get("k/rot", tmp_path / "rot.bin", expected_sha256=sha(data), fsync=fsync)
        assert leftovers(tmp_path) == []
    # An earlier good copy at the target is left as it was, never replaced by a bad one.
    (tmp_path / "rot.bin").write_bytes(data)
    with pytest.raises(ChecksumMismatch):
        store.get("k/rot", tmp_path / "rot.bin", expected_sha256=sha(data))
    assert leftovers(tmp_path) == ["rot.bin"] and (tmp_path / "rot.bin").read_bytes() == data


def test_a_server_dying_mid_download_fails_naming_the_object_and_leaves_no_file(
    own_rclone: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = big_store(own_rclone, "p", probe=False, connect_timeout=1, read_timeout=2)
    data = payload(12 * MiB, seed=43)
    store.put("k/dying", io.BytesIO(data), sha256=sha(data))
    landed: list[int] = []

    def killing(fetch: Fetch) -> Fetch:
        def fetch_then_kill(start: int, stop: int) -> bytes:
            got = fetch(start, stop)
            landed.append(start)
            if len(landed) == 2:
                own_rclone.process.kill()  # SIGKILL: no goodbye to open connections
                own_rclone.process.wait()
            return got
        return fetch_then_kill

    wrap_fetches(monkeypatch, killing)
    out = tmp_path / "dl"
    out.mkdir()
    with pytest.raises(ArchiveError, match="k/dying") as failure:
        store.get("k/dying", out / "dying.bin", expected_sha256=sha(data))
    assert not isinstance(failure.value, ChecksumMismatch)  # the network, not the bytes
    assert len(landed) < 12 and leftovers(out) == []


CHILD = textwrap.dedent("""
    import json, sys
    from archive.s3 import S3Store

    def kib(field):
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])

    args = json.loads(sys.argv[1])
    store = S3Store(args["bucket"], args["prefix"], **args["options"])
    assert store.client is not None and store.head(args["key"]) is not None
    before = kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # the peak (VmHWM) starts again from here
        f.write("5")
    store.get(args["key"], args["dest"], expected_sha256=args["sha256"])
    print(json.dumps({"grew_kib": kib("VmHWM") - before}))
""")


def test_a_download_holds_a_few_parts_in_memory_whatever_the_object_size(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    """Peak RSS of a child process downloading 16 and 96 MiB in 1 MiB parts, 3 in flight."""
    store = big_store(s3_server, s3_prefix, probe=False)
    grew = {}
    for size_mib in (16, 96):
        data = payload(size_mib * MiB, seed=size_mib)
        key = f"k/{size_mib}"
        store.put(key, io.BytesIO(data), sha256=sha(data))
        del data
        options = {**s3_server.store_options(), "get_part_size": MiB, "concurrency": 3,
                   "probe": False}
        args = {"bucket": store.bucket, "prefix": store.prefix, "options": options, "key": key,
                "dest": str(tmp_path / key.replace("/", "-")), "sha256": store.head(key).sha256}
        run = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], check=True,
                             capture_output=True, text=True, cwd=Path(__file__).parents[2])
        grew[size_mib] = json.loads(run.stdout)["grew_kib"] / 1024
        assert (tmp_path / key.replace("/", "-")).stat().st_size == size_mib * MiB
    # 5 parts of 1 MiB in flight or waiting for the hash, plus threads and allocator slack
    # (4-9 MiB measured), not the 96 MiB the object is.
    assert grew[96] < 24, grew
    assert grew[96] < grew[16] + 12, grew  # flat in the object's size


def test_after_rclone_forgets_metadata_a_compressed_object_is_refused_not_written(
    own_rclone: S3Server, tmp_path: Path
) -> None:
    store = big_store(own_rclone, "p", probe=False)
    data = payload(8 * MiB, seed=44)  # zstd keeps the random half: about 4 MiB stored
    store.put("k/packed", io.BytesIO(data), codec="zstd")
    store.put("k/plain", io.BytesIO(data))
    own_rclone.restart()  # rclone keeps user metadata in memory only
    info = store.head("k/packed")
    assert info is not None and info.codec is None and info.stored_size > 2 * MiB
    out = tmp_path / "dl"
    out.mkdir()
    with pytest.raises(ArchiveError, match="k/packed.*codec="):
        store.get("k/packed", out / "packed.bin")
    assert leftovers(out) == []
    store.get("k/plain", out / "plain.bin")  # nothing recorded to check: fetched unhashed
    assert (out / "plain.bin").read_bytes() == data

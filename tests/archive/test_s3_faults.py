"""Faults during S3 uploads, on each real server (rclone, SeaweedFS) and on moto where it
differs: every bad case ends with an error naming the object and no multipart upload left
behind, and no corrupt object is ever accepted."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archive import multipart
from archive.errors import (
    ArchiveError,
    ChecksumMismatch,
    EndpointRefused,
    SizeLimitExceeded,
    TransientArchiveError,
)
from archive.probe import reset_cache
from archive.s3 import S3Store
from tests.archive.conftest import PART, MiB, Zeros, payload, sha
from tests.support.s3servers import S3Server
from tests.support.tcpproxy import TcpProxy

Proxied = Callable[..., tuple[S3Store, TcpProxy]]


def assert_nothing_left(server: S3Server, store: S3Store, key: str) -> None:
    """Assert, talking to the server directly, that neither the object nor an upload remains."""
    direct = server.store(store.prefix, probe=False)
    assert direct.list_uploads() == []
    assert direct.head(key) is None


def assert_stored_whole(store: S3Store, key: str, data: bytes, sha256: str) -> None:
    """Assert the put returned ``data``'s SHA-256, the store confirms it, and no upload remains."""
    assert sha256 == sha(data)
    store.verify(key, sha(data))
    assert store.list_uploads() == []


@pytest.mark.parametrize("rst", [False, True], ids=["closed", "reset"])
def test_a_connection_cut_during_parts_aborts_the_upload_and_names_the_key(
    s3_server: S3Server, proxied_store: Proxied, rst: bool
) -> None:
    store, proxy = proxied_store(s3_server)
    proxy.cut_after(MiB, times=None, rst=rst)  # every connection carrying a part dies
    with pytest.raises(TransientArchiveError, match="swaths/7/cut.nc"):
        store.put("swaths/7/cut.nc", io.BytesIO(payload(2 * PART + 1)))
    assert_nothing_left(s3_server, store, "swaths/7/cut.nc")


def test_a_connection_cut_during_a_single_put_leaves_nothing(
    s3_server: S3Server, proxied_store: Proxied
) -> None:
    store, proxy = proxied_store(s3_server)
    proxy.cut_after(256 * 1024, times=None)
    with pytest.raises(TransientArchiveError, match="k/small"):
        store.put("k/small", io.BytesIO(payload(MiB)))
    assert_nothing_left(s3_server, store, "k/small")


def test_a_single_dropped_connection_is_retried_and_the_upload_succeeds(
    s3_server: S3Server, proxied_store: Proxied
) -> None:
    store, proxy = proxied_store(s3_server, max_attempts=4)
    fault = proxy.cut_after(3 * MiB, times=1)
    data = payload(2 * PART + 1, seed=4)
    result = store.put("k/retried", io.BytesIO(data))
    assert fault.fired == 1
    assert_stored_whole(store, "k/retried", data, result.sha256)


@pytest.mark.parametrize("size", [64 * 1024, 2 * PART + 1], ids=["single", "multipart"])
def test_the_server_rejects_a_bit_flipped_in_flight_and_the_upload_is_retried(
    s3_server: S3Server, proxied_store: Proxied, size: int
) -> None:
    store, proxy = proxied_store(s3_server)
    fault = proxy.flip_bit(min(size // 2, 3 * MiB) + 7, times=1)
    data = payload(size, seed=9)
    result = store.put("k/flipped", io.BytesIO(data))
    assert fault.fired == 1  # the flip happened, Content-MD5 caught it, the retry was clean
    assert_stored_whole(store, "k/flipped", data, result.sha256)


def test_the_server_rejects_a_bit_flipped_in_a_whole_file_put_and_the_put_is_retried(
    s3_server: S3Server, proxied_store: Proxied, tmp_path: Path
) -> None:
    store, proxy = proxied_store(s3_server, multipart_threshold=4 * PART)
    source = tmp_path / "whole.bin"
    source.write_bytes(payload(2 * PART + 1, seed=10))
    fault = proxy.flip_bit(3 * MiB + 7, times=1)
    result = store.put("k/flipped-whole", source)
    assert fault.fired == 1  # Content-MD5 caught the flip, the retry sent clean bytes
    assert result.sha256 == sha(source.read_bytes())
    store.verify("k/flipped-whole", sha(source.read_bytes()))


class AbortsBehindOurBack(io.BytesIO):
    """A source that has the server forget the upload once the reader reaches part 3."""

    def __init__(self, data: bytes, server: S3Server, prefix: str) -> None:
        super().__init__(data)
        self.direct = server.store(prefix, probe=False)
        self.dropped = 0

    def read(self, n: int | None = -1) -> bytes:  # type: ignore[override]
        if not self.dropped and self.tell() >= 2 * PART:
            for upload in self.direct.list_uploads():
                self.direct.abort_upload(upload.key, upload.upload_id)
                self.dropped += 1
        return super().read(n)


def test_an_upload_the_server_drops_midway_is_started_again(
    s3_server: S3Server, proxied_store: Proxied, s3_prefix: str
) -> None:
    # rclone fails a whole upload when it refuses one part, so a sibling part can hear
    # NoSuchUpload before the refused one hears BadDigest; a restart forgets uploads too.
    # Here the upload is aborted through the API, which every server honours.
    store, _ = proxied_store(s3_server)
    data = payload(3 * PART + 1, seed=13)
    source = AbortsBehindOurBack(data, s3_server, s3_prefix)
    result = store.put("k/dropped", source)
    assert source.dropped == 1
    assert_stored_whole(store, "k/dropped", data, result.sha256)


def test_an_upload_dropped_on_its_last_attempt_fails_naming_the_object(
    s3_server: S3Server, proxied_store: Proxied, s3_prefix: str
) -> None:
    store, _ = proxied_store(s3_server, upload_attempts=1)
    source = AbortsBehindOurBack(payload(3 * PART + 1, seed=14), s3_server, s3_prefix)
    with pytest.raises(TransientArchiveError, match="k/dropped-once.*dropped multipart upload"):
        store.put("k/dropped-once", source)
    assert source.dropped == 1
    assert_nothing_left(s3_server, store, "k/dropped-once")


def test_on_moto_a_bit_flipped_in_flight_is_caught_by_the_read_back(
    moto_s3: S3Server, proxied_store: Proxied
) -> None:
    store, proxy = proxied_store(moto_s3)
    proxy.flip_bit(3 * MiB, times=1)
    data = payload(2 * PART + 1, seed=10)
    result = store.put("k/moto-flip", io.BytesIO(data))  # moto does not check Content-MD5
    assert result.sha256 == sha(data)
    with pytest.raises(ChecksumMismatch, match="k/moto-flip"):
        store.verify("k/moto-flip", result.sha256)
    assert store.list_uploads() == []


def test_slowdown_answers_are_retried_with_backoff(
    s3_server: S3Server, proxied_store: Proxied
) -> None:
    store, proxy = proxied_store(s3_server, max_attempts=5)
    fault = proxy.slowdown(times=2)
    data = payload(PART + 1, seed=12)
    store.put("k/throttled", io.BytesIO(data))
    assert fault.fired == 2
    store.verify("k/throttled", sha(data))


def test_a_stalled_server_times_out_and_the_upload_is_aborted(
    s3_server: S3Server, proxied_store: Proxied
) -> None:
    store, proxy = proxied_store(s3_server, read_timeout=1, max_attempts=1, upload_attempts=1)
    proxy.stall(6, after=MiB, times=None)
    with pytest.raises(TransientArchiveError, match="k/stalled"):
        store.put("k/stalled", io.BytesIO(payload(2 * PART)))
    proxy.clear()
    assert_nothing_left(s3_server, store, "k/stalled")


def test_keyboard_interrupt_mid_upload_aborts_the_multipart_upload(
    s3_server: S3Server, s3_store: S3Store
) -> None:
    source = io.BufferedReader(Zeros(2 * PART, KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        s3_store.put("k/interrupted", source)  # type: ignore[arg-type]
    assert_nothing_left(s3_server, s3_store, "k/interrupted")


@pytest.fixture
def pipe_of() -> Iterator[Callable[[bytes], io.BufferedReader]]:
    """A factory for an unseekable stream of unknown size fed by a thread."""
    threads: list[threading.Thread] = []

    def make(data: bytes) -> io.BufferedReader:
        read_fd, write_fd = os.pipe()

        def feed() -> None:
            try:
                with os.fdopen(write_fd, "wb") as writer:
                    writer.write(data)
            except BrokenPipeError:
                pass

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        threads.append(thread)
        return os.fdopen(read_fd, "rb")

    yield make
    for thread in threads:
        thread.join(timeout=10)


def assert_piped_put_refused_as_too_big(
    server: S3Server, store: S3Store, key: str, data: bytes,
    pipe_of: Callable[[bytes], io.BufferedReader],
) -> None:
    """Assert a put of ``data`` from a pipe (no size) is refused as too big, leaving nothing."""
    with pipe_of(data) as stream, pytest.raises(SizeLimitExceeded, match=key):
        store.put(key, stream)  # type: ignore[arg-type]
    assert_nothing_left(server, store, key)


def test_an_unknown_size_stream_past_the_part_ceiling_fails_clearly_and_aborts(
    s3_server: S3Server,
    s3_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    pipe_of: Callable[[bytes], io.BufferedReader],
) -> None:
    monkeypatch.setattr(multipart, "MAX_PARTS", 2)
    store = s3_server.store(s3_prefix, part_size=PART, max_object_bytes=9000 * PART)
    assert_piped_put_refused_as_too_big(s3_server, store, "k/long", payload(3 * PART), pipe_of)


def test_a_source_that_changed_during_the_upload_is_not_completed(
    s3_server: S3Server, s3_store: S3Store
) -> None:
    data = payload(2 * PART + 3, seed=13)
    with pytest.raises(ChecksumMismatch, match="k/changed"):
        s3_store.put("k/changed", io.BytesIO(data), sha256=sha(b"what the catalog expected"))
    assert_nothing_left(s3_server, s3_store, "k/changed")


def test_an_object_over_the_store_limit_is_refused_and_aborted(
    s3_server: S3Server, s3_prefix: str, pipe_of: Callable[[bytes], io.BufferedReader]
) -> None:
    store = s3_server.store(s3_prefix, part_size=PART, max_object_bytes=PART + 100)
    assert_piped_put_refused_as_too_big(s3_server, store, "k/big", payload(2 * PART), pipe_of)


def test_the_probe_refuses_an_endpoint_that_corrupts_bytes(
    moto_s3: S3Server, proxied_store: Proxied
) -> None:
    store, proxy = proxied_store(moto_s3, probe=True)
    proxy.flip_bit(10_000, times=None)
    with pytest.raises(EndpointRefused, match="different bytes"):
        store.put("k/never", io.BytesIO(b"x"))


def test_a_refused_endpoint_is_never_kept_in_the_probe_cache(
    moto_s3: S3Server, proxied_store: Proxied, tmp_path: Path
) -> None:
    kept = tmp_path / "probes"
    store, proxy = proxied_store(moto_s3, probe=True, probe_cache_dir=kept, probe_ttl_s=600)
    proxy.flip_bit(10_000, times=None)
    for _ in range(2):  # the next process probes again and is refused again
        reset_cache()
        with pytest.raises(EndpointRefused, match="different bytes"):
            store.capabilities()
    assert not kept.exists() or list(kept.iterdir()) == []


CRASHING_PUT = textwrap.dedent(
    """
    import io, sys
    from archive.s3 import S3Store
    endpoint, bucket, prefix, access, secret = sys.argv[1:6]
    store = S3Store(bucket, prefix, endpoint_url=endpoint, access_key=access,
                    secret_key=secret, part_size=5 * 2**20, probe=False)
    store.put("k/crash", io.BytesIO(bytes(3 * 5 * 2**20)))
    print("completed")
    """
)


@pytest.mark.parametrize(
    ("point", "leaves_upload"),
    [("before_create_mpu", False), ("mid_parts", True), ("after_parts_before_complete", True)],
)
def test_a_crash_at_each_fault_point_leaves_no_object_and_only_an_abortable_upload(
    s3_server: S3Server, s3_store: S3Store, point: str, leaves_upload: bool
) -> None:
    env = {
        **os.environ,
        "ARCHIVE_FAULT": f"{point}:1.0",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    argv = [
        sys.executable,
        "-c",
        CRASHING_PUT,
        s3_server.endpoint_url,
        s3_server.bucket,
        s3_store.prefix,
        s3_server.access_key,
        s3_server.secret_key,
    ]
    done = subprocess.run(argv, env=env, capture_output=True, timeout=120)
    assert done.returncode == 137, done.stderr.decode()
    assert s3_store.head("k/crash") is None
    uploads = s3_store.list_uploads()
    assert [u.key for u in uploads] == (["k/crash"] if leaves_upload else [])
    for upload in uploads:  # what the cleanup command does
        s3_store.abort_upload(upload.key, upload.upload_id)
    assert s3_store.list_uploads() == []


def test_errors_say_whether_a_retry_can_help() -> None:
    assert issubclass(TransientArchiveError, ArchiveError)
    assert not issubclass(ChecksumMismatch, TransientArchiveError)

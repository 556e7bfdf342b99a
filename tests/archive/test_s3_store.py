"""S3Store against real servers: each of rclone and SeaweedFS (``s3_store``), rclone and
moto where a test is about their own behaviour, moto for presigned URLs."""

from __future__ import annotations

import io
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from archive import codecs
from archive.errors import ArchiveError, ChecksumMismatch, ObjectExists, ObjectNotFound
from archive.probe import ProbeTarget, probe, reset_cache
from archive.s3 import S3Store
from tests.archive.conftest import PART, MiB, Zeros, payload, sha
from tests.support.s3servers import S3Server

SIZES = {"empty": 0, "tiny": 10, "exactly_one_part": PART, "three_parts": 2 * PART + 12345}


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("codec", codecs.CODECS)
def test_it_round_trips_objects(s3_store: S3Store, size: int, codec: str) -> None:
    data = payload(size, seed=size + len(codec))
    result = s3_store.put(
        "swaths/1/obj",
        io.BytesIO(data),
        codec=codec,
        sha256=sha(data),
        metadata={"mission": "Aqua"},
    )
    assert (result.size, result.sha256, result.codec) == (size, sha(data), codec)
    info = s3_store.head("swaths/1/obj")
    assert info is not None
    assert (info.sha256, info.size, info.codec) == (sha(data), size, codec)
    assert info.stored_size == result.stored_size and info.metadata["mission"] == "Aqua"
    with s3_store.open("swaths/1/obj", expected_sha256=sha(data)) as stream:
        assert stream.read() == data
    assert s3_store.verify("swaths/1/obj", sha(data)).size == size
    assert s3_store.list_uploads() == []


@pytest.mark.parametrize("size", [0, PART + 1], ids=["empty", "two_parts"])
@pytest.mark.parametrize("codec", ["none", "zstd"])
def test_it_round_trips_objects_on_moto(moto_store: S3Store, size: int, codec: str) -> None:
    data = payload(size, seed=size)
    result = moto_store.put("k/obj", io.BytesIO(data), codec=codec)
    assert result.sha256 == sha(data)
    with moto_store.open("k/obj") as stream:
        assert stream.read() == data
    moto_store.verify("k/obj", sha(data))
    assert moto_store.list_uploads() == []


def test_a_multipart_upload_without_a_given_digest_still_returns_the_streamed_sha256(
    s3_store: S3Store, tmp_path: Path
) -> None:
    source = tmp_path / "swath.bin"
    source.write_bytes(payload(PART + 3, seed=11))
    result = s3_store.put("k/from-path", source)
    assert result.sha256 == sha(source.read_bytes())
    s3_store.get("k/from-path", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == source.read_bytes()


def test_a_file_up_to_the_multipart_threshold_is_one_put_carrying_its_sha256(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    assert_one_put_up_to_the_threshold(s3_server, s3_prefix, tmp_path)


def test_on_moto_too_a_file_up_to_the_multipart_threshold_is_one_put(
    moto_s3: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    assert_one_put_up_to_the_threshold(moto_s3, s3_prefix, tmp_path)


def assert_one_put_up_to_the_threshold(s3: S3Server, s3_prefix: str, tmp_path: Path) -> None:
    """Files up to the threshold go as one PutObject, larger ones in parts; both read back."""
    store = s3.store(s3_prefix, part_size=PART, multipart_threshold=3 * PART)
    store.capabilities()  # the probe's own requests are not counted below
    calls: list[str] = []
    for operation in ("PutObject", "CreateMultipartUpload", "UploadPart"):
        store.client.meta.events.register(
            f"before-call.s3.{operation}", lambda op=operation, **_: calls.append(op))
    for name, size, sent in (("whole", 3 * PART, ["PutObject"]),
                             ("in-parts", 3 * PART + 1,
                              ["CreateMultipartUpload"] + ["UploadPart"] * 4)):
        source = tmp_path / f"{name}.bin"
        source.write_bytes(payload(size, seed=size))
        calls.clear()
        result = store.put(f"k/{name}", source)
        assert calls == sent
        assert result.sha256 == sha(source.read_bytes())
        info = store.head(f"k/{name}")
        assert info is not None and info.size == size
        if name == "whole":  # known before the request: recorded with the object
            assert info.sha256 == sha(source.read_bytes())
        store.get(f"k/{name}", tmp_path / f"{name}.back")
        assert (tmp_path / f"{name}.back").read_bytes() == source.read_bytes()
    assert store.list_uploads() == []


def test_a_file_that_changes_between_hashing_and_sending_is_refused_by_content_md5(
    s3_store: S3Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from archive import fileput

    store = s3_store
    store.multipart_threshold = 3 * PART
    source = tmp_path / "changing.bin"
    source.write_bytes(payload(2 * PART, seed=5))
    real = fileput.iter_file_slices

    def hash_then_change(*args: object, **kwargs: object) -> Iterator[object]:
        yield from real(*args, **kwargs)  # type: ignore[arg-type]
        with source.open("r+b") as f:  # same size, other bytes: only the content differs
            f.seek(PART)
            f.write(b"X" * 100)

    monkeypatch.setattr(fileput, "iter_file_slices", hash_then_change)
    result = store.put("k/changing", source)
    # The first request sent other bytes than were hashed: the server refused them. The retry
    # hashed the file as it is now, and the object holds exactly what put reports.
    assert "BadDigest" in caplog.text
    assert result.sha256 == sha(source.read_bytes())
    store.verify("k/changing", result.sha256)


def test_a_part_whose_file_range_changes_before_it_is_sent_is_refused_by_content_md5(
    s3_store: S3Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import archive.s3

    source = tmp_path / "changing-parts.bin"
    source.write_bytes(payload(3 * PART, seed=6))
    real = archive.s3.iter_file_slices
    changed: list[bool] = []

    def slices_then_change(*args: object, **kwargs: object) -> Iterator[object]:
        for piece in real(*args, **kwargs):  # type: ignore[arg-type]
            if not changed:  # the first part, hashed, changes before it goes out
                with source.open("r+b") as f:
                    f.seek(100)
                    f.write(b"Y" * 100)
                changed.append(True)
            yield piece

    monkeypatch.setattr(archive.s3, "iter_file_slices", slices_then_change)
    result = s3_store.put("k/changing-parts", source)
    assert "BadDigest" in caplog.text  # its MD5 was the hashed bytes', not the changed ones'
    assert result.sha256 == sha(source.read_bytes())
    s3_store.verify("k/changing-parts", result.sha256)
    assert s3_store.list_uploads() == []


def test_an_unknown_size_stream_is_uploaded_in_parts(s3_store: S3Store) -> None:
    data = payload(2 * PART + 5, seed=2)
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as reader:
        import threading

        def feed() -> None:
            with os.fdopen(write_fd, "wb") as writer:
                writer.write(data)

        feeder = threading.Thread(target=feed)
        feeder.start()
        # max_object_bytes keeps the derived part size at the 5 MiB floor.
        store = S3Store(
            s3_store.bucket,
            s3_store.prefix,
            endpoint_url=s3_store.endpoint_url,
            access_key=s3_store._credentials[0],
            secret_key=s3_store._credentials[1],
            part_size=PART,
            max_object_bytes=9000 * PART,
        )
        result = store.put("k/pipe", reader)  # type: ignore[arg-type]
        feeder.join()
    assert result.sha256 == sha(data) and result.stored_size == len(data)
    s3_store.verify("k/pipe", sha(data))


def test_head_of_a_missing_object_is_none_and_open_names_it(s3_store: S3Store) -> None:
    assert s3_store.head("k/missing") is None
    with pytest.raises(ObjectNotFound, match="k/missing"):
        s3_store.open("k/missing")


def test_list_and_delete_are_relative_to_the_prefix(s3_store: S3Store) -> None:
    for key in ["a/1", "a/2", "b/1"]:
        s3_store.put(key, io.BytesIO(key.encode()))
    assert [i.key for i in s3_store.list("a/")] == ["a/1", "a/2"]
    s3_store.delete("a/1")
    s3_store.delete("a/1")
    s3_store.delete_many(["a/2", "b/1"])  # DeleteObjects needs Content-MD5
    assert list(s3_store.list()) == []


# rclone only: SeaweedFS checks each stored chunk's CRC and answers a GET of a flipped bit
# with HTTP 500 or a cut-off body, which the store reports as a transient error after its
# retries (13-53 s here), not as ChecksumMismatch: how the archive should treat that is
# open, so the catalog's figure (S6) is held on rclone, which serves the changed bytes.
def test_verify_catches_an_object_edited_in_rclones_data_dir(
    rclone_s3: S3Server, rclone_store: S3Store, tmp_path: Path
) -> None:
    data = payload(PART + 99, seed=5)
    rclone_store.put("k/rot", io.BytesIO(data), sha256=sha(data))
    rclone_s3.corrupt_behind(rclone_store.prefix + "k/rot", PART + 10)
    with pytest.raises(ChecksumMismatch, match="k/rot"):
        rclone_store.verify("k/rot", sha(data))
    with (
        pytest.raises(ChecksumMismatch, match="k/rot"),
        rclone_store.open("k/rot", expected_sha256=sha(data)) as stream,
    ):
        stream.read()
    # Without the fsync too, a bad copy never takes the target's name.
    with pytest.raises(ChecksumMismatch, match="k/rot"):
        rclone_store.get("k/rot", tmp_path / "rot.bin", expected_sha256=sha(data), fsync=False)
    assert list(tmp_path.iterdir()) == []


def test_verify_reports_an_object_deleted_behind_the_server(
    s3_server: S3Server, s3_store: S3Store
) -> None:
    s3_store.put("k/gone", io.BytesIO(b"soon gone"))
    s3_server.remove_behind(s3_store.prefix + "k/gone")
    with pytest.raises(ObjectNotFound, match="k/gone"):
        s3_store.verify("k/gone", sha(b"soon gone"))


# rclone only: a truncated file in its data directory; SeaweedFS has no file per object.
def test_a_truncated_compressed_object_fails_verification(
    rclone_s3: S3Server, rclone_store: S3Store
) -> None:
    data = payload(2 * MiB, seed=8)
    rclone_store.put("k/trunc", io.BytesIO(data), codec="zstd")
    path = rclone_s3.object_path(rclone_store.prefix + "k/trunc")
    os.truncate(path, path.stat().st_size // 2)
    rclone_s3.forget()
    with pytest.raises(ChecksumMismatch, match="k/trunc"):
        # rclone forgets the metadata of a file changed behind its back, so name the codec
        # as the catalog would.
        rclone_store.verify("k/trunc", sha(data), codec="zstd")


def test_the_probe_sees_conditional_writes_on_moto_and_seaweedfs_but_not_on_rclone(
    moto_store: S3Store, rclone_store: S3Store, seaweed_s3: S3Server, s3_prefix: str
) -> None:
    reset_cache()
    moto_caps = moto_store.capabilities()
    rclone_caps = rclone_store.capabilities()
    seaweed_caps = seaweed_s3.store(s3_prefix).capabilities()
    assert moto_caps.conditional_writes and not rclone_caps.conditional_writes
    assert seaweed_caps.conditional_writes
    assert rclone_caps.content_md5_checked and not moto_caps.content_md5_checked
    assert seaweed_caps.content_md5_checked
    for caps in (moto_caps, rclone_caps, seaweed_caps):
        assert caps.single_roundtrip and caps.multipart_roundtrip and caps.delete_objects


class RecordingClient:
    """A real boto3 client that notes the Key of every call made through it."""

    def __init__(self, client: object) -> None:
        self._client, self.keys = client, []

    def __getattr__(self, name: str) -> object:
        method = getattr(self._client, name)

        def call(*args: object, **kwargs: object) -> object:
            if "Key" in kwargs:
                self.keys.append(kwargs["Key"])
            return method(*args, **kwargs)

        return call


def test_the_probe_writes_only_under_the_store_prefix(s3_store: S3Store) -> None:
    # So that a probe upload an abort missed is found by that store's own cleanup,
    # which lists uploads under its prefix.
    recording = RecordingClient(s3_store.client)
    caps = probe(ProbeTarget(recording, bucket=s3_store.bucket,
                             endpoint=s3_store.endpoint_url or "",
                             checksum_mode=s3_store.checksum_mode, prefix=s3_store.prefix))
    assert caps.single_roundtrip and caps.multipart_roundtrip
    assert recording.keys
    assert all(k.startswith(s3_store.prefix + "_probe/") for k in recording.keys)
    assert list(s3_store.list("_probe/")) == []


@pytest.mark.parametrize("size", [10, PART + 1], ids=["single", "multipart"])
@pytest.mark.parametrize("server", ["moto_s3", "seaweed_s3"])
def test_a_server_honouring_if_none_match_refuses_to_overwrite_a_key_with_different_bytes(
    server: str, s3_prefix: str, size: int, request: pytest.FixtureRequest
) -> None:
    s3: S3Server = request.getfixturevalue(server)
    store = s3.store(s3_prefix, part_size=PART, max_attempts=3, retry_base_s=0.05)
    first = payload(size, seed=1)
    store.put("k/once", io.BytesIO(first), sha256=sha(first))
    again = store.put("k/once", io.BytesIO(first), sha256=sha(first))
    assert again.existed
    other = payload(size, seed=2)
    with pytest.raises(ObjectExists, match="k/once"):
        store.put("k/once", io.BytesIO(other), sha256=sha(other))
    store.verify("k/once", sha(first))
    assert store.list_uploads() == []


# rclone only: it ignores If-None-Match (SeaweedFS and moto honour it, above).
def test_rclone_overwrites_silently_which_the_probe_reported(rclone_store: S3Store) -> None:
    rclone_store.put("k/twice", io.BytesIO(b"first"))
    rclone_store.put("k/twice", io.BytesIO(b"second"))
    rclone_store.verify("k/twice", sha(b"second"))


def test_presigned_urls_are_capped_and_work_with_plain_urllib(
    moto_s3: S3Server, s3_prefix: str
) -> None:
    store = moto_s3.store(s3_prefix, presign_max_s=900)
    store.put("k/public", io.BytesIO(b"granule bytes"))
    url = store.presign("k/public", 10**9)
    assert url is not None
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["900"] and "X-Amz-Signature" in query
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"granule bytes"
    huge = moto_s3.store(s3_prefix, presign_max_s=10**9)
    capped = huge.presign("k/public", 10**9)
    assert capped is not None
    assert parse_qs(urlsplit(capped).query)["X-Amz-Expires"] == ["604800"]
    with pytest.raises(ValueError):
        store.presign("k/public", 0)


# rclone only: it keeps user metadata in memory; SeaweedFS keeps it in its filer.
def test_after_rclone_forgets_metadata_compressed_objects_need_their_codec_named(
    tmp_path: Path,
) -> None:
    from tests.support.s3servers import start_rclone

    server = start_rclone(tmp_path)
    try:
        store = server.store("p", part_size=PART, probe=False)
        data = payload(MiB, seed=31)
        store.put("k/packed", io.BytesIO(data), codec="zstd")
        store.put("k/plain", io.BytesIO(data))
        server.restart()  # rclone keeps user metadata in memory only
        info = store.head("k/packed")
        assert info is not None and info.sha256 is None and info.codec is None
        with pytest.raises(ArchiveError, match="k/packed.*codec="):
            store.open("k/packed")
        with store.open("k/packed", codec="zstd") as stream:
            assert stream.read() == data
        assert store.verify("k/packed", sha(data), codec="zstd").size == len(data)
        assert store.verify("k/plain", sha(data)).size == len(data)
    finally:
        server.stop()


def test_a_streamed_upload_holds_only_a_few_parts_in_memory(
    s3_server: S3Server, s3_prefix: str
) -> None:
    import tracemalloc

    size = 64 * MiB
    store = s3_server.store(
        s3_prefix, part_size=PART, concurrency=2, probe=False, max_object_bytes=9000 * PART
    )
    assert store.client is not None  # load botocore's models before measuring
    tracemalloc.start()
    try:
        result = store.put("k/zeros", io.BufferedReader(Zeros(size)))  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == size and result.stored_size == size
    # 2 parts in flight + 1 being read (+1 transient copy while reading), never 64 MiB.
    assert peak < PART * (store.concurrency + 2) + 2 * MiB, peak / MiB
    store.delete("k/zeros")


@pytest.mark.parametrize("fsync", [True, False], ids=["fsync", "no-fsync"])
def test_large_objects_are_read_as_ranges_in_flight_and_come_back_in_order(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    fsync: bool,
) -> None:
    assert_ranges_in_flight_come_back_in_order(s3_server, s3_prefix, tmp_path, monkeypatch,
                                                fsync)


def test_on_moto_too_large_objects_are_read_as_ranges_in_flight(
    moto_s3: S3Server, s3_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert_ranges_in_flight_come_back_in_order(moto_s3, s3_prefix, tmp_path, monkeypatch, True)


def assert_ranges_in_flight_come_back_in_order(s3: S3Server, s3_prefix: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               fsync: bool) -> None:
    """Seven ranged GETs, three in flight, write the object in order and fsync it once."""
    store = s3.store(s3_prefix, part_size=PART, get_part_size=MiB, concurrency=3,
                     max_attempts=3, retry_base_s=0.05)
    data = payload(7 * MiB + 4321, seed=11)  # seven whole ranges and a short last one
    store.put("k/big", io.BytesIO(data), sha256=sha(data))
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    info = store.get("k/big", tmp_path / "big.bin", expected_sha256=sha(data), fsync=fsync)
    assert (tmp_path / "big.bin").read_bytes() == data and info.size == len(data)
    assert len(synced) == (1 if fsync else 0)
    assert list(tmp_path.glob("*.part")) == []
    assert store.verify("k/big", sha(data)).size == len(data)


def test_a_ranged_read_notices_the_object_replaced_behind_it(
    s3_server: S3Server, s3_prefix: str
) -> None:
    store = s3_server.store(s3_prefix, part_size=PART, get_part_size=MiB, concurrency=1,
                            max_attempts=2, retry_base_s=0.05, probe=False)
    data = payload(6 * MiB, seed=12)
    store.put("k/moving", io.BytesIO(data), sha256=sha(data))
    with store.open("k/moving") as stream:
        assert stream.read(MiB) == data[:MiB]
        other = payload(6 * MiB, seed=13)
        store.delete("k/moving")
        store.put("k/moving", io.BytesIO(other), sha256=sha(other))
        with pytest.raises(ArchiveError, match="k/moving"):
            stream.read()


def probe_in_a_new_process(server: S3Server, prefix: str, kept: Path, ttl_s: float):
    """The capabilities a fresh process would see; reset_cache() stands for the new process."""
    reset_cache()
    return server.store(prefix, probe_cache_dir=kept, probe_ttl_s=ttl_s).capabilities()


@pytest.mark.serial  # asserts a time bound
def test_a_passing_probe_is_kept_for_the_next_process_until_its_time_is_up(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    """`archive put` after `archive put` probes once."""
    kept = tmp_path / "probes"
    first = probe_in_a_new_process(s3_server, s3_prefix, kept, 1.0)
    assert first.single_roundtrip and first.seconds > 0
    again = probe_in_a_new_process(s3_server, s3_prefix, kept, 1.0)
    assert again == first  # the same measured seconds: read back, not probed again
    time.sleep(1.1)
    later = probe_in_a_new_process(s3_server, s3_prefix, kept, 1.0)
    assert later.single_roundtrip and later.seconds != first.seconds  # probed afresh


def test_a_garbled_probe_cache_is_ignored_and_replaced(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    kept = tmp_path / "probes"
    first = probe_in_a_new_process(s3_server, s3_prefix, kept, 60)
    (cache_file,) = kept.iterdir()
    cache_file.write_text('{"key": ["not json')
    again = probe_in_a_new_process(s3_server, s3_prefix, kept, 60)
    assert again.single_roundtrip and again.seconds != first.seconds
    assert json.loads(cache_file.read_text())["capabilities"]["seconds"] == again.seconds

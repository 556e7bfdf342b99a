"""Which store verifies how: SeaweedFS checks and keeps the SHA-256 of a whole object, so
one HEAD confirms it; rclone checks none, and multipart or compressed objects have no
full-object SHA-256, so those are read back. Never-overwrite by conditional write where
the store honours it."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archive.errors import ArchiveError, ChecksumMismatch, ObjectExists
from archive.probe import reset_cache
from archive.s3 import S3Store
from tests.archive.conftest import PART, payload, sha
from tests.support.s3requests import requests_of
from tests.support.s3servers import S3Server


@pytest.fixture
def seaweed_store(seaweed_s3: S3Server, s3_prefix: str) -> S3Store:
    """An S3Store on SeaweedFS under this test's prefix: 5 MiB parts, whole files to 20 MiB."""
    return seaweed_s3.store(s3_prefix, part_size=PART, multipart_threshold=4 * PART,
                            max_attempts=3, retry_base_s=0.05)


@pytest.fixture
def rclone_whole_store(rclone_s3: S3Server, s3_prefix: str) -> S3Store:
    """An S3Store on rclone with the same sizes as ``seaweed_store``."""
    return rclone_s3.store(s3_prefix, part_size=PART, multipart_threshold=4 * PART,
                           max_attempts=3, retry_base_s=0.05)


def a_file(tmp_path: Path, size: int, seed: int) -> Path:
    path = tmp_path / f"granule-{seed}.bin"
    path.write_bytes(payload(size, seed=seed))
    return path


def test_the_probe_finds_sha256_checksums_on_seaweedfs_but_not_on_rclone(
    seaweed_store: S3Store, rclone_whole_store: S3Store
) -> None:
    # rclone reports on HEAD the x-amz-checksum-sha256 it was sent, but takes a wrong one
    # too: the probe must try both halves.
    reset_cache()
    seaweed, rclone = seaweed_store.capabilities(), rclone_whole_store.capabilities()
    assert seaweed.sha256_checksums and seaweed.conditional_writes
    assert not rclone.sha256_checksums and not rclone.conditional_writes


def test_a_probe_cache_kept_before_sha256_checksums_existed_is_probed_afresh(
    seaweed_s3: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    kept = tmp_path / "probes"

    def in_a_new_process() -> Any:
        reset_cache()
        return seaweed_s3.store(s3_prefix, probe_cache_dir=kept, probe_ttl_s=600).capabilities()

    first = in_a_new_process()
    (cache_file,) = kept.iterdir()
    record = json.loads(cache_file.read_text())
    del record["capabilities"]["sha256_checksums"]  # as the previous version wrote it
    cache_file.write_text(json.dumps(record))
    again = in_a_new_process()
    assert again.sha256_checksums and again.seconds != first.seconds  # probed, not read
    assert json.loads(cache_file.read_text())["capabilities"]["sha256_checksums"] is True


@pytest.mark.parametrize("size", [1000, 2 * PART + 1], ids=["small", "whole-file"])
def test_on_seaweedfs_a_whole_object_is_confirmed_by_one_head_without_reading_it_back(
    seaweed_store: S3Store, tmp_path: Path, size: int
) -> None:
    source = a_file(tmp_path, size, seed=size)
    with requests_of(seaweed_store) as seen:
        result = seaweed_store.put("k/whole", source)
        info = seaweed_store.confirm("k/whole", sha(source.read_bytes()))
    assert result.store_checked
    assert info.sha256 == result.sha256 and info.size == size
    assert seen == {"PutObject": 1, "HeadObject+checksum": 1}  # no GetObject


def test_on_seaweedfs_confirm_refuses_a_digest_the_store_does_not_hold(
    seaweed_store: S3Store, tmp_path: Path
) -> None:
    seaweed_store.put("k/other", a_file(tmp_path, 4096, seed=3))
    wrong = sha(b"some other granule")
    with requests_of(seaweed_store) as seen, pytest.raises(ChecksumMismatch, match="k/other"):
        seaweed_store.confirm("k/other", wrong)
    assert "GetObject" not in seen


def test_a_bit_flipped_in_flight_is_refused_by_seaweedfs_and_the_put_retried(
    seaweed_s3: S3Server, s3_prefix: str, tcp_proxy: Callable[[str], Any], tmp_path: Path
) -> None:
    proxy = tcp_proxy(seaweed_s3.endpoint_url)

    def through_proxy() -> S3Store:
        return seaweed_s3.store(s3_prefix, endpoint_url=proxy.endpoint_url, part_size=PART,
                                multipart_threshold=4 * PART, upload_attempts=2,
                                retry_base_s=0.05)

    # Probed first by another client, so the flip's offset counts from this put's own
    # connection, not from the probe's bytes on a reused one.
    assert through_proxy().capabilities().sha256_checksums
    store = through_proxy()
    source = a_file(tmp_path, 2 * PART + 1, seed=11)
    fault = proxy.flip_bit(3 * 1024 * 1024 + 7, times=1)
    result = store.put("k/flipped", source)
    assert fault.fired == 1 and result.store_checked  # refused once, sent clean again
    store.confirm("k/flipped", sha(source.read_bytes()))
    store.verify("k/flipped", sha(source.read_bytes()))  # the bytes themselves agree


def put_then_rot(server: S3Server, store: S3Store, prefix: str, seed: int) -> bytes:
    """Put 64 KiB at k/rotted, then change its bytes on the server's disk; return what was put."""
    data = payload(64 * 1024, seed=seed)
    store.put("k/rotted", io.BytesIO(data))
    server.corrupt_behind(f"{prefix}/k/rotted", offset=100)
    return data


def test_bits_rotted_after_the_write_escape_confirm_and_are_found_by_the_read_back(
    seaweed_s3: S3Server, seaweed_store: S3Store, s3_prefix: str
) -> None:
    # Why fsck --full keeps re-reading every object: the store's SHA-256 speaks for the
    # bytes it received, not for what its disk holds later.
    data = put_then_rot(seaweed_s3, seaweed_store, s3_prefix, seed=21)
    seaweed_store.confirm("k/rotted", sha(data))
    # SeaweedFS's own CRC of the stored needle refuses to serve it (HTTP 500), which the
    # read-back reports and fsck --full lists as CORRUPT ("cannot be read"). SeaweedFS
    # takes about 13 s to give up on the needle, so the read-back here asks only once.
    once = seaweed_s3.store(s3_prefix, max_attempts=1)
    with pytest.raises(ArchiveError, match="k/rotted"):
        once.verify("k/rotted", sha(data))


def test_on_rclone_confirm_reads_the_object_back(
    rclone_whole_store: S3Store, tmp_path: Path
) -> None:
    source = a_file(tmp_path, 2 * PART + 1, seed=5)
    with requests_of(rclone_whole_store) as seen:
        result = rclone_whole_store.put("k/whole", source)
        rclone_whole_store.confirm("k/whole", sha(source.read_bytes()))
    assert not result.store_checked
    assert seen["GetObject"] >= 1 and seen["HeadObject+checksum"] == 0


def test_on_rclone_confirm_finds_what_the_read_back_finds(
    rclone_s3: S3Server, rclone_whole_store: S3Store, s3_prefix: str
) -> None:
    data = put_then_rot(rclone_s3, rclone_whole_store, s3_prefix, seed=22)
    with pytest.raises(ChecksumMismatch, match="k/rotted"):
        rclone_whole_store.confirm("k/rotted", sha(data))


@pytest.mark.parametrize(
    ("how", "codec"),
    [("multipart", "none"), ("zstd", "zstd")],
)
def test_on_seaweedfs_objects_without_a_full_object_sha256_are_read_back(
    seaweed_store: S3Store, tmp_path: Path, how: str, codec: str
) -> None:
    # multipart: a file above the threshold (SeaweedFS keeps a composite of the parts'
    # checksums at most, not the object's); zstd: the stored bytes are not the source's,
    # so the source's SHA-256 is not theirs.
    size = 5 * PART + 1 if how == "multipart" else 2 * PART + 1
    source = a_file(tmp_path, size, seed=7)
    with requests_of(seaweed_store) as seen:
        result = seaweed_store.put("k/read-back", source, codec=codec)
        seaweed_store.confirm("k/read-back", sha(source.read_bytes()), codec=codec)
    assert not result.store_checked
    assert seen["CreateMultipartUpload"] + seen["PutObject"] >= 1
    assert seen["GetObject"] >= 1


@pytest.mark.parametrize("size", [1000, 2 * PART + 1, 5 * PART + 1],
                         ids=["small", "whole-file", "multipart"])
def test_seaweedfs_never_overwrites_a_key_by_the_conditional_write(
    seaweed_store: S3Store, tmp_path: Path, size: int
) -> None:
    # The expected SHA-256 is passed so that a multipart object records it up front too:
    # the identical second put is recognised by it.
    first = a_file(tmp_path, size, seed=1)
    digest = sha(first.read_bytes())
    seaweed_store.put("k/once", first, sha256=digest)
    again = seaweed_store.put("k/once", first, sha256=digest)
    assert again.existed and again.sha256 == digest
    other = a_file(tmp_path, size, seed=2)
    with requests_of(seaweed_store) as seen, pytest.raises(ObjectExists, match="k/once"):
        seaweed_store.put("k/once", other, sha256=sha(other.read_bytes()))
    assert seen["HeadObject"] == 1  # the refusal came from the store; HEAD named the bytes
    seaweed_store.verify("k/once", sha(first.read_bytes()))
    assert seaweed_store.list_uploads() == []


def test_rclone_stores_a_second_body_over_the_first_as_its_probe_reports(
    rclone_whole_store: S3Store, tmp_path: Path
) -> None:
    # rclone stores the second body over the first whatever If-None-Match says; the probe
    # says so (conditional_writes False) and the catalog therefore never writes a key
    # twice: every upload attempt gets a fresh one (docs/ARCHITECTURE.md, "Keys").
    assert not rclone_whole_store.capabilities().conditional_writes
    first, other = a_file(tmp_path, 1000, seed=1), a_file(tmp_path, 1000, seed=2)
    rclone_whole_store.put("k/twice", first)
    result = rclone_whole_store.put("k/twice", other)
    assert not result.existed
    rclone_whole_store.verify("k/twice", sha(other.read_bytes()))

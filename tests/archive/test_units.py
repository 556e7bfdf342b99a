"""Pure units of the archive: keys, codecs, part sizing, stream helpers, fault points, config."""

from __future__ import annotations

import doctest
import importlib
import io
import math
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
import zstandard

from archive import codecs, config, keys
from archive.errors import ArchiveError, ChecksumMismatch, SizeLimitExceeded
from archive.local import LocalStore
from archive.multipart import MAX_PARTS, MIN_PART_SIZE, choose_part_size
from archive.s3 import S3Store
from archive.streaming import CheckingReader, HashingReader, iter_parts
from tests.archive.conftest import MiB, payload, sha

ARCHIVE_MODULES = [
    "archive.codecs",
    "archive.keys",
    "archive.multipart",
    "archive.prefetch",
    "archive.streaming",
    "archive.replication",
]


@pytest.mark.parametrize("module", ARCHIVE_MODULES)
def test_the_doctests_of_each_module_pass(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


def test_swath_keys_are_content_addressed() -> None:
    digest = "ab" * 32
    assert keys.swath_key("42", digest, ".nc.gz") == f"swaths/42/{digest}.nc.gz"


@pytest.mark.parametrize(
    "bad",
    [
        "../etc/passwd",
        "a/../b",
        "a//b",
        "/abs",
        "trailing/",
        "a/./b",
        "tab\tkey",
        "nul\x00",
        "x" * 1025,
        "a/.rclone_temp_put_1",
        "a/.archive-tmp.x",
        "back\\slash",
        "",
    ],
)
def test_it_refuses_unsafe_keys(bad: str) -> None:
    with pytest.raises(ValueError):
        keys.validate_key(bad)


def test_it_refuses_a_user_file_name_as_object_id() -> None:
    with pytest.raises(ValueError):
        keys.swath_key("MOD021KM file (1).hdf", "ab" * 32)


@pytest.mark.parametrize("codec", codecs.CODECS)
@pytest.mark.parametrize("size", [0, 1, 3 * MiB + 7])
def test_each_codec_round_trips_and_sniffs(codec: str, size: int) -> None:
    data = payload(size, seed=size)
    encoded = b"".join(codecs.encode(codec, io.BytesIO(data), chunk_size=64 * 1024))
    if codec != "none":
        assert codecs.sniff(encoded[:8]) == codec
    decoded = codecs.decoder(codec, io.BytesIO(encoded), limit=None, expected_size=size).read()
    assert decoded == data


def test_zstd_compresses_with_worker_threads() -> None:
    data = payload(4 * MiB)
    threaded = b"".join(codecs.encode("zstd", io.BytesIO(data), threads=2))
    assert zstandard.ZstdDecompressor().decompressobj().decompress(threaded) == data


def test_concatenated_gzip_members_decode_as_one_stream() -> None:
    member = b"".join(codecs.encode("gzip", io.BytesIO(b"swath")))
    assert codecs.decoder("gzip", io.BytesIO(member * 3), limit=None).read() == b"swath" * 3


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_a_decompression_bomb_stops_at_the_cap_quickly(codec: str) -> None:
    # 1 GiB of zeros compresses to about 1 MiB; the decoder must stop near the 8 MiB cap.
    zeros = io.BytesIO(bytes(16 * MiB))
    member = b"".join(codecs.encode(codec, zeros))
    bomb = member * 64
    started = time.monotonic()
    reader = codecs.decoder(codec, io.BytesIO(bomb), limit=8 * MiB, what="swaths/bomb")
    with pytest.raises(SizeLimitExceeded, match="swaths/bomb"):
        while reader.read(MiB):
            pass
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_a_truncated_stream_is_an_error_naming_the_object(codec: str) -> None:
    data = payload(2 * MiB, seed=3)
    encoded = b"".join(codecs.encode(codec, io.BytesIO(data)))
    reader = codecs.decoder(
        codec,
        io.BytesIO(encoded[: len(encoded) // 2]),
        limit=None,
        expected_size=len(data),
        what="swaths/cut",
    )
    with pytest.raises(ArchiveError, match="swaths/cut"):
        reader.read()


def test_corrupt_gzip_is_an_error_not_garbage() -> None:
    encoded = bytearray(b"".join(codecs.encode("gzip", io.BytesIO(payload(MiB)))))
    encoded[100] ^= 0xFF
    with pytest.raises((ArchiveError, zlib.error)):
        codecs.decoder("gzip", io.BytesIO(bytes(encoded)), limit=None).read()


def test_a_700_gb_object_fits_in_10000_parts() -> None:
    size = 700 * 10**9
    part = choose_part_size(size, part_size=8 * MiB, max_object_bytes=2**40)
    assert math.ceil(size / part) <= MAX_PARTS
    assert part % MiB == 0


def test_unknown_sizes_get_parts_big_enough_for_the_store_limit() -> None:
    limit = 2**40  # 1 TiB
    part = choose_part_size(None, part_size=8 * MiB, max_object_bytes=limit)
    assert part * 9000 >= limit
    assert part >= 117 * MiB


def test_small_objects_keep_the_configured_part_size_but_never_below_5_mib() -> None:
    assert choose_part_size(MiB, part_size=MiB, max_object_bytes=2**30) == MIN_PART_SIZE


def test_an_object_beyond_5_gib_parts_is_refused() -> None:
    with pytest.raises(SizeLimitExceeded):
        choose_part_size(60 * 2**40, part_size=8 * MiB, max_object_bytes=2**50)


def test_hashing_reader_hashes_exactly_what_was_read() -> None:
    data = payload(MiB + 5)
    reader = HashingReader(io.BytesIO(data))
    parts = list(iter_parts(iter(lambda: reader.read(1000), b""), 4096))
    assert b"".join(parts) == data
    assert reader.hexdigest() == sha(data) and reader.bytes_read == len(data)


def test_checking_reader_raises_at_eof_on_a_wrong_digest() -> None:
    reader = CheckingReader(
        io.BytesIO(b"abc"), expected_sha256=sha(b"abd"), expected_size=3, what="k/1"
    )
    with pytest.raises(ChecksumMismatch, match="k/1"):
        reader.read()


def test_a_fault_point_exits_the_process_with_137_only_when_selected(tmp_path: Path) -> None:
    code = "from archive.faults import fault_point; fault_point('mid_parts'); print('alive')"
    env = {"ARCHIVE_FAULT": "mid_parts:1.0", "PYTHONPATH": str(Path.cwd())}
    hit = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert hit.returncode == 137 and b"alive" not in hit.stdout
    env["ARCHIVE_FAULT"] = "before_create_mpu:1.0"
    miss = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert miss.returncode == 0 and b"alive" in miss.stdout


def test_open_store_understands_file_urls_paths_and_s3_urls(tmp_path: Path) -> None:
    assert isinstance(config.open_store(f"file://{tmp_path}/a"), LocalStore)
    assert isinstance(config.open_store(str(tmp_path / "b")), LocalStore)
    s3 = config.open_store("s3://swath-archive/raw/v1", endpoint_url="http://127.0.0.1:9")
    assert isinstance(s3, S3Store)
    assert (s3.bucket, s3.prefix, s3.checksum_mode) == ("swath-archive", "raw/v1/", "when_required")
    with pytest.raises(ValueError):
        config.open_store("ftp://example.org/x")


def test_named_stores_are_created_lazily_once_per_process(tmp_path: Path) -> None:
    config.reset()
    try:
        config.configure({"primary": f"file://{tmp_path}/p", "offsite": (str(tmp_path / "o"), {})})
        assert not (tmp_path / "p").exists()  # nothing is opened until asked for
        first = config.get_store()
        assert config.get_store("primary") is first and first.name == "primary"
        assert config.get_store("offsite") is not first
        with pytest.raises(LookupError, match="tertiary"):
            config.get_store("tertiary")
    finally:
        config.reset()


def test_no_module_of_the_archive_imports_django() -> None:
    root = Path(__file__).resolve().parents[2] / "archive"
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "import django" not in text and "from django" not in text, path

"""gzip/bzip2/zstd wrappers: detection by magic bytes, streaming round trip, bomb cap."""

from __future__ import annotations

import bz2
import gzip
import time
from pathlib import Path

import pytest
import zstandard

from ingest.unwrap import UnwrapError, detect_wrapper, unwrapped

PAYLOAD = b"CDF\x01" + bytes(range(256)) * 4000

COMPRESSORS = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_it_round_trips_a_wrapped_file(tmp_path: Path, kind: str) -> None:
    wrapped = tmp_path / "granule.bin"  # extension says nothing: magic bytes decide
    wrapped.write_bytes(COMPRESSORS[kind](PAYLOAD))
    assert detect_wrapper(wrapped) == kind
    with unwrapped(wrapped) as plain:
        assert plain != wrapped and plain.read_bytes() == PAYLOAD
    assert not plain.exists()


def test_a_plain_file_is_passed_through(tmp_path: Path) -> None:
    plain = tmp_path / "plain.nc"
    plain.write_bytes(PAYLOAD)
    assert detect_wrapper(plain) is None
    with unwrapped(plain) as same:
        assert same == plain


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_a_decompression_bomb_stops_at_the_cap_quickly(tmp_path: Path, kind: str) -> None:
    bomb = tmp_path / "bomb.nc.z"
    bomb.write_bytes(COMPRESSORS[kind](bytes(64 * 2**20)))  # 64 MiB of zeros
    started = time.monotonic()
    with pytest.raises(UnwrapError) as info, unwrapped(bomb, max_bytes=4 * 2**20, tmp_dir=tmp_path):
        pass
    assert info.value.reason == "decompression_bomb"
    assert str(bomb) in str(info.value)
    assert time.monotonic() - started < 5.0
    assert not list(tmp_path.glob("unwrap-*"))


def test_a_damaged_stream_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(PAYLOAD)[:200])
    with pytest.raises(UnwrapError) as info, unwrapped(broken):
        pass
    assert info.value.reason == "corrupt_wrapper" and "broken.gz" in str(info.value)

"""Fixtures for the archive tests: seeded payloads and stores on the real S3 servers."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from archive.s3 import S3Store
from tests.support.s3servers import S3Server

MiB = 1024 * 1024
PART = 5 * MiB  # the smallest part S3 allows, so multipart tests stay small
SWATHS = Path(__file__).resolve().parents[3] / "shared" / "data" / "swaths"
MODIS = SWATHS / "SS_MODIS_A-JPL-L2P-v2014.0.nc"


def payload(size: int, seed: int = 0) -> bytes:
    """Return ``size`` seeded bytes, half random and half zeros (so codecs have work to do)."""
    rng = random.Random(seed)
    half = size // 2
    return rng.randbytes(half) + bytes(size - half)


def sha(data: bytes) -> str:
    """Return the SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


class Zeros(io.RawIOBase):
    """An unseekable stream of ``size`` zero bytes that never exists in memory as a whole;
    with ``then``, raised once they are all read instead of ending (a source that fails)."""

    def __init__(self, size: int, then: BaseException | None = None) -> None:
        super().__init__()
        self.left = size
        self.then = then

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.left == 0 and self.then is not None:
            raise self.then
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def flip_bit(path: Path, offset: int, mask: int = 1) -> None:
    """Corrupt one byte of the file in place (same inode, same size), as bit rot would."""
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ mask]))


@pytest.fixture
def s3_store(s3_server: S3Server, s3_prefix: str) -> S3Store:
    """An S3Store on the test's real server (each in turn) under this test's prefix, 5 MiB
    parts."""
    return s3_server.store(s3_prefix, part_size=PART, max_attempts=3, retry_base_s=0.05)


@pytest.fixture
def rclone_store(rclone_s3: S3Server, s3_prefix: str) -> S3Store:
    """An S3Store on the rclone server under this test's prefix, 5 MiB parts (for tests of
    rclone's own behaviour)."""
    return rclone_s3.store(s3_prefix, part_size=PART, max_attempts=3, retry_base_s=0.05)


@pytest.fixture
def moto_store(moto_s3: S3Server, s3_prefix: str) -> S3Store:
    """An S3Store on the moto server under this test's prefix, 5 MiB parts."""
    return moto_s3.store(s3_prefix, part_size=PART, max_attempts=3, retry_base_s=0.05)


@pytest.fixture
def proxied_store(
    tcp_proxy: Callable[[str], object], s3_prefix: str
) -> Callable[[S3Server], tuple[S3Store, object]]:
    """A factory for an S3Store that reaches ``server`` through a fault-injecting proxy."""

    def make(server: S3Server, **options: object) -> tuple[S3Store, object]:
        proxy = tcp_proxy(server.endpoint_url)
        options = {
            "part_size": PART,
            "max_attempts": 2,
            "upload_attempts": 2,
            "retry_base_s": 0.05,
            "connect_timeout": 2,
            "read_timeout": 5,
            "probe": False,
            **options,
        }
        store = server.store(s3_prefix, endpoint_url=proxy.endpoint_url, **options)  # type: ignore[attr-defined]
        return store, proxy

    return make

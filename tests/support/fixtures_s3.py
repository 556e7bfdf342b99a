"""pytest fixtures: session-wide rclone, SeaweedFS and moto S3 servers, per-test prefixes, a TCP
proxy."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archive.local import LocalStore
from tests.support.s3servers import S3Server, start_moto, start_rclone, start_seaweedfs
from tests.support.tcpproxy import TcpProxy


@pytest.fixture(scope="session")
def rclone_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A file-backed ``rclone serve s3`` on loopback; ``data_dir`` holds its objects as files."""
    server = start_rclone(tmp_path_factory.mktemp("rclone-s3"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def seaweed_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS (``weed server``) on loopback: honours If-None-Match and SHA-256 checksums."""
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's standalone S3 server on loopback (in memory; honours If-None-Match, presigning)."""
    server = start_moto(tmp_path_factory.mktemp("moto-s3"))
    yield server
    server.stop()


@pytest.fixture
def s3_prefix(request: pytest.FixtureRequest) -> str:
    """A key prefix of this test's own, e.g. ``t/test_it_round_trips-1a2b3c4d``."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:60].strip("-")
    return f"t/{slug}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    """A LocalStore in this test's temporary directory."""
    return LocalStore(tmp_path / "store")


@pytest.fixture
def tcp_proxy() -> Iterator[Callable[[str], TcpProxy]]:
    """A factory ``tcp_proxy(endpoint_url) -> TcpProxy``; every proxy is stopped after the test."""
    proxies: list[TcpProxy] = []

    def make(endpoint_url: str) -> TcpProxy:
        proxy = TcpProxy.for_url(endpoint_url)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()

"""pytest fixtures: session-wide rclone, SeaweedFS and moto S3 servers, the real server a test
runs on (``s3_server``), per-test prefixes, a TCP proxy."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archive.local import LocalStore
from tests.support.s3servers import S3Server, start_moto, start_rclone, start_seaweedfs
from tests.support.tcpproxy import TcpProxy

# The real S3 servers, by the id a test runs on them under, and the fixture of each.
REAL_SERVERS = {"rclone": "rclone_s3", "seaweedfs": "seaweed_s3"}
# Directories of tests/ whose S3-backed tests run on every real server: the archive,
# ingest, fault, subset and batch suites. Elsewhere ``s3_server`` is rclone.
ON_EVERY_SERVER = ("archive", "faults", "hpc", "ingest", "subset")
TESTS = Path(__file__).resolve().parents[1]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that uses ``s3_server`` (directly or through a fixture) once per server.

    ``@pytest.mark.s3_servers("rclone")`` names the servers of a test that is about one
    server's behaviour. Session-scoped parameters: pytest groups the tests by server, so
    each server's dependants (a Celery worker, staged objects) are set up once per group.
    """
    if "s3_server" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("s3_servers")
    if marker is not None:
        kinds = list(marker.args)
        unknown = set(kinds) - set(REAL_SERVERS)
        if unknown or not kinds:
            raise ValueError(f"s3_servers{tuple(kinds)}: the servers are {list(REAL_SERVERS)}")
    elif any(metafunc.definition.path.is_relative_to(TESTS / d) for d in ON_EVERY_SERVER):
        kinds = list(REAL_SERVERS)
    else:
        return
    metafunc.parametrize("s3_server", kinds, indirect=True, scope="session")


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
def s3_server(request: pytest.FixtureRequest) -> S3Server:
    """The real S3 server of this test: rclone, or each real server in turn (see
    ``pytest_generate_tests``). The servers themselves run once per session."""
    return request.getfixturevalue(REAL_SERVERS[getattr(request, "param", "rclone")])


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

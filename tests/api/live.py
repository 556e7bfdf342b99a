"""A real server for the API in a subprocess (gunicorn) on the test database.

Tests that use it need `transactional_db`, so the rows they write are committed
and visible to the server. Its store is a directory the test process can write
into too (`LiveServer.store`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

import archive.config
from archive.stores import Store
from tests.conftest import REPO, _test_database_url, free_port, wait_for_port


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:PORT
    store_dir: Path
    log: Path

    @property
    def store(self) -> Store:
        return archive.config.get_store("primary")


@pytest.fixture(scope="module")
def api_server(django_db_setup: None, django_db_blocker: object,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """gunicorn serving config.wsgi on a free loopback port (2 workers, 4 threads each)."""
    port = free_port()
    work = tmp_path_factory.mktemp("live-api")
    store_dir = work / "objects"
    store_dir.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "VAR_DIR": str(work),
        "STORE_URL": store_dir.as_uri(),
        "STORES": "",
        "CELERY_BROKER_URL": "",
        "API_THROTTLE_ANON": "1000000/minute",
        "API_THROTTLE_USER": "1000000/minute",
        "DEBUG": "0",
    }
    log = work / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind",
             f"127.0.0.1:{port}", "--workers", "2", "--threads", "4", "--timeout", "60"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, 30, proc)
    except (TimeoutError, RuntimeError):
        proc.kill()
        raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}") from None
    archive.config.configure({"primary": store_dir.as_uri()})
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", store_dir=store_dir, log=log)
    finally:
        archive.config.configure(
            {n: (u, settings.ARCHIVE_STORE_OPTIONS) for n, u in settings.ARCHIVE_STORES.items()})
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()

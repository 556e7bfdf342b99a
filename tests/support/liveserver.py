"""A real server in a subprocess (gunicorn) on the PostGIS test database.

Both the API tests and the map tests use it. Tests that use it need
`transactional_db`, so the rows they write are committed and visible to the server.
Its store is a directory the test process can write into too (`LiveServer.store`).

`wait_until_idle` exists because pytest-django empties the database after each
transactional test with one TRUNCATE of every table: if the server is still
answering a request (a browser fires requests of its own), the two lock tables in
different orders and PostgreSQL kills one of them as a deadlock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

import archive.config
from archive.stores import Store
from tests.conftest import REPO, _test_database_url, free_port, stop_process, wait_for_port
from tests.support.stores import restore_stores


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:PORT
    store_dir: Path
    log: Path

    @property
    def store(self) -> Store:
        return archive.config.get_store("primary")


@contextmanager
def live_server(work: Path, extra_env: dict[str, str] | None = None,
                collect_static: bool = False) -> Iterator[LiveServer]:
    """gunicorn serving config.wsgi on a free loopback port (2 workers, 4 threads each).

    `collect_static` runs `collectstatic` into `work` first, for tests that load the map.
    """
    port = free_port()
    store_dir = work / "objects"
    store_dir.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "VAR_DIR": str(work),
        "STORE_URL": store_dir.as_uri(),
        "STORES": "",
        "CELERY_BROKER_URL": "",  # subsets run in-process, right after their request commits
        "API_THROTTLE_ANON": "1000000/minute",
        "API_THROTTLE_USER": "1000000/minute",
        "API_THROTTLE_ANON_RANGES": "1000000/minute",  # chunk reads through references
        "API_THROTTLE_USER_RANGES": "1000000/minute",
        "DEBUG": "0",
        **(extra_env or {}),
    }
    if collect_static:
        collected = subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
            cwd=REPO, env=env, capture_output=True, text=True)
        if collected.returncode != 0:
            raise RuntimeError(f"collectstatic failed:\n{collected.stderr[-3000:]}")
    log = work / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi",
             "-c", "config/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--timeout", "60"],
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
        restore_stores()
        stop_process(proc, 15)


def wait_until_idle(timeout: float = 20.0) -> None:
    """Wait until no other session on the test database runs a statement or transaction."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cur:
        while True:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                " AND state IN ('active', 'idle in transaction',"
                " 'idle in transaction (aborted)')")
            if cur.fetchone()[0] == 0 or time.monotonic() > deadline:
                return
            time.sleep(0.05)

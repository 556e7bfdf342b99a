"""Suite-wide fixtures: real services on loopback, started and stopped by the suite.

PostgreSQL/PostGIS is the database of the run (DATABASE_URL from `make test`);
the S3 servers come from tests.support.fixtures_s3; Redis and a Celery worker per S3
server are started here as subprocesses on free ports.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from archive.stores import Store
    from tests.support.s3servers import S3Server

pytest_plugins = ["tests.support.fixtures_s3"]

REPO = Path(__file__).resolve().parent.parent
SHARED_SWATHS = REPO.parent / "shared" / "data" / "swaths"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `large` run only in the large fault tier (`make test-faults`); the
    normal run deselects them (not a skip: they are not part of that run at all).

    Browser tests count as `serial`: their waits (Playwright's 15 s) are time bounds
    too, and `make test` runs serial tests alone, after its two-worker phase.
    """
    for item in items:
        if "browser" in item.keywords and item.get_closest_marker("serial") is None:
            item.add_marker(pytest.mark.serial)
    if os.environ.get("SWATHSTORE_FAULT_TIER") == "large":
        # The large tier's own waits (sized(..., 900) and the like) exceed the suite's
        # default 300 s per test; a test that sets its own timeout keeps it.
        for item in items:
            if ("faults" in item.keywords or "large" in item.keywords) and \
                    item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(3600))
        return
    keep = [item for item in items if "large" not in item.keywords]
    dropped = [item for item in items if "large" in item.keywords]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Block until something accepts on 127.0.0.1:port, or fail naming the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for port {port} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing answers on 127.0.0.1:{port} after {timeout} s")


def embedded_env(var_dir: Path, **env: str) -> dict[str, str]:
    """Return an environment of only PATH, HOME, VAR_DIR and ``env``: the embedded default."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
            "VAR_DIR": str(var_dir), **env}


def manage_py(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Run ``manage.py ARGS`` in a subprocess with exactly ``env``; return its stdout.

    Fails the test with the command's output when it exits non-zero.
    """
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def stop_process(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM ``proc``; SIGKILL it if it has not exited after ``grace_s`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Name the test database after VAR_DIR, so parallel runs (var/test, var/test-api...)
    on one PostgreSQL server never drop each other's database."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    tag = "".join(c if c.isalnum() else "_" for c in Path(settings.VAR_DIR).name)
    db.setdefault("TEST", {})["NAME"] = f"test_{db['NAME']}_{tag}"


@pytest.fixture(autouse=True)
def _forget_failed_sign_ins() -> None:
    """Failed sign-ins one test makes (web.lockout, kept in files under VAR_DIR) never
    lock another test, or a later run, out."""
    from django.core.cache import caches

    caches["login"].clear()


@pytest.fixture(scope="session")
def shared_swaths() -> Path:
    """The 13 real granules shipped in ../shared/data/swaths."""
    assert SHARED_SWATHS.is_dir(), f"{SHARED_SWATHS} is missing: CI puts shared/ beside the repo"
    return SHARED_SWATHS


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server (no persistence) on a free loopback port."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    with open(workdir / "redis.log", "wb") as out:
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir)],
            stdout=out, stderr=subprocess.STDOUT,
        )
    wait_for_port(port, 10, proc)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def _drop_broker_pools(app: object) -> None:
    """Forget cached broker connections and producers, so the next publish uses conf.

    (Not app.close(): that also deregisters the app, and shared tasks stop resolving.)
    app.pool is kombu's process-wide pool for the broker URL: one that a teardown closed
    stays in kombu's registry and fails every later publish to that URL, even an eager
    one ("Acquire on closed pool"), so the registry is emptied too.
    """
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def _test_database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    auth = s.get("USER") or "postgres"
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgis://{auth}@{host}:{port}/{s['NAME']}"


def start_celery_worker(server: S3Server, redis_url: str, logdir: Path) -> dict:
    """Start a Celery worker (prefork, 2 processes) on the test database, Redis and
    ``server``; return what tests need of it once it is ready."""
    store_url = f"s3://{server.bucket}/worker"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "CELERY_BROKER_URL": redis_url,
        "STORE_URL": store_url,
        "S3_ENDPOINT_URL": server.endpoint_url,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "S3_REGION": server.region,
        "CELERY_TASK_TIME_LIMIT": "300",
        "CELERY_VISIBILITY_TIMEOUT": "400",
    }
    log = logdir / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
             "--concurrency=2", "--loglevel=INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-n", f"test-{server.kind}-{os.getpid()}@%h"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return {"process": proc, "log": log, "store_url": store_url, "broker": redis_url}


@pytest.fixture(scope="session")
def celery_workers(
    django_db_setup: None,
    django_db_blocker: object,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[S3Server], dict]]:
    """``worker_for(server)``: the session's Celery worker on ``server``, started on first use.

    One per server, all kept to the end of the session (a worker's start costs seconds):
    pytest sets ``s3_server`` up again whenever the server changes between tests, and a
    worker tied to it would be restarted as often.
    """
    workers: dict[str, dict] = {}

    def worker_for(server: S3Server) -> dict:
        if server.endpoint_url not in workers:
            logdir = tmp_path_factory.mktemp(f"celery-{server.kind}")
            # A Redis database of its own per worker: on one shared queue, the SeaweedFS
            # worker took tasks sent for the rclone one and stored their objects there.
            broker = f"{redis_url.rsplit('/', 1)[0]}/{len(workers)}"
            workers[server.endpoint_url] = start_celery_worker(server, broker, logdir)
        return workers[server.endpoint_url]

    try:
        yield worker_for
    finally:
        for worker in workers.values():
            stop_process(worker["process"], 20)


@pytest.fixture(scope="session")
def celery_worker_process(celery_workers: Callable[[S3Server], dict], s3_server: S3Server
                          ) -> dict:
    """A real Celery worker (prefork, 2 processes) on the test database, Redis and
    ``s3_server``."""
    return celery_workers(s3_server)


@pytest.fixture
def celery_worker(celery_worker_process: dict, s3_server: S3Server, settings: object
                  ) -> Iterator[dict]:
    """Point this test's process at the worker's broker and store, and back afterwards.

    `.delay()` in the test reaches the worker; use `transactional_db` so the worker
    sees committed rows.
    """
    from config.celery import app
    from tests.support.stores import stores_on

    saved = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url = celery_worker_process["broker"]
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    _drop_broker_pools(app)  # pools made earlier point at another broker
    try:
        with stores_on(settings, {"primary": celery_worker_process["store_url"]}, s3_server):
            yield celery_worker_process
    finally:
        app.conf.broker_url, app.conf.task_always_eager = saved
        _drop_broker_pools(app)


@pytest.fixture
def s3_primary(settings: object, s3_server: S3Server, s3_prefix: str) -> Iterator[Store]:
    """Make the test's real S3 server (under this test's own prefix) the primary store."""
    import archive.config
    from tests.support.stores import stores_on

    with stores_on(settings, {"primary": f"s3://{s3_server.bucket}/{s3_prefix}"}, s3_server):
        yield archive.config.get_store("primary")

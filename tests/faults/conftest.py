"""Fixtures of the fault suite: tiers, seeds, a private Redis, fault workers, a private
PostgreSQL.

Sizes are small by default so `make test` fits CI; SWATHSTORE_FAULT_TIER=large (set
by `make test-faults`) gives the nightly sizes. Every random choice comes from the
`rng` fixture, whose seed is printed (shown by pytest on failure) and can be forced
with SWATHSTORE_FAULT_SEED.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO, _drop_broker_pools, free_port, wait_for_port
from tests.support.s3servers import S3Server

TIER = os.environ.get("SWATHSTORE_FAULT_TIER", "small")
LARGE = TIER == "large"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def sized(small: int, large: int) -> int:
    """Return the figure of the current tier."""
    return large if LARGE else small


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """A seeded Random; the seed is printed so a failure can be replayed."""
    seed = int(os.environ.get("SWATHSTORE_FAULT_SEED") or random.SystemRandom().randrange(2**31))
    print(f"fault seed {seed} (replay: SWATHSTORE_FAULT_SEED={seed}) for {request.node.nodeid}")
    return random.Random(seed)


# -- Redis -------------------------------------------------------------------------------


@dataclass
class RedisServer:
    """A private redis-server that a test may shut down and start again on the same port."""

    port: int
    workdir: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with open(self.workdir / "redis.log", "ab") as out:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir)],
                stdout=out, stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, 10, self.process)

    def client(self) -> object:
        import redis

        return redis.Redis.from_url(self.url)

    def shutdown_nosave(self) -> None:
        """What RELIABILITY C5 injects: the broker dies and forgets everything."""
        subprocess.run(["redis-cli", "-p", str(self.port), "SHUTDOWN", "NOSAVE"],
                       capture_output=True, timeout=10)
        if self.process is not None:
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own: C5 shuts it down without saving."""
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


# -- Celery workers ----------------------------------------------------------------------


@dataclass
class FaultWorker:
    """A Celery worker in its own process group, so a test can kill all of it at once."""

    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None
    starts: int = 0
    extra: dict = field(default_factory=dict)

    def start(self, timeout: float = 90) -> None:
        self.starts += 1
        mark = f"--- start {self.starts} ---\n".encode()
        with open(self.log, "ab") as out:
            out.write(mark)
            self.process = subprocess.Popen(
                self.argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            text = self.log.read_bytes()
            if b"ready." in text[text.rfind(mark):]:
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"celery worker did not start:\n{self.log_text()[-3000:]}")
            time.sleep(0.2)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def children(self) -> list[int]:
        """Pids of the pool processes (direct children of the main worker process)."""
        out = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.pid:
                out.append(int(stat.parent.name))
        return out

    def kill_child(self, pid: int) -> None:
        """SIGKILL one pool process, and only if it is one of this worker's."""
        if pid in self.children():
            os.kill(pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the worker and everything it started (its own process group)."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(10)

    def stop(self, timeout: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


WorkerFactory = Callable[..., FaultWorker]


@pytest.fixture
def fault_workers(
    django_db_setup: None, s3_server: S3Server, s3_prefix: str, settings: object,
    tmp_path: Path,
) -> Iterator[WorkerFactory]:
    """A factory ``start(broker_url, concurrency=2, **env) -> FaultWorker``.

    Workers run on the test database, the given broker and the test's real S3 server
    (each in turn) under this test's own prefix; the test process is pointed at the same
    broker and store, so `.delay()` here reaches them. Everything is stopped after the test.
    """
    import archive.config
    from catalog.apps import store_specs
    from config.celery import app
    from tests.conftest import _test_database_url

    store_url = f"s3://{s3_server.bucket}/{s3_prefix}"
    workers: list[FaultWorker] = []
    saved = (app.conf.broker_url, app.conf.task_always_eager)
    original = store_specs()
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    options = {**settings.ARCHIVE_STORE_OPTIONS, **s3_server.store_options()}
    archive.config.configure({"primary": (store_url, options)})

    def start(broker_url: str, concurrency: int = 2, *, name: str = "w",
              endpoint_url: str | None = None, ready: bool = True, **extra: str) -> FaultWorker:
        app.conf.broker_url = broker_url
        _drop_broker_pools(app)  # drop connections to an earlier broker
        env = {
            **os.environ,
            "DATABASE_URL": _test_database_url(),
            "CELERY_BROKER_URL": broker_url,
            "STORE_URL": store_url,
            "S3_ENDPOINT_URL": endpoint_url or s3_server.endpoint_url,
            "AWS_ACCESS_KEY_ID": s3_server.access_key,
            "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
            "S3_REGION": s3_server.region,
            "VAR_DIR": str(tmp_path / "var"),
            "CELERY_TASK_TIME_LIMIT": "300",
            "CELERY_VISIBILITY_TIMEOUT": "400",
            **extra,
        }
        if "ARCHIVE_FAULT" not in extra:
            env.pop("ARCHIVE_FAULT", None)
        argv = [sys.executable, "-m", "celery", "-A", "tests.faults.worker_app", "worker",
                "--pool=prefork", f"--concurrency={concurrency}", "--loglevel=INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "-n", f"{name}-{os.getpid()}-{len(workers)}@%h"]
        worker = FaultWorker(argv, env, tmp_path / f"{name}-{len(workers)}.log")
        workers.append(worker)
        if ready:
            worker.start()
        return worker

    yield start
    for worker in workers:
        worker.kill()
    app.conf.broker_url, app.conf.task_always_eager = saved
    _drop_broker_pools(app)
    archive.config.configure(original)


# -- a private PostgreSQL (D1) -----------------------------------------------------------


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL 15 cluster in a temporary directory, on a free port."""

    datadir: Path
    sockdir: Path
    port: int
    runas: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"postgis://postgres@127.0.0.1:{self.port}/swathstore"

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.runas, str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), *args],
            capture_output=True, text=True, timeout=60, check=check,
        )

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c shared_buffers=32MB -c max_connections=40")
        self.pg_ctl("start", "-w", "-l", str(self.datadir / "server.log"), "-o", options)

    def crash(self) -> None:
        """RELIABILITY D1: an immediate stop, as a power cut would leave it."""
        self.pg_ctl("stop", "-m", "immediate")

    def psql(self, sql: str, db: str = "postgres") -> str:
        done = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
             "-Atqc", sql], capture_output=True, text=True, timeout=60, check=True,
        )
        return done.stdout.strip()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A private cluster with database `swathstore` and PostGIS: D1 may crash it freely.

    Never the machine's shared cluster, which other engineers' tests use. As root,
    initdb and the server run as `postgres`, in a directory it can reach.
    """
    import tempfile

    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15 server binaries are not installed")
    root = Path(tempfile.mkdtemp(prefix="swathstore-pg-"))
    root.chmod(0o755)
    pg = PrivatePostgres(root / "data", root / "sock", free_port())
    pg.sockdir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(pg.sockdir, "postgres")
        pg.runas = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*pg.runas, str(PG_BIN / "initdb"), "-D", str(pg.datadir), "-U", "postgres",
                    "-A", "trust", "-E", "UTF8", "--no-sync"],
                   capture_output=True, check=True, timeout=120)
    try:
        pg.start()
        pg.psql("CREATE DATABASE swathstore")
        pg.psql("CREATE EXTENSION postgis", db="swathstore")
        yield pg
    finally:
        pg.pg_ctl("stop", "-m", "immediate", check=False)
        shutil.rmtree(root, ignore_errors=True)

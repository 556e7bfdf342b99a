"""A `make stack` started by a test: its launcher, its services, its database and its API."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.conftest import REPO


def load_launch() -> ModuleType:
    """Import stack/launch.py (a script, not a package module) as ``stack_launch``."""
    spec = importlib.util.spec_from_file_location("stack_launch", REPO / "stack" / "launch.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["stack_launch"] = module
    spec.loader.exec_module(module)
    return module


launch = load_launch()


def free_port_block(size: int) -> int:
    """Return a base port whose next ``size`` ports are all free, below the ephemeral
    range (where the suite's own servers take their ports)."""
    for _ in range(500):
        base = random.randrange(20000, 32000 - size)
        free = True
        for port in range(base, base + size):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    free = False
                    break
        if free:
            return base
    raise RuntimeError(f"no block of {size} free ports in 20000-32000")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def processes_with(marker: str) -> list[int]:
    """Return the pids whose environment holds ``marker`` (the stack's STACK_DIR=...)."""
    found = []
    needle = marker.encode() + b"\0"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
    return found


@dataclass
class RunningStack:
    """A stack under its launcher (``stack/launch.py up``), in a directory of its own."""

    stack: Any  # stack_launch.Stack
    launcher: subprocess.Popen[bytes]
    log: Path

    @property
    def env(self) -> dict[str, str]:
        """The application's variables (its stack.env), for manage.py against it."""
        return dict(launch.read_env(self.stack))

    @property
    def web(self) -> str:
        return self.stack.url("web")

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def manage(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run ``manage.py ARGS`` against the stack; return the finished process."""
        return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def manage_ok(self, *args: str, timeout: float = 300) -> str:
        done = self.manage(*args, timeout=timeout)
        assert done.returncode == 0, f"manage.py {args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def start_manage(self, log: Path, *args: str) -> subprocess.Popen[bytes]:
        """Start ``manage.py ARGS`` against the stack in the background, output to ``log``."""
        with open(log, "wb") as out:
            return subprocess.Popen([sys.executable, "manage.py", *args], cwd=REPO,
                                    env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def pid(self, service: str) -> int:
        """The pid of ``service`` (a Procfile name) as its keeper last started it."""
        return int((self.stack.dir / "pids" / f"{service}.pid").read_text())

    def kill(self, service: str) -> int:
        """SIGKILL ``service`` and every process of its session; return the pid killed."""
        pid = self.pid(service)
        os.killpg(pid, signal.SIGKILL)
        return pid

    def wait_restarted(self, service: str, old_pid: int, timeout: float = 30) -> int:
        """Wait until the keeper has started ``service`` again; return its new pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                pid = self.pid(service)
                if pid != old_pid:
                    return pid
            time.sleep(0.1)
        raise AssertionError(f"{service} was not started again:\n{self.log_tail()}")

    def wait_healthy(self, timeout: float = 90) -> None:
        """Poll the launcher's health checks until all pass."""
        deadline = time.monotonic() + timeout
        problems: dict[str, str] = {}
        while time.monotonic() < deadline:
            problems = launch.health(self.stack, self.env)
            if not problems:
                return
            time.sleep(1)
        raise AssertionError(f"stack unhealthy: {problems}\n{self.log_tail()}")

    def sql(self, query: str, *params: object) -> list[tuple]:
        """Rows of ``query`` on the stack's own database."""
        import psycopg2

        with contextlib.closing(psycopg2.connect(
                dbname=self.stack.db, host=self.stack.pg_host, port=self.stack.pg_port,
                user=self.stack.pg_user)) as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            rows = cursor.fetchall()
            conn.rollback()
            return rows

    def api(self, method: str, path: str, token: str | None = None,
            body: dict | None = None) -> tuple[int, Any]:
        """Call the stack's HTTP API through gunicorn; return (status, decoded JSON)."""
        request = urllib.request.Request(
            path if path.startswith("http") else self.web + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json",
                     **({"Authorization": f"Token {token}"} if token else {})})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def download_sha256(self, path: str, token: str | None = None) -> str:
        """SHA-256 of what a GET of ``path`` on the stack's web server streams back."""
        request = urllib.request.Request(
            path if path.startswith("http") else self.web + path,
            headers={"Authorization": f"Token {token}"} if token else {})
        digest = hashlib.sha256()
        with urllib.request.urlopen(request, timeout=120) as response:
            assert response.status == 200, path
            for block in iter(lambda: response.read(2**20), b""):
                digest.update(block)
        return digest.hexdigest()

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM the launcher (as `make stack-stop` does) and wait for it to exit."""
        if self.launcher.poll() is None:
            self.launcher.send_signal(signal.SIGTERM)
        return self.launcher.wait(timeout)


@contextlib.contextmanager
def running_stack(workdir: Path, **app_env: str) -> Iterator[RunningStack]:
    """Start a stack in ``workdir`` on free ports with a database of its own; always stop
    it and drop its database, and SIGKILL any of its processes that outlived the stop.

    ``app_env`` sets application variables (STACK_APP_NAME=value for the launcher).
    """
    base = free_port_block(max(launch.PORTS.values()) + 1)
    db = f"swathstore_stack_test_{os.getpid()}"
    stack_dir = workdir / "stack"
    env = {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
        "STACK_DIR": str(stack_dir), "STACK_PORT_BASE": str(base), "STACK_DB": db,
        "STACK_WORKER_CONCURRENCY": "1",
        **{f"STACK_APP_{k}": v for k, v in app_env.items()},
    }
    log = workdir / "stack.log"
    with open(log, "wb") as out:
        launcher = subprocess.Popen([sys.executable, "stack/launch.py", "up"], cwd=REPO,
                                    env=env, stdout=out, stderr=subprocess.STDOUT)
    running = RunningStack(stack=launch.Stack.from_environ(env), launcher=launcher, log=log)
    try:
        deadline = time.monotonic() + launch.READY_TIMEOUT_S + 120
        while b"stack: ready" not in log.read_bytes():
            assert launcher.poll() is None, f"the launcher exited:\n{running.log_tail()}"
            assert time.monotonic() < deadline, f"not ready:\n{running.log_tail()}"
            time.sleep(0.5)
        yield running
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            running.stop()
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        for pid in processes_with(f"STACK_DIR={stack_dir}"):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["psql", "-qAt", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres",
                        "-c", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'],
                       capture_output=True, timeout=60)

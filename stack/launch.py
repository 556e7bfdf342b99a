"""`make stack`: the production column on this machine, started, checked and stopped together.

    python stack/launch.py up      # prepare, start under honcho, check, print URLs; Ctrl-C stops
    python stack/launch.py check   # the health checks, against a stack that is up
    python stack/launch.py env     # the application's variables, as NAME=value lines

What runs (stack/Procfile, every process under stack/keep.py, which restarts it if it
dies): Redis; SeaweedFS as a cluster of one master, two volume servers, a filer and the
S3 gateway; gunicorn; two Celery workers and Celery beat. PostgreSQL is the machine's
own cluster (scripts/test-services.sh starts it if it is down), holding a database of
the stack's own (STACK_DB, created and migrated here). The application sees the same
variables as under docker-compose.yml (``app_env``; tests/stack/ compares the two), in
production mode, with two stores so the replicate policy works: ``primary`` and
``offsite``, two buckets of the SeaweedFS cluster.

Settings, from the environment: STACK_DIR (default var/stack: data, logs, secrets,
pid files), STACK_PORT_BASE (default 8100: every port is base + an offset of PORTS, so
a second stack or a test suite can run beside it on another base), STACK_DB (default
swathstore_stack), STACK_WORKER_CONCURRENCY (default 2), PGHOST/PGPORT/PGUSER, and any
application variable (STACK_APP_<NAME>=value overrides or adds NAME, e.g.
STACK_APP_UPLOAD_LEASE_S=10).

This is an operator's script, not part of the application: it imports no Django and
reads os.environ itself.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Every port the stack listens on, as an offset from STACK_PORT_BASE. SeaweedFS's gRPC
# ports are given explicitly (its default, port + 10000, would leave the block), and its
# other default ports (Iceberg 8181, Lance 9101) are switched off in the Procfile.
PORTS = {
    "web": 0, "redis": 1, "s3": 2, "filer": 3, "master": 4, "volume1": 5, "volume2": 6,
    "s3_grpc": 12, "filer_grpc": 13, "master_grpc": 14, "volume1_grpc": 15,
    "volume2_grpc": 16,
}
BUCKETS = {"primary": "swathstore-archive", "offsite": "swathstore-offsite"}
WORKERS = ("worker1", "worker2")
READY_TIMEOUT_S = 180


@dataclass(frozen=True)
class Stack:
    """Where one stack keeps its state, which ports it takes and which database it uses."""

    dir: Path
    port_base: int
    db: str
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    worker_concurrency: int = 2

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Stack:
        """Return the stack the environment describes (defaults: var/stack, 8100)."""
        env = dict(os.environ if environ is None else environ)
        return cls(
            dir=Path(env.get("STACK_DIR") or REPO / "var" / "stack").resolve(),
            port_base=int(env.get("STACK_PORT_BASE") or 8100),
            db=env.get("STACK_DB") or "swathstore_stack",
            pg_host=env.get("PGHOST") or "127.0.0.1",
            pg_port=int(env.get("PGPORT") or 5432),
            pg_user=env.get("PGUSER") or "postgres",
            worker_concurrency=int(env.get("STACK_WORKER_CONCURRENCY") or 2),
        )

    def port(self, name: str) -> int:
        """Return the TCP port of ``name`` (a key of PORTS)."""
        return self.port_base + PORTS[name]

    def url(self, name: str) -> str:
        """Return the loopback http:// URL of the service on port ``name``."""
        return f"http://127.0.0.1:{self.port(name)}"

    @property
    def database_url(self) -> str:
        return f"postgis://{self.pg_user}@{self.pg_host}:{self.pg_port}/{self.db}"


def credentials(stack: Stack) -> dict[str, str]:
    """Return the stack's S3 keys and Django secret key, made once and kept in its dir."""
    path = stack.dir / "secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    found = {
        "access_key": "STACK" + secrets.token_hex(8).upper()[:15],
        "secret_key": secrets.token_urlsafe(30)[:40],
        "django_secret_key": secrets.token_urlsafe(60),
    }
    stack.dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(found))
    path.chmod(0o600)
    return found


def app_env(stack: Stack, keys: dict[str, str]) -> dict[str, str]:
    """Return the application's variables: docker-compose.yml's x-app environment, with
    this machine's loopback addresses in place of the compose service names."""
    env = {
        "SWATHSTORE_PRODUCTION": "1",
        "SECRET_KEY": keys["django_secret_key"],
        "DATABASE_URL": stack.database_url,
        "STORE_URL": f"s3://{BUCKETS['primary']}",
        "STORES": f"offsite=s3://{BUCKETS['offsite']}",
        "INGEST_POLICY": "replicate",
        "S3_ENDPOINT_URL": stack.url("s3"),
        "AWS_ACCESS_KEY_ID": keys["access_key"],
        "AWS_SECRET_ACCESS_KEY": keys["secret_key"],
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{stack.port('redis')}/0",
        "CACHE_URL": f"redis://127.0.0.1:{stack.port('redis')}/1",
        "VAR_DIR": str(stack.dir / "app"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain HTTP on loopback: compose sits behind a TLS proxy that sets this to 1.
        "SECURE_SSL_REDIRECT": "0",
    }
    for name, value in os.environ.items():
        if name.startswith("STACK_APP_"):
            env[name.removeprefix("STACK_APP_")] = value
    return env


def process_env(stack: Stack, keys: dict[str, str]) -> dict[str, str]:
    """Return the environment of honcho and every process of the Procfile."""
    ports = {f"STACK_{name.upper()}_PORT": str(stack.port(name)) for name in PORTS}
    return {
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONUNBUFFERED": "1",
        "STACK_DIR": str(stack.dir),
        "STACK_PYTHON": sys.executable,
        "STACK_BIN": str(BIN),
        "STACK_WORKER_CONCURRENCY": str(stack.worker_concurrency),
        # SeaweedFS's own address form host:port.grpcPort, since gRPC is not port + 10000.
        "STACK_MASTER": f"127.0.0.1:{stack.port('master')}.{stack.port('master_grpc')}",
        "STACK_FILER": f"127.0.0.1:{stack.port('filer')}.{stack.port('filer_grpc')}",
        **ports,
        **app_env(stack, keys),
    }


def ports_in_use(stack: Stack) -> list[int]:
    """Return the stack's ports something already listens on."""
    taken = []
    for name in PORTS:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", stack.port(name))) == 0:
                taken.append(stack.port(name))
    return taken


def prepare(stack: Stack) -> dict[str, str]:
    """Make the directories, keys and identities; write stack.env; return the env."""
    for sub in ("redis", "weed/master", "weed/volume1", "weed/volume2", "weed/filer",
                "pids", "app"):
        (stack.dir / sub).mkdir(parents=True, exist_ok=True)  # weed exits on a missing dir
    keys = credentials(stack)
    identities = stack.dir / "identities.json"
    identities.write_text(json.dumps({"identities": [{
        "name": "swathstore",
        "credentials": [{"accessKey": keys["access_key"], "secretKey": keys["secret_key"]}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    identities.chmod(0o600)
    env = process_env(stack, keys)
    # For `stack/manage.sh` and for people: the application's variables, one per line.
    env_file = stack.dir / "stack.env"
    env_file.write_text("".join(f"{k}={shlex.quote(v)}\n"
                                for k, v in app_env(stack, keys).items()))
    env_file.chmod(0o600)
    return env


def _run(argv: list[str], env: dict[str, str], what: str, timeout: float = 600) -> str:
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"stack: {what} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def _psql(stack: Stack, database: str, sql: str, env: dict[str, str]) -> str:
    return _run(["psql", "-v", "ON_ERROR_STOP=1", "-qAt", "-h", stack.pg_host, "-p",
                 str(stack.pg_port), "-U", stack.pg_user, "-d", database, "-c", sql],
                env, f"psql {sql!r}").strip()


def prepare_database(stack: Stack, env: dict[str, str]) -> None:
    """Make sure the cluster answers, create the stack's database, migrate, collect static."""
    pg_env = {**env, "PGHOST": stack.pg_host, "PGPORT": str(stack.pg_port),
              "PGUSER": stack.pg_user}
    _run(["bash", "scripts/test-services.sh"], pg_env, "PostgreSQL (scripts/test-services.sh)")
    if not _psql(stack, "postgres", f"SELECT 1 FROM pg_database WHERE datname='{stack.db}'",
                 pg_env):
        # template1 carries PostGIS and btree_gist (scripts/test-services.sh put them there).
        _psql(stack, "postgres", f'CREATE DATABASE "{stack.db}"', pg_env)
    manage = [sys.executable, "manage.py"]
    _run([*manage, "migrate", "--no-input", "-v0"], env, "manage.py migrate")
    _run([*manage, "collectstatic", "--no-input", "-v0"], env, "manage.py collectstatic")


# --- health checks -------------------------------------------------------------------
# Each returns "" when the service answers as it should, else what it saw.


def _http(url: str, timeout: float = 3) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def check_postgres(stack: Stack, env: dict[str, str]) -> str:
    done = subprocess.run(["pg_isready", "-q", "-h", stack.pg_host, "-p", str(stack.pg_port),
                           "-d", stack.db, "-U", stack.pg_user], capture_output=True)
    return "" if done.returncode == 0 else f"pg_isready exited {done.returncode}"


def check_redis(stack: Stack, env: dict[str, str]) -> str:
    with socket.create_connection(("127.0.0.1", stack.port("redis")), timeout=3) as s:
        s.sendall(b"PING\r\n")
        answer = s.recv(64)
    return "" if answer.startswith(b"+PONG") else f"PING answered {answer!r}"


def check_volumes(stack: Stack, env: dict[str, str]) -> str:
    """Both volume servers have joined the master's topology."""
    status, body = _http(f"{stack.url('master')}/dir/status")
    if status != 200:
        return f"master /dir/status answered {status}"
    missing = [n for n in ("volume1", "volume2") if f":{stack.port(n)}\"" not in body.decode()]
    return f"{', '.join(missing)} not in the master's topology" if missing else ""


def s3_client(env: dict[str, str]) -> object:
    """A boto3 client on the stack's S3 gateway with its keys."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=env["S3_ENDPOINT_URL"], region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                      connect_timeout=3, read_timeout=10,
                      request_checksum_calculation="when_required",
                      response_checksum_validation="when_required"),
    )


def check_buckets(stack: Stack, env: dict[str, str]) -> str:
    """Both buckets exist (created here): the S3 port opens before the filer answers."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = s3_client(env)
    for bucket in BUCKETS.values():
        try:
            client.head_bucket(Bucket=bucket)  # type: ignore[attr-defined]
        except (BotoCoreError, ClientError):
            try:
                client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
            except (BotoCoreError, ClientError) as e:
                return f"bucket {bucket}: {e}"
    return ""


def check_web(stack: Stack, env: dict[str, str]) -> str:
    status, body = _http(f"{stack.url('web')}/api/v1/")
    return "" if status == 200 else f"GET /api/v1/ answered {status}: {body[:200]!r}"


def check_workers(stack: Stack, env: dict[str, str]) -> str:
    """Both Celery workers answer `inspect ping` through the broker."""
    host = socket.gethostname()
    names = [f"{w}@{host}" for w in WORKERS]
    done = subprocess.run(
        [str(BIN / "celery"), "-A", "config", "inspect", "ping", "--timeout", "5",
         "-d", ",".join(names)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    missing = [n for n in names if f"{n}: OK" not in done.stdout]
    return f"no pong from {', '.join(missing)}" if missing else ""


def check_beat(stack: Stack, env: dict[str, str]) -> str:
    pid_file = stack.dir / "pids" / "beat.pid"
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (OSError, ValueError):
        return "celery beat is not running"
    return ""


CHECKS: dict[str, Callable[[Stack, dict[str, str]], str]] = {
    "postgres": check_postgres, "redis": check_redis, "seaweedfs volumes": check_volumes,
    "s3 buckets": check_buckets, "web": check_web, "celery workers": check_workers,
    "celery beat": check_beat,
}


def health(stack: Stack, env: dict[str, str]) -> dict[str, str]:
    """Run every check once; return {check: problem} for those that did not pass."""
    problems = {}
    for name, check in CHECKS.items():
        try:
            problem = check(stack, env)
        except (OSError, subprocess.SubprocessError) as e:
            problem = f"{type(e).__name__}: {e}"
        if problem:
            problems[name] = problem
    return problems


def wait_healthy(stack: Stack, env: dict[str, str], alive: Callable[[], bool],
                 timeout: float = READY_TIMEOUT_S) -> None:
    """Poll the checks until all pass; raise SystemExit naming those that did not."""
    deadline = time.monotonic() + timeout
    problems: dict[str, str] = {}
    while time.monotonic() < deadline and alive():
        problems = health(stack, env)
        if not problems:
            return
        time.sleep(1)
    details = "\n".join(f"  {k}: {v}" for k, v in problems.items()) or "  (honcho exited)"
    raise SystemExit(f"stack: not healthy after {timeout:.0f} s:\n{details}")


def banner(stack: Stack) -> str:
    """What is where, and how to stop it."""
    rel = os.path.relpath(stack.dir, REPO)
    return "\n".join([
        "",
        "swathstore stack is up (production mode, SWATHSTORE_PRODUCTION=1):",
        f"  web, API     {stack.url('web')}/   {stack.url('web')}/api/v1/   "
        f"{stack.url('web')}/stac/",
        f"  S3 gateway   {stack.url('s3')}   buckets {', '.join(BUCKETS.values())} "
        f"(keys in {rel}/stack.env)",
        f"  SeaweedFS    master {stack.url('master')}   filer {stack.url('filer')}   "
        f"volumes :{stack.port('volume1')} :{stack.port('volume2')}",
        f"  Redis        redis://127.0.0.1:{stack.port('redis')}   workers: "
        f"{', '.join(WORKERS)} (+ beat)",
        f"  PostgreSQL   {stack.database_url}",
        f"  data, logs   {rel}/",
        "  manage.py    stack/manage.sh ingest PATH --celery --collection SLUG",
        "Stop it: Ctrl-C here (or `make stack-stop` from another shell).",
        "",
    ])


def _stop_with_launcher() -> None:
    """In honcho: have Linux SIGTERM it (and so the stack) if the launcher dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def up(stack: Stack) -> int:
    """Start the stack under honcho, wait until healthy, print the banner, run until stopped."""
    taken = ports_in_use(stack)
    if taken:
        raise SystemExit(f"stack: ports {taken} are in use (another stack?); set "
                         f"STACK_PORT_BASE to a free block of {max(PORTS.values()) + 1} ports")
    env = prepare(stack)
    prepare_database(stack, env)
    honcho = subprocess.Popen(
        [str(BIN / "honcho"), "start", "-f", str(REPO / "stack" / "Procfile"),
         "-d", str(REPO), "-e", "/dev/null", "--no-colour"],
        cwd=REPO, env=env, preexec_fn=_stop_with_launcher)
    (stack.dir / "launch.pid").write_text(f"{os.getpid()}\n")

    def stop(signum: int, frame: FrameType | None) -> None:
        # Ctrl-C reaches honcho itself (same process group); SIGTERM from `make
        # stack-stop` or a test reaches only this process: pass it on either way.
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        wait_healthy(stack, env, alive=lambda: honcho.poll() is None)
    except BaseException as e:
        print(e, file=sys.stderr, flush=True)
        stop(signal.SIGTERM, None)
        honcho.wait()
        (stack.dir / "launch.pid").unlink(missing_ok=True)
        return 1
    print(banner(stack), flush=True)
    print("stack: ready", flush=True)
    code = honcho.wait()
    (stack.dir / "launch.pid").unlink(missing_ok=True)
    print(f"stack: stopped (honcho exited {code})", flush=True)
    return 0


def read_env(stack: Stack) -> dict[str, str]:
    """The application's variables of a prepared stack (its stack.env)."""
    path = stack.dir / "stack.env"
    if not path.exists():
        raise SystemExit(f"stack: {path} is missing: start the stack with `make stack`")
    env = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        env[name] = "".join(shlex.split(value))
    return {"PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": os.environ.get("HOME", "/root"), **env}


def main(argv: list[str]) -> int:
    """Parse the command line and run the command."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "check", "env", "stop"])
    args = parser.parse_args(argv)
    stack = Stack.from_environ()
    if args.command == "up":
        return up(stack)
    if args.command == "env":
        print((stack.dir / "stack.env").read_text() if (stack.dir / "stack.env").exists()
              else "", end="")
        return 0
    if args.command == "stop":
        pid_file = stack.dir / "launch.pid"
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            print(f"stack: no stack is running from {stack.dir}")
            return 1
        print("stack: stopping (SIGTERM sent to the launcher)")
        return 0
    problems = health(stack, read_env(stack))
    for name in CHECKS:
        print(f"{name:18s} {problems.get(name, 'ok')}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

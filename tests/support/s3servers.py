"""Real S3 servers as subprocesses on loopback: ``rclone serve s3`` (file-backed), SeaweedFS
(``weed server``: master, volume server, filer and S3 gateway in one process) and moto."""

from __future__ import annotations

import contextlib
import ctypes
import json
import mmap
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from archive.s3 import S3Store

REGION = "us-east-1"
BUCKET = "swath-archive"


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tool(name: str) -> str:
    """Return the path of a console script of this venv, else of PATH; fail naming it."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed in {Path(sys.executable).parent} or PATH")
    return found


def realistic_keys() -> tuple[str, str]:
    """Return an access key (20 chars) and secret (40): rclone refuses short ones."""
    upper = string.ascii_uppercase + string.digits
    access = "AKIA" + "".join(secrets.choice(upper) for _ in range(16))
    secret = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
    return access, secret


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it if pytest dies, so no server outlives the run."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class S3Server:
    """A running S3 server: where it listens, its credentials, its bucket and its process."""

    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    region: str
    data_dir: Path | None
    process: subprocess.Popen[bytes]
    kind: str = "rclone"
    log_path: Path | None = None
    argv: list[str] = field(default_factory=list)
    # SeaweedFS: its filer's HTTP endpoint, where tests remove objects behind the gateway.
    filer_url: str | None = None

    @property
    def port(self) -> int:
        """Return the TCP port the server listens on."""
        return int(self.endpoint_url.rsplit(":", 1)[1])

    def cpu_s(self) -> float:
        """User + system CPU seconds the server process has used so far (benchmarks)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def store_options(self) -> dict[str, str]:
        """Return the S3 store options that reach this server (endpoint, region, keys)."""
        return {"endpoint_url": self.endpoint_url, "region": self.region,
                "access_key": self.access_key, "secret_key": self.secret_key}

    def store(self, prefix: str = "", **options: Any) -> S3Store:
        """Return an S3Store on this server's bucket under ``prefix``."""
        return S3Store(self.bucket, prefix, **{**self.store_options(), **options})

    def client(self) -> Any:
        """Return a plain boto3 client for this server (for raw access behind the store's back)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def object_path(self, key: str) -> Path:
        """Return the file holding ``key`` (bucket-relative) in rclone's data directory."""
        if self.data_dir is None:
            raise RuntimeError(f"{self.kind} keeps objects in memory; there is no file")
        return self.data_dir / self.bucket / key

    def remove_behind(self, key: str) -> None:
        """Remove ``key`` (bucket-relative) without the S3 API, as a lost disk would."""
        if self.kind == "rclone":
            self.object_path(key).unlink()
            self.forget()
            return
        if self.kind != "seaweedfs" or self.filer_url is None:
            raise RuntimeError(f"{self.kind}: no way to remove objects behind the server")
        request = urllib.request.Request(f"{self.filer_url}/buckets/{self.bucket}/{key}",
                                         method="DELETE")
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.status not in (200, 202, 204):
                raise RuntimeError(f"filer DELETE {key} answered {response.status}")

    def corrupt_behind(self, key: str, offset: int = 0) -> None:
        """Flip one bit of the stored bytes of ``key`` on disk, under the server.

        rclone keeps one file per object. SeaweedFS packs objects into volume files: the
        volume is the one the filer names for the chunk at ``offset``, and the bytes are
        found in it by content (16 bytes read through S3 at ``offset``).
        """
        if self.kind == "rclone":
            path = self.object_path(key)
            with open(path, "r+b") as f:
                f.seek(offset)
                byte = f.read(1)
                f.seek(offset)
                f.write(bytes([byte[0] ^ 0x01]))
            self.forget()
            return
        if self.kind != "seaweedfs" or self.data_dir is None or self.filer_url is None:
            raise RuntimeError(f"{self.kind}: no way to corrupt objects behind the server")
        body = self.client().get_object(Bucket=self.bucket, Key=key,
                                         Range=f"bytes={offset}-{offset + 15}")["Body"].read()
        if len(body) < 16:
            raise ValueError(f"{key}: fewer than 16 bytes at offset {offset}")
        # The filer names the chunk (and so the volume) holding the offset; within that
        # volume file the last copy of the bytes is the live one (volumes only append, and
        # a test payload's bytes may repeat an earlier test's object with the same seed).
        url = f"{self.filer_url}/buckets/{self.bucket}/{key}?metadata=true"
        with urllib.request.urlopen(url, timeout=30) as response:
            chunks = json.load(response).get("chunks") or []
        volume = next(c["fid"]["volume_id"] for c in chunks
                      if c.get("offset", 0) <= offset < c.get("offset", 0) + c["size"])
        for path in sorted(self.data_dir.rglob(f"*{volume}.dat")):
            if path.stem.rsplit("_", 1)[-1] != str(volume):
                continue
            with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as mapped:
                at = mapped.rfind(body)
                if at >= 0:
                    mapped[at] ^= 0x01
                    mapped.flush()
                    return
        raise RuntimeError(f"{key}: its bytes at {offset} are not in volume {volume} under "
                           f"{self.data_dir}")

    def forget(self) -> None:
        """Make rclone drop its directory cache (SIGHUP), after files changed behind its back."""
        if self.kind == "rclone" and self.process.poll() is None:
            self.process.send_signal(signal.SIGHUP)
            time.sleep(0.05)

    def log_text(self) -> str:
        """Return what the server has logged so far."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Terminate the server (SIGKILL if it lingers) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            # Both servers can linger on SIGTERM while clients hold keep-alive connections
            # (rclone waited its full 10 s at the end of a session). Completed objects are
            # already on disk (rclone) or disposable (moto), so a short grace is enough.
            # SeaweedFS did not exit within 5 s of SIGTERM here (ENVIRONMENT.md), and what it
            # has acknowledged is already in its volume files.
            grace = 3
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def restart(self) -> None:
        """Stop and start the server on the same port (moto forgets its objects; the others not)."""
        self.stop()
        self.process = _launch(self.argv, self.log_path, self.port)
        if self.kind == "moto":
            _create_bucket(self)
        elif self.kind == "seaweedfs":
            _wait_for_bucket(self)


def _launch(argv: list[str], log_path: Path | None, port: int, timeout: float = 30) -> Any:
    """Start ``argv`` logging to ``log_path`` and wait until ``port`` accepts connections."""
    assert log_path is not None
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{argv[0]} exited with {process.returncode} before listening on {port}:\n"
                + log_path.read_text(errors="replace")
            )
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.05)
    process.kill()
    process.wait(10)
    raise RuntimeError(
        f"{argv[0]} did not listen on {port} within {timeout} s:\n"
        + log_path.read_text(errors="replace")
    )


def _start(kind: str, argv: list[str], port: int, keys: tuple[str, str], bucket: str,
           log_path: Path, *, data_dir: Path | None) -> S3Server:
    """Launch ``argv`` (a server listening on ``port``) and describe it as an S3Server."""
    return S3Server(endpoint_url=f"http://127.0.0.1:{port}", access_key=keys[0],
                    secret_key=keys[1], bucket=bucket, region=REGION, data_dir=data_dir,
                    process=_launch(argv, log_path, port), kind=kind, log_path=log_path,
                    argv=argv)


def start_rclone(data_dir: Path, *, bucket: str = BUCKET, etag_hash: bool = True) -> S3Server:
    """Start ``rclone serve s3`` over ``data_dir`` with one bucket (a subdirectory).

    ``etag_hash=False`` (benchmarks): by default rclone's local backend computes an MD5 of
    the whole file for every HEAD and every GET with If-Match (at 1 GiB that is seconds per
    request, and `aws s3 cp` sends If-Match with each of its 8 MiB ranged GETs: 128
    full-file MD5s per download). Real S3 stores its ETag at write time, so that cost is a
    server artefact a benchmark should not measure.
    """
    access, secret = realistic_keys()
    port = free_port()
    root = data_dir / "data"
    (root / bucket).mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "rclone-serve-s3.log"
    argv = [
        tool("rclone"),
        "serve",
        "s3",
        "--addr",
        f"127.0.0.1:{port}",
        "--auth-key",
        f"{access},{secret}",
        # Tests edit and delete files behind the server's back, so keep the listing cache
        # short. Not 0s: rclone 1.75 then busy-spins a core. forget() flushes it at once.
        "--dir-cache-time",
        "1s",
        "--poll-interval",
        "0",
        *([] if etag_hash else ["--etag-hash", ""]),
        "--config",
        "/dev/null",
        str(root),
    ]
    return _start("rclone", argv, port, (access, secret), bucket, log_path, data_dir=root)


def start_moto(log_dir: Path, *, bucket: str = BUCKET) -> S3Server:
    """Start moto's standalone server and create ``bucket`` in it."""
    access, secret = realistic_keys()
    port = free_port()
    log_path = log_dir / "moto-server.log"
    argv = [tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    server = _start("moto", argv, port, (access, secret), bucket, log_path, data_dir=None)
    try:
        _create_bucket(server)
    except Exception:
        server.stop()
        raise
    return server


def _create_bucket(server: S3Server) -> None:
    server.client().create_bucket(Bucket=server.bucket)


def start_seaweedfs(data_dir: Path, *, bucket: str = BUCKET, timeout: float = 60) -> S3Server:
    """Start ``weed server`` (master, one volume server, filer, S3 gateway) over ``data_dir``.

    Objects live in SeaweedFS volume files under ``data_dir/data``, not one file per key;
    ``object_path`` is therefore rclone's only. Volumes are kept small (64 MB) so that a
    suite's worth of objects spreads over several, as it would on a real cluster; up to
    400 of them (25 GB): the large fault tier writes over 10 GB in one session (C1 alone
    20 x 300 MB), more than the 100 volumes first allowed here.
    """
    access, secret = realistic_keys()
    ports = [free_port() for _ in range(4)]
    master, volume, filer, s3 = ports
    root = data_dir / "data"
    root.mkdir(parents=True, exist_ok=True)  # weed exits with "Check Meta Folder" otherwise
    identities = data_dir / "identities.json"
    identities.write_text(json.dumps({"identities": [{
        "name": "swathstore", "credentials": [{"accessKey": access, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    argv = [
        tool("weed"), "server", f"-dir={root}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={free_port()}",
        "-master.volumeSizeLimitMB=64", "-master.electionTimeout=1s",
        f"-volume.port={volume}", f"-volume.port.grpc={free_port()}", "-volume.max=400",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={free_port()}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={free_port()}", f"-s3.config={identities}",
        # Off or on free ports: the defaults (8181, 9101, 8111, 6060) collide between two
        # servers on one machine, and a suite runs one beside a whole stack.
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-iam.port={free_port()}",
        f"-debug.port={free_port()}",
    ]
    log_path = data_dir / "weed-server.log"
    server = _start("seaweedfs", argv, s3, (access, secret), bucket, log_path, data_dir=root)
    server.filer_url = f"http://127.0.0.1:{filer}"
    try:
        _wait_for_bucket(server, timeout=timeout)
    except Exception:
        server.stop()
        raise
    return server


def _wait_for_bucket(server: S3Server, timeout: float = 60) -> None:
    """Create (or find) the bucket, polling: the S3 port opens before the filer answers."""
    client = server.client()
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.head_bucket(Bucket=server.bucket)
            return
        except Exception:  # noqa: BLE001 - any answer but success means "not yet"
            with contextlib.suppress(Exception):
                client.create_bucket(Bucket=server.bucket)
                return
        if time.monotonic() > deadline or server.process.poll() is not None:
            raise RuntimeError(f"SeaweedFS made no bucket {server.bucket!r} within {timeout} s:\n"
                               + server.log_text()[-4000:])
        time.sleep(0.2)

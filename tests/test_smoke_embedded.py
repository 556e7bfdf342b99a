"""The embedded default from an empty var/: SpatiaLite, a directory store, tasks
in-process. Migrate, make demo swaths, ingest them, serve them over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port, wait_for_port

pytestmark = pytest.mark.slow


def test_embedded_default_ingests_and_serves_swaths(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
           "VAR_DIR": str(tmp_path / "var")}

    def manage(*args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    manage("migrate", "--no-input", "-v0")
    first = manage("demo", "--count", "3", "--size", "1MB")
    assert "ingested 3 (0 failed)" in first
    assert "nothing to do" in manage("demo")  # idempotent on a non-empty archive
    assert (tmp_path / "var" / "swathstore.sqlite3").is_file()
    objects = [p for p in (tmp_path / "var" / "objects").rglob("*") if p.is_file()
               and p.suffix != ".json"]
    assert len(objects) >= 3

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 30, server)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/swaths/") as r:
            body = json.load(r)
    finally:
        server.terminate()
        server.wait(10)
    assert body["numberReturned"] == 3
    assert {f["properties"]["state"] for f in body["features"]} == {"VERIFIED"}
    assert all(f["geometry"] for f in body["features"])

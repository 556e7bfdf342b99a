"""docker-compose.yml: every service healthy before its dependants start, beat present,
and the file valid for `docker-compose config` where that client is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.faults

COMPOSE = REPO / "docker-compose.yml"
ONE_SHOT = {"migrate", "s3-buckets"}


def services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_every_long_running_service_has_a_health_check() -> None:
    found = services()
    assert {"db", "redis", "master", "volume1", "volume2", "filer", "s3", "web", "worker1",
            "worker2", "beat"} <= set(found)
    for name, service in found.items():
        if name in ONE_SHOT:
            continue
        assert "healthcheck" in service, f"{name} has no health check"
        assert service["healthcheck"]["test"], name


def test_every_dependency_waits_for_a_condition() -> None:
    for name, service in services().items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must name conditions"
        for target, rule in depends.items():
            wanted = ("service_completed_successfully" if target in ONE_SHOT
                      else "service_healthy")
            assert rule == {"condition": wanted}, f"{name} -> {target}: {rule}"


def test_beat_publishes_and_workers_run_prefork() -> None:
    found = services()
    assert "beat" in found["beat"]["command"]
    for name in ("worker1", "worker2"):
        assert "--pool=prefork" in found[name]["command"]
    for name in ("web", "worker1", "worker2", "beat", "migrate"):
        env = found[name]["environment"]
        assert env["SWATHSTORE_PRODUCTION"] == "1", name
        assert "redis://" in env["CELERY_BROKER_URL"], name


def test_every_beat_entry_names_a_periodic_task_of_the_ops_app() -> None:
    from django.conf import settings

    from ops import periodic

    tasks = {t.name for t in (periodic.reconcile_task, periodic.fsck_task, periodic.cleanup_task)}
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} == tasks
    assert all(name.startswith("ops.periodic.") for name in tasks)


@pytest.mark.skipif(shutil.which("docker-compose") is None and shutil.which("docker") is None,
                    reason="no compose client installed (apt-get install docker-compose)")
def test_the_compose_client_validates_the_file(tmp_path: Path) -> None:
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text("")
    env = {"PATH": "/usr/bin:/bin", "POSTGRES_PASSWORD": "x", "S3_ACCESS_KEY": "x",
           "S3_SECRET_KEY": "x", "SECRET_KEY": "x"}
    client = (["docker-compose"] if shutil.which("docker-compose")
              else ["docker", "compose"])
    done = subprocess.run([*client, "-f", "docker-compose.yml", "config", "-q"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

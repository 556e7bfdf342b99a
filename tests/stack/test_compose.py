"""docker-compose.yml and `make stack` describe one deployment: the same services and the
application under the same variables. (tests/faults/test_deployment.py runs the compose
client over the file and checks its health checks and dependency conditions.)"""

from __future__ import annotations

import yaml

from tests.conftest import REPO
from tests.stack.stackrun import launch

COMPOSE = REPO / "docker-compose.yml"
# Procfile process -> compose service. PostgreSQL is the host's cluster under
# `make stack` and a container (`db`) under compose; the one-shots (bucket creation,
# migrate) are steps of stack/launch.py.
SAME_SERVICE = {"redis": "redis", "master": "master", "volume1": "volume1",
                "volume2": "volume2", "filer": "filer", "s3": "s3", "web": "web",
                "worker1": "worker1", "worker2": "worker2", "beat": "beat"}


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def procfile_names() -> set[str]:
    lines = (REPO / "stack" / "Procfile").read_text().splitlines()
    return {line.split(":", 1)[0] for line in lines if line and not line.startswith("#")}


def test_compose_runs_every_process_of_the_stack() -> None:
    assert procfile_names() == set(SAME_SERVICE)
    assert set(SAME_SERVICE.values()) <= set(compose()["services"])


def test_the_application_sees_the_same_variables_under_both() -> None:
    stack = launch.Stack.from_environ({"STACK_DIR": "/tmp/unused"})
    keys = {"access_key": "a", "secret_key": "s", "django_secret_key": "k"}
    services = compose()["services"]
    for name in ("web", "worker1", "worker2", "beat", "migrate"):
        assert set(services[name]["environment"]) == set(launch.app_env(stack, keys)), name
    shared = launch.app_env(stack, keys)
    composed = services["web"]["environment"]
    for name in ("SWATHSTORE_PRODUCTION", "STORE_URL", "STORES", "INGEST_POLICY"):
        assert composed[name] == shared[name], name

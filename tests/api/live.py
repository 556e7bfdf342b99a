"""The API tests' live server: tests/support/liveserver.py, one per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.liveserver import LiveServer, live_server, wait_until_idle

__all__ = ["LiveServer", "api_server", "item_path"]


@pytest.fixture(scope="session", params=["sql-items", "python-items"])
def item_path(request: pytest.FixtureRequest) -> str:
    """Which path renders STAC search pages (settings.API_SQL_ITEMS): every API test
    runs over both, so the two renderings of api.stac.itemdef cannot drift apart."""
    return request.param


@pytest.fixture(scope="module")
def api_server(django_db_setup: None, django_db_blocker: object, item_path: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """gunicorn serving config.wsgi on a free loopback port against the test database."""
    env = {"API_SQL_ITEMS": "1" if item_path == "sql-items" else "0"}
    with live_server(tmp_path_factory.mktemp("live-api"), extra_env=env) as server:
        yield server


@pytest.fixture(autouse=True)
def _server_idle_before_flush(request: pytest.FixtureRequest) -> Iterator[None]:
    """Let the server finish its requests before pytest-django empties the tables."""
    if "api_server" not in request.fixturenames or "transactional_db" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")
    yield
    wait_until_idle()

"""Fixtures for the API tests: `api_server` is a gunicorn on the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from pytest_django.fixtures import Settings

from tests.api.live import _server_idle_before_flush, api_server, item_path

__all__ = ["_server_idle_before_flush", "api_server", "item_path"]


@pytest.fixture(autouse=True)
def _item_path_setting(item_path: str, settings: Settings) -> None:
    """In-process requests take the path this run of the suite is on (live.item_path)."""
    settings.API_SQL_ITEMS = item_path == "sql-items"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters() -> Iterator[None]:
    """Throttle counters live in the cache: each test starts from zero."""
    cache.clear()
    yield
    cache.clear()

"""Fixtures for the API tests: `api_server` is a gunicorn on the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from tests.api.live import _server_idle_before_flush, api_server

__all__ = ["_server_idle_before_flush", "api_server"]


@pytest.fixture(autouse=True)
def _fresh_throttle_counters() -> Iterator[None]:
    """Throttle counters live in the cache: each test starts from zero."""
    cache.clear()
    yield
    cache.clear()

"""Routes clients type without a trailing slash reach their views (no body-dropping redirect)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_post_subsets_without_slash_reaches_the_view_and_asks_for_credentials() -> None:
    response = APIClient().post("/api/v1/subsets", {"swath": "x"}, format="json")
    assert response.status_code in (401, 403)

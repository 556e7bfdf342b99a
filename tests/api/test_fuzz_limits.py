"""Fuzzing the limits: requests grow until a 4xx names the limit, and never earn a 5xx.

Growth (tests/api/fuzz.py) doubles nesting depth, literal lengths and term counts;
random CQL2-text (hypothesis) mixes the grammar's tokens in any order. Both against
gunicorn on PostGIS; tests/test_embedded_hostile_inputs.py grows on SpatiaLite.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from tests.api import fuzz, hostile
from tests.api.live import LiveServer
from tests.catalog.factories import box, collection, swath

# serial: every grown request must be answered within a time bound.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.serial]
T0 = datetime(2024, 1, 1, tzinfo=UTC)
TOKENS = ["collection", "platform", '"sat:absolute_orbit"', "datetime", "geometry", "id",
          "AND", "OR", "NOT", "LIKE", "IN", "BETWEEN", "IS", "NULL", "TRUE", "(", ")", ",",
          "=", "<>", "<", ">=", "'modis%'", "'a''b'", "''", "1", "-7.5e3", "9" * 60,
          "TIMESTAMP('2024-01-01T00:00:00Z')", "TIMESTAMP('0001-01-01T00:00:00+01:00')",
          "INTERVAL('..', '2024-01-01T00:00:00Z')", "T_INTERSECTS", "S_INTERSECTS",
          "POLYGON((0 0, 1 0, 2 0, 0 0))", "POINT(nan nan)", "BBOX(0, 0, 1, 1)",
          "POLYGON((", "\"", "'", "%", "\\", "\x00"]


def test_growing_requests_meet_a_named_4xx_and_never_a_5xx(api_server: LiveServer) -> None:
    coll = collection("modis-aqua-l2")
    rows = [swath(box(-10 + i, -10, 10 + i, 10), start=T0 + timedelta(hours=i), coll=coll)
            for i in range(3)]
    hostile.store_bytes(api_server.store, rows[0], b"x" * 10_000)
    token = Token.objects.create(user=User.objects.create_user("fuzzer")).key
    hostile.warm_up(api_server.url)
    results = fuzz.grow_all(api_server.url, str(rows[0].uuid), token)
    print("\n" + fuzz.summary(results))  # where each limit is met: `pytest -s` shows it


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(words=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25))
def test_random_cql2_text_never_earns_a_5xx(api_server: LiveServer, words: list[str]) -> None:
    answer = hostile.send(api_server.url, "POST", "/stac/search",
                          hostile.text_filter(" ".join(words)))
    assert answer.status < 500, (answer.status, answer.raw[:300], words)
    assert answer.status == 200 or "error" in answer.body

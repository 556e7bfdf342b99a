"""schemathesis over our OpenAPI schema against a live server: no 5xx, whatever it sends.

Every operation of /api/schema/, signed in (so subset requests are writes that reach
their parsers), through the examples, coverage, fuzzing and stateful phases with
positive and negative data. The PR-tier run is bounded (examples per operation and
wall time) to fit a CI budget of a couple of minutes; the `faults` tier runs many more,
and scripts/schemathesis_full.py the issue's 1,000 per operation.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from tests.api.live import LiveServer
from tests.catalog.factories import box, collection, swath

# serial: each run has a wall-clock budget, and its requests a server timeout.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.serial]
# The test fails on a server error only. Negative data and the stateful phase are
# generated here too; scripts/schemathesis_full.py also checks that invalid data is
# refused (negative_data_rejection), where a URL over gunicorn's 4,094-byte request
# line answers gunicorn's own 414 rather than the API's 400.
CHECKS = "not_a_server_error"


def _run(server: LiveServer, tmp_path: Path, examples: int, seconds: int) -> None:
    coll = collection("modis-aqua-l2")
    for i in range(5):
        swath(box(-10 + i, -10, 10 + i, 10), start=datetime(2024, 1, 1, tzinfo=UTC)
              + timedelta(hours=i), coll=coll, platform="aqua", orbit=10 + i)
    token = Token.objects.create(user=User.objects.create_user("schemathesis")).key
    cmd = [str(Path(sys.executable).parent / "schemathesis"), "run",
           f"{server.url}/api/schema/?format=json", "--checks", CHECKS,
           # One worker: with two threads, CPython 3.11's ast module now and then fails
           # inside schemathesis (SystemError: AST constructor recursion depth mismatch).
           "--max-examples", str(examples), "--max-time", str(seconds), "--workers", "1",
           "--phases", "examples,coverage,fuzzing,stateful", "--mode", "all", "--seed", "5",
           "--suppress-health-check", "all", "--request-timeout", "30",
           "-H", f"Authorization: Token {token}",
           "--report", "junit", "--report-junit-path", str(tmp_path / "schemathesis.xml")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:] + "\n--- server log ---\n" + \
        server.log.read_text()[-4000:]
    # schemathesis's own summary (operations, test cases generated, failures), for the
    # record: `make test-faults` shows it with -rA.
    print(output[-2500:])


def test_schemathesis_finds_no_server_errors(api_server: LiveServer, tmp_path: Path) -> None:
    _run(api_server, tmp_path, examples=25, seconds=45)


@pytest.mark.faults
@pytest.mark.large  # run by `make test-faults`, deselected from `make test`
@pytest.mark.timeout(1500)  # schemathesis may take its whole 1,200 s; the suite's default is 300
def test_schemathesis_finds_no_server_errors_large(api_server: LiveServer,
                                                   tmp_path: Path) -> None:
    _run(api_server, tmp_path, examples=300, seconds=1200)

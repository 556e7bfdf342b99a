"""schemathesis over our OpenAPI schema against a live server: no 5xx, whatever it sends.

The PR-tier run is bounded (examples per operation and wall time) to fit a CI
budget of a few minutes; the `faults` tier runs many more examples.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.api.live import LiveServer
from tests.catalog.factories import box, collection, swath

pytestmark = pytest.mark.django_db(transaction=True)
# This issue's endpoints; other apps' routes in the schema have their own tests.
OUR_PATHS = "^/(stac|api/v1/(swaths|collections|regions|ingest-runs|products))"


def _run(server: LiveServer, tmp_path: Path, examples: int, seconds: int) -> None:
    coll = collection("modis-aqua-l2")
    for i in range(5):
        swath(box(-10 + i, -10, 10 + i, 10), start=datetime(2024, 1, 1, tzinfo=UTC)
              + timedelta(hours=i), coll=coll, platform="aqua", orbit=10 + i)
    cmd = [str(Path(sys.executable).parent / "schemathesis"), "run",
           f"{server.url}/api/schema/?format=json", "--checks", "not_a_server_error",
           "--max-examples", str(examples), "--max-time", str(seconds), "--workers", "1",
           "--include-path-regex", OUR_PATHS,
           "--phases", "examples,coverage,fuzzing", "--seed", "5",
           "--suppress-health-check", "all", "--request-timeout", "30",
           "--report", "junit", "--report-junit-path", str(tmp_path / "schemathesis.xml")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:] + "\n--- server log ---\n" + \
        server.log.read_text()[-4000:]
    # schemathesis's own summary (operations, test cases generated, failures), for the
    # record: `make test-faults` shows it with -rA.
    print(output[-2500:])


def test_schemathesis_finds_no_server_errors(api_server: LiveServer, tmp_path: Path) -> None:
    _run(api_server, tmp_path, examples=10, seconds=60)


@pytest.mark.faults
@pytest.mark.large  # run by `make test-faults`, deselected from `make test`
@pytest.mark.timeout(1500)  # schemathesis may take its whole 1,200 s; the suite's default is 300
def test_schemathesis_finds_no_server_errors_large(api_server: LiveServer,
                                                   tmp_path: Path) -> None:
    _run(api_server, tmp_path, examples=300, seconds=1200)

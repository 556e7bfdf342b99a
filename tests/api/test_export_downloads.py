"""An export's manifests used as they are: wget -i and curl -O fetch, sha256sum -c checks."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.api.live import LiveServer
from tests.api.test_live_clients import _archived
from tests.catalog.factories import box, collection, swath

pytestmark = pytest.mark.django_db(transaction=True)
T0 = datetime(2024, 6, 1, tzinfo=UTC)


def fetch(url: str, path: Path) -> Path:
    with urllib.request.urlopen(url, timeout=60) as response:
        path.write_bytes(response.read())
    return path


def test_wget_fetches_an_export_and_sha256sum_checks_every_file(
        api_server: LiveServer, tmp_path: Path) -> None:
    rows = _archived(api_server, 5)
    query = f"{api_server.url}/stac/search/export?collections=modis-aqua-l2&format="
    urls = fetch(query + "urls", tmp_path / "urls.txt")
    sums = fetch(query + "sha256", tmp_path / "SHA256SUMS")
    assert len(urls.read_text().splitlines()) == len(rows)

    got = tmp_path / "wget"
    got.mkdir()
    subprocess.run(["wget", "-q", "-i", str(urls)], cwd=got, check=True, timeout=120)
    assert sorted(p.name for p in got.iterdir()) == sorted(s.filename for s in rows)
    checked = subprocess.run(["sha256sum", "-c", str(sums)], cwd=got, capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == len(rows)

    # The check is real: a file changed after the download fails it.
    (got / rows[0].filename).write_bytes(b"not the archived bytes")
    failed = subprocess.run(["sha256sum", "-c", str(sums)], cwd=got, capture_output=True,
                            text=True, timeout=60)
    assert failed.returncode != 0 and f"{rows[0].filename}: FAILED" in failed.stdout


def test_curl_remote_name_saves_the_names_the_checksums_list(
        api_server: LiveServer, tmp_path: Path) -> None:
    rows = _archived(api_server, 3)
    query = f"{api_server.url}/api/v1/swaths/export?collection=modis-aqua-l2&format="
    lines = fetch(query + "tsv", tmp_path / "export.tsv").read_text().splitlines()[1:]
    sums = fetch(query + "sha256", tmp_path / "SHA256SUMS")
    got = tmp_path / "curl"
    got.mkdir()
    subprocess.run(["curl", "-sS", "--fail", "--remote-name-all",
                    *(line.split("\t")[0] for line in lines)], cwd=got, check=True, timeout=120)
    assert sorted(p.name for p in got.iterdir()) == sorted(s.filename for s in rows)
    subprocess.run(["sha256sum", "--quiet", "-c", str(sums)], cwd=got, check=True, timeout=60)


def other_sessions() -> int:
    """Sessions on the test database other than this one (a live server's too)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
        return int(cur.fetchone()[0])


def test_batches_read_ahead_on_a_second_connection_in_the_search_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a transaction the next batch is read on another connection: the export
    still has each match once, in the search's order, and leaves no connection open."""
    from django.db import connection
    from rest_framework.test import APIClient

    from api import exports
    from tests.api.test_exports import body, items_from_parquet, searched

    monkeypatch.setattr(exports, "EXPORT_BATCH", 3)
    coll = collection("modis-aqua-l2")
    for i in range(11):
        swath(box(i, 0, i + 1, 1), start=T0 + timedelta(minutes=i % 4), coll=coll)
    assert not connection.in_atomic_block
    before = other_sessions()
    served = searched({"sortby": "-datetime"})
    data = body(APIClient().get("/stac/search/export", {"format": "parquet",
                                                       "sortby": "-datetime"}))
    assert items_from_parquet(data) == served and len(served) == 11
    urls = body(APIClient().get("/stac/search/export", {"format": "urls"})).decode()
    assert len(set(urls.splitlines())) == 11
    for _ in range(50):  # a backend leaves pg_stat_activity shortly after its client
        if other_sessions() <= before:
            break
        time.sleep(0.1)
    assert other_sessions() <= before

"""Settings come from the environment only, and a broken one stops the process with
a message that names the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list
from config.logfilters import redact
from tests.conftest import REPO, embedded_env


def run_manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a clean environment (only PATH, HOME and what the test sets)."""
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO,
                          env=embedded_env(tmp_path / "var", **env),
                          capture_output=True, text=True, timeout=120)


def test_env_bool_refuses_junk_and_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG='maybe'"):
        env_bool("SOME_FLAG", False)


def test_env_int_enforces_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTS", "2")
    with pytest.raises(ImproperlyConfigured, match="PARTS=2 is below the minimum 5"):
        env_int("PARTS", 10, minimum=5)
    monkeypatch.setenv("PARTS", "ten")
    with pytest.raises(ImproperlyConfigured, match="PARTS='ten' is not an integer"):
        env_int("PARTS", 10)


def test_env_list_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTS", " a.example ,, b.example ")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_logs_never_show_signatures_or_passwords() -> None:
    line = ("GET https://s3/x?X-Amz-Credential=AKIAEXAMPLE%2F2024&X-Amz-Signature=deadbeef "
            "broker=redis://u:sentinel-pass@h:6379/0")
    cleaned = redact(line)
    assert "deadbeef" not in cleaned and "sentinel-pass" not in cleaned
    assert "AKIAEXAMPLE" not in cleaned


def test_embedded_default_needs_no_server(tmp_path: Path) -> None:
    result = run_manage(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var").is_dir()


def test_malformed_variable_stops_start_naming_it(tmp_path: Path) -> None:
    result = run_manage(tmp_path, "check", DEBUG="perhaps")
    assert result.returncode != 0
    assert "DEBUG='perhaps' is not a boolean" in result.stderr


def test_system_check_refuses_visibility_shorter_than_task_limit(tmp_path: Path) -> None:
    result = run_manage(tmp_path, "check", CELERY_TASK_TIME_LIMIT="600",
                        CELERY_VISIBILITY_TIMEOUT="300")
    assert result.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT=300 must exceed CELERY_TASK_TIME_LIMIT=600" in result.stderr


def test_system_check_refuses_an_object_cap_no_multipart_upload_can_reach(
    tmp_path: Path
) -> None:
    result = run_manage(tmp_path, "check", ARCHIVE_MAX_OBJECT_GB="100000")
    assert result.returncode != 0
    assert "ARCHIVE_MAX_OBJECT_GB=100000 cannot be stored" in result.stderr
    # A small part floor is no error: parts grow with the object (choose_part_size).
    assert run_manage(tmp_path, "check", S3_PART_SIZE_MB="5",
                      ARCHIVE_MAX_OBJECT_GB="1024").returncode == 0


def test_replication_policy_needs_enough_stores(tmp_path: Path) -> None:
    result = run_manage(tmp_path, "check", INGEST_POLICY="replicate")
    assert result.returncode != 0
    assert "INGEST_POLICY=replicate needs 2 stores" in result.stderr
    ok = run_manage(tmp_path, "check", INGEST_POLICY="replicate",
                    STORES=f"offsite={(tmp_path / 'offsite').as_uri()}")
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize(
    ("missing", "env"),
    [
        ("SECRET_KEY", {}),
        ("DATABASE_URL", {"SECRET_KEY": "k" * 60}),
        ("STORE_URL", {"SECRET_KEY": "k" * 60, "DATABASE_URL": "postgis://u@127.0.0.1/db"}),
        ("AWS_ACCESS_KEY_ID", {"SECRET_KEY": "k" * 60, "DATABASE_URL": "postgis://u@127.0.0.1/db",
                               "STORE_URL": "s3://archive-bucket"}),
    ],
)
def test_production_refuses_to_start_without_its_secrets(
    tmp_path: Path, missing: str, env: dict[str, str]
) -> None:
    result = run_manage(tmp_path, "check", SWATHSTORE_PRODUCTION="1", **env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_refuses_debug(tmp_path: Path) -> None:
    result = run_manage(tmp_path, "check", SWATHSTORE_PRODUCTION="1", DEBUG="1")
    assert "DEBUG=1 is refused" in result.stderr

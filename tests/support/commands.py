"""Management commands run in the test's process, with their exit status and output."""

from __future__ import annotations

import pytest
from django.core.management import call_command


def archive_command(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `manage.py archive ARGS`; return its exit status, stdout and stderr."""
    try:
        call_command("archive", *args)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err

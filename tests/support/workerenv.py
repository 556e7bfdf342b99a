"""Give each pytest-xdist worker its own var directory, before Django reads its settings.

Loaded with `-p` (pyproject's addopts), so it runs before pytest-django imports
config.settings. A worker's VAR_DIR (`var/test-gw0`...) holds its own local stores,
caches and secret key, and names its own test database (tests/conftest.py derives the
name from VAR_DIR), so two workers never share a file or a database. Subprocesses the
tests start inherit the worker's VAR_DIR. Without xdist this does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker:
    _base = Path(os.environ.get("VAR_DIR") or Path(__file__).resolve().parents[2] / "var")
    os.environ["VAR_DIR"] = str(_base.with_name(f"{_base.name}-{_worker}"))

"""The Celery app for fault-test workers: the project's app plus test-only knobs.

Kombu's unacked-restore sweep (interval x throttle) decides how soon a hard-killed
worker's message comes back (RELIABILITY C2); settings do not expose it, so the
fault workers read it here. The test tasks in tests.faults.tasks are included.
"""

from __future__ import annotations

import os

from config.celery import app

_options = dict(app.conf.broker_transport_options or {})
for _name in ("unacked_restore_interval", "unacked_restore_throttle"):
    _value = os.environ.get(f"FAULT_{_name.upper()}")
    if _value:
        _options[_name] = int(_value)
app.conf.broker_transport_options = _options
app.conf.include = [*app.conf.include, "tests.faults.tasks"]

__all__ = ["app"]

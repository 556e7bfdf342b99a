"""Named crash points for fault-injection tests: ``ARCHIVE_FAULT=<point>:<probability>``."""

from __future__ import annotations

import os
import random

# The fault switch is read from the environment directly (not from config/settings)
# because the crash tests start worker subprocesses with it set, and archive/ must not
# depend on Django settings.
_ENV = "ARCHIVE_FAULT"
EXIT_CODE = 137


def fault_point(name: str) -> None:
    """Exit the process at once (``os._exit(137)``) if ``ARCHIVE_FAULT`` selects this point."""
    spec = os.environ.get(_ENV)
    if not spec:
        return
    for item in spec.split(","):
        point, _, probability = item.strip().partition(":")
        if point != name:
            continue
        try:
            chance = float(probability) if probability else 1.0
        except ValueError:
            chance = 1.0
        if chance >= 1.0 or random.random() < chance:
            os._exit(EXIT_CODE)

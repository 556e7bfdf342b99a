"""Readers that misbehave on purpose, run inside inspection children by the tests."""

from __future__ import annotations

import os
import signal
import time

from ingest.readers import read_metadata


def hang_on_marker(path: str, hints: dict | None = None) -> object:
    """Hang for ever on files whose name contains 'hang', else read normally."""
    if "hang" in os.path.basename(path):
        time.sleep(3600)
    return read_metadata(path, hints)


def crash_on_marker(path: str, hints: dict | None = None) -> object:
    """Die with SIGSEGV on files whose name contains 'crash', as a broken C library would."""
    if "crash" in os.path.basename(path):
        os.kill(os.getpid(), signal.SIGSEGV)
    return read_metadata(path, hints)


def pid_reader(path: str, hints: dict | None = None) -> object:
    """Read normally, recording the child's pid in the granule id."""
    meta = read_metadata(path, hints)
    meta.granule_id = str(os.getpid())
    return meta

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


def hang_render_on_marker(path: str) -> object:
    """Draw normally, but hang for ever on files whose name contains 'hang'."""
    from ingest.quicklook import make_quicklook

    if "hang" in os.path.basename(path):
        time.sleep(3600)
    return make_quicklook(path)


def crash_render_on_marker(path: str) -> object:
    """Draw normally, but die with SIGSEGV on files whose name contains 'crash'."""
    from ingest.quicklook import make_quicklook

    if "crash" in os.path.basename(path):
        os.kill(os.getpid(), signal.SIGSEGV)
    return make_quicklook(path)


def pid_renderer(path: str) -> object:
    """Draw normally, naming the drawing process's pid as the variable."""
    from dataclasses import replace

    from ingest.quicklook import make_quicklook

    return replace(make_quicklook(path), variable=str(os.getpid()))


def burn(seconds: float) -> float:
    """Spend ``seconds`` of CPU time (for ever when negative); return the seconds spent."""
    started = time.process_time()
    while seconds < 0 or time.process_time() - started < seconds:
        sum(range(10_000))
    return time.process_time() - started


def crash_or_hang(path: str, hints: dict | None = None, **limits: object) -> object:
    """Die with SIGSEGV on files whose name contains 'crash', hang for ever on 'hang',
    else read normally (with the ingest's limits, as the pooled reader is called)."""
    if "crash" in os.path.basename(path):
        os.kill(os.getpid(), signal.SIGSEGV)
    if "hang" in os.path.basename(path):
        time.sleep(3600)
    return read_metadata(path, hints, **limits)  # type: ignore[arg-type]

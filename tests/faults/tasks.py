"""Test-only Celery tasks for the delivery tests: each writes its pid and its progress."""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery import shared_task


def _mark(outdir: str, tag: str, what: str) -> None:
    path = Path(outdir) / f"{tag}.{os.getpid()}.{what}"
    path.write_text(str(time.time()))


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sleepy_requeued(tag: str, seconds: float, outdir: str) -> None:
    """Write '<tag>.<pid>.start', sleep, write '.done' (requeued if the worker dies)."""
    _mark(outdir, tag, "start")
    time.sleep(seconds)
    _mark(outdir, tag, "done")


@shared_task(acks_late=True, reject_on_worker_lost=False, ignore_result=True)
def sleepy_lost(tag: str, seconds: float, outdir: str) -> None:
    """The control of C1: the same task without reject_on_worker_lost."""
    _mark(outdir, tag, "start")
    time.sleep(seconds)
    _mark(outdir, tag, "done")


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def always_dies(tag: str, outdir: str) -> None:
    """C4 without the database: a message whose every execution kills its process."""
    _mark(outdir, tag, "start")
    os.kill(os.getpid(), 9)

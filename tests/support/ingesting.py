"""Ingesting files in the test process, as `manage.py ingest` does without Celery."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from catalog.models import IngestRun
from ingest.bulk import run_in_process, start_run
from ingest.scan import scan


def ingest_paths(paths: list[Path], collection: str, **options: Any) -> IngestRun:
    """Scan ``paths`` and ingest what the scan accepts into ``collection``; return the run.

    ``options`` go to run_in_process (codec, policy, workers).
    """
    found = scan(paths)
    run = start_run(collection, found.files, found.refused, paths=[str(p) for p in paths],
                    options={})
    return run_in_process(run, found.files, **options)


def copies_of(source: Path, names: Iterable[str], dest: Path) -> Path:
    """Copy the files ``names`` from ``source`` into the new directory ``dest``; return it."""
    dest.mkdir()
    for name in names:
        shutil.copy2(source / name, dest / name)
    return dest

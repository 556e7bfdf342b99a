"""Bulk ingest of directory trees: the work behind `manage.py ingest`.

Every file's outcome is an IngestItem row written by whichever process handled it
(a thread here, or a Celery worker with --celery), so the run's summary is the same
aggregate either way and a follower can count progress from the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from catalog import services
from catalog.models import IngestItem, IngestRun
from ingest.pipeline import FileOutcome, ingest_file, record_outcome
from ingest.scan import printable

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Running totals the progress lines show."""

    files_done: int = 0
    bytes_done: int = 0
    started: float = 0.0


def start_run(collection_slug: str, files: list, refused: list, *, paths: list[str],
              options: dict) -> IngestRun:
    """Create the run and record the files the scanner refused."""
    collection, _ = services.get_or_create_collection(collection_slug)
    run = IngestRun.objects.create(
        collection=collection, paths=[printable(p) for p in paths], options=options,
        n_files=len(files) + len(refused), bytes_total=sum(size for _, size in files),
    )
    for path, reason in refused:
        record_outcome(run.pk, FileOutcome(path, "failed", reason))
    return run


def run_in_process(
    run: IngestRun, files: list, *, workers: int = 1, codec: str = "auto",
    policy: str = "single", on_outcome: Callable[[FileOutcome, Progress], None] | None = None,
) -> IngestRun:
    """Ingest every file with a thread pool; a failed file never stops the others."""
    progress = Progress(started=time.monotonic())

    def one(path: str) -> FileOutcome:
        outcome = ingest_file(path, run.collection_id, codec=codec, policy=policy,
                              ingest_run_id=run.pk)
        record_outcome(run.pk, outcome)
        return outcome

    def pooled(path: str) -> FileOutcome:
        try:
            return one(path)
        finally:
            connection.close()  # each worker thread opened its own connection

    def done(outcome: FileOutcome) -> None:
        progress.files_done += 1
        progress.bytes_done += outcome.size
        if on_outcome:
            on_outcome(outcome, progress)

    if workers <= 1:  # in the caller's thread (and its transaction, if any)
        for path, _ in files:
            done(one(str(path)))
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in as_completed([pool.submit(pooled, str(p)) for p, _ in files]):
                done(future.result())
    return finish_run(run, time.monotonic() - progress.started)


def run_with_celery(
    run: IngestRun, files: list, *, codec: str = "auto", policy: str = "single",
    on_progress: Callable[[Progress], None] | None = None, poll_s: float = 0.5,
    timeout_s: float | None = None,
) -> IngestRun:
    """Enqueue one task per file and follow the run's items until every file is done."""
    from ingest.tasks import ingest_file_task

    started = time.monotonic()
    # Counted before publishing: a worker may record a quick outcome (a skip is one
    # lookup) before the last message is out, and counting after would then wait
    # forever for items that will never come.
    expected = IngestItem.objects.filter(run=run).count() + len(files)
    with transaction.atomic():  # publish only once the run row is committed (C6)
        for path, _ in files:
            ingest_file_task.delay_on_commit(str(path), run.collection_id, codec, run.pk, policy)
    progress = Progress(started=started)
    while True:
        agg = IngestItem.objects.filter(run=run).aggregate(n=Count("id"), b=Sum("size"))
        progress.files_done, progress.bytes_done = agg["n"], agg["b"] or 0
        if on_progress:
            on_progress(progress)
        if progress.files_done >= expected:
            break
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            raise TimeoutError(
                f"ingest run {run.pk}: {expected - progress.files_done} files unfinished "
                f"after {timeout_s:.0f} s; the workers go on, re-run to follow them"
            )
        time.sleep(poll_s)
    return finish_run(run, time.monotonic() - started)


def finish_run(run: IngestRun, seconds: float) -> IngestRun:
    """Aggregate the items into the run's counts, errors and state."""
    items = IngestItem.objects.filter(run=run)
    counts = dict(items.values_list("status").annotate(n=Count("id")))
    run.n_new = counts.get("new", 0)
    run.n_skipped = counts.get("skipped", 0)
    run.n_failed = counts.get("failed", 0)
    run.n_files = run.n_new + run.n_skipped + run.n_failed
    run.bytes_new = items.filter(status="new").aggregate(b=Sum("size"))["b"] or 0
    run.seconds = seconds
    run.errors = [
        {"path": p, "reason": r}
        for p, r in items.filter(status="failed").values_list("path", "reason")[:1000]
    ]
    run.state = IngestRun.State.FAILED if run.n_failed else IngestRun.State.DONE
    run.finished_at = timezone.now()
    run.save()
    return run

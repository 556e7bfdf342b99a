"""Bulk ingest of directory trees: the work behind `manage.py ingest`.

Every file's outcome is an IngestItem row written by whichever process handled it
(a thread here, or a Celery worker with --celery), so the run's summary is the same
aggregate either way and a follower can count progress from the database.

A run's row names the process that runs it (``owner``); a run left RUNNING by a process
that died is marked INTERRUPTED by the next run to start on the same host.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from catalog import services
from catalog.models import IngestItem, IngestRun
from catalog.policies import ingest_choice
from ingest.pipeline import FileOutcome, StoredFile, ingest_file, record_outcome, stage_file
from ingest.scan import printable

log = logging.getLogger(__name__)
Staged = FileOutcome | StoredFile


@dataclass
class Progress:
    """Running totals the progress lines show."""

    files_done: int = 0
    bytes_done: int = 0
    started: float = 0.0


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), '' without /proc, or
    None when no such process is alive (a zombie is not)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None if os.path.isdir("/proc/self") else ""
    except OSError:
        return ""
    fields = stat_line.rpartition(")")[2].split()  # the name in (...) may hold spaces
    if fields[0] in ("Z", "X"):  # killed, waiting to be reaped: dead all the same
        return None
    return fields[19]  # field 22 of proc(5), counted from the state (field 3)


def run_owner() -> str:
    """This process as a run's owner: host, pid and start time (a reused pid differs)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid()) or ''}"


def owner_is_dead(owner: str) -> bool:
    """True if ``owner`` (a run_owner() value) was a process of this host that is gone.

    A process on another host cannot be asked: its run is never called dead from here.
    """
    host, pid, ticks = (owner.rsplit(":", 2) + ["", ""])[:3]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    now = _start_ticks(int(pid))
    if now is None:
        return True
    if now and ticks:
        return now != ticks  # the pid was reused by a later process
    try:  # no /proc: only whether some process has that pid
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def interrupt_dead_runs() -> list[IngestRun]:
    """Mark INTERRUPTED every RUNNING run whose process on this host died; return them,
    with the counts of the files they recorded."""
    marked = []
    for run in IngestRun.objects.filter(state=IngestRun.State.RUNNING).exclude(owner=""):
        if not owner_is_dead(run.owner):
            continue
        # Conditional (STYLE 9): two runs starting at once mark it once.
        if IngestRun.objects.filter(pk=run.pk, state=IngestRun.State.RUNNING).update(
                state=IngestRun.State.INTERRUPTED, finished_at=timezone.now()) != 1:
            continue
        run.refresh_from_db()
        # Its uploads died with it: their swaths are free now (pipeline.worker_id names
        # the lease owner "host:pid:...", as run_owner names the run's process).
        host, pid, _ = run.owner.rsplit(":", 2)
        services.expire_dead_leases(run.pk, f"{host}:{pid}:")
        _aggregate(run)
        run.save(update_fields=["n_new", "n_skipped", "n_failed", "bytes_new", "errors"])
        marked.append(run)
    return marked


def start_run(collection_slug: str, files: list, refused: list, *, paths: list[str],
              options: dict) -> IngestRun:
    """Mark the runs whose process died INTERRUPTED, create this run and record the
    files the scanner refused.

    The run's options hold the codec and policy its files get: ``options["codec"]`` and
    ``["policy"]`` when given (not None), else the collection's (ingest_choice), with
    where each came from as ``codec_from`` and ``policy_from``.
    """
    interrupt_dead_runs()
    collection, _ = services.get_or_create_collection(collection_slug)
    choice = ingest_choice(collection, options.get("codec"), options.get("policy"))
    options = {**options, "codec": choice.codec, "policy": choice.policy,
               "codec_from": choice.codec_from, "policy_from": choice.policy_from}
    run = IngestRun.objects.create(
        collection=collection, paths=[printable(p) for p in paths], options=options,
        n_files=len(files) + len(refused), bytes_total=sum(size for _, size in files),
        owner=run_owner(),
    )
    for path, reason in refused:
        record_outcome(run.pk, FileOutcome(path, "failed", reason))
    return run


def run_in_process(
    run: IngestRun, files: list, *, workers: int = 1, codec: str | None = None,
    policy: str | None = None,
    on_outcome: Callable[[FileOutcome, Progress], None] | None = None,
) -> IngestRun:
    """Ingest every file with a thread pool; a failed file never stops the others.

    ``codec``/``policy`` left None are the run's (start_run chose them). Whatever one
    file's handling raises (a database error, a bug an odd file reaches) becomes that
    file's FAILED entry with the exception as its reason.

    Each worker hands a file whose bytes are STORED to a finishing thread (verification,
    VERIFIED, replicas, chunk index, quicklook: pipeline.StoredFile) and goes on with the
    next file; at most ``workers`` files wait to be finished, so a worker is never more
    than about one file ahead. Inside a transaction (``workers`` 1 in the caller's
    thread) every file is finished before the next starts: another thread would not see
    the rows.
    """
    codec, policy = _chosen(run, codec, policy)
    progress = Progress(started=time.monotonic())
    unrecorded: list[FileOutcome] = []

    def record(outcome: FileOutcome) -> FileOutcome:
        try:
            record_outcome(run.pk, outcome)
        except DatabaseError as e:  # the summary counts it all the same
            log.error("could not record the outcome of %s: %s", outcome.path, e)
            unrecorded.append(outcome)
        return outcome

    def guarded(path: str, step: Callable[[], Staged]) -> Staged:
        try:
            return step()
        # The pipeline turns every failure it knows into an outcome; anything else must
        # still fail this file only, not the other files of the batch.
        except Exception as e:  # noqa: BLE001
            log.error("ingest of %s raised", printable(path), exc_info=True)
            return FileOutcome(printable(path), "failed", f"{type(e).__name__}: {e}")

    def one(path: str) -> FileOutcome:
        staged = guarded(path, lambda: ingest_file(
            path, run.collection_id, codec=codec, policy=policy, ingest_run_id=run.pk))
        assert isinstance(staged, FileOutcome)
        return record(staged)

    def done(outcome: FileOutcome) -> None:
        progress.files_done += 1
        progress.bytes_done += outcome.size
        if on_outcome:
            on_outcome(outcome, progress)

    if workers <= 1 and connection.in_atomic_block:  # the caller's transaction holds it all
        for path, _ in files:
            done(one(str(path)))
        return finish_run(run, time.monotonic() - progress.started, unrecorded)

    workers = max(1, workers)
    waiting = threading.BoundedSemaphore(workers)  # files STORED, not yet finished
    finishers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest-finish")
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest")

    def finish(path: str, stored: StoredFile) -> FileOutcome:
        try:
            outcome = guarded(path, stored.finish)
            assert isinstance(outcome, FileOutcome)
            return record(outcome)
        finally:
            waiting.release()
            connection.close()  # each finishing thread opened its own connection

    def start(path: str) -> FileOutcome | Future[FileOutcome]:
        try:
            staged = guarded(path, lambda: stage_file(
                path, run.collection_id, codec=codec, policy=policy, ingest_run_id=run.pk))
            if isinstance(staged, FileOutcome):
                return record(staged)
            waiting.acquire()
            try:
                return finishers.submit(finish, path, staged)
            except BaseException:
                waiting.release()
                raise
        finally:
            connection.close()  # each worker thread opened its own connection

    try:
        pending: set[Future] = {pool.submit(start, str(p)) for p, _ in files}
        while pending:
            ready, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in ready:
                result = future.result()
                if isinstance(result, Future):  # STORED: its outcome comes from a finisher
                    pending.add(result)
                else:
                    done(result)
    finally:
        # On Ctrl-C the files not started yet are dropped, not waited for; the files
        # already STORED are finished (verified or failed), not left for reconcile.
        pool.shutdown(wait=True, cancel_futures=True)
        finishers.shutdown(wait=True)
    return finish_run(run, time.monotonic() - progress.started, unrecorded)


def run_with_celery(
    run: IngestRun, files: list, *, codec: str | None = None, policy: str | None = None,
    on_progress: Callable[[Progress], None] | None = None, poll_s: float = 0.5,
    timeout_s: float | None = None,
) -> IngestRun:
    """Enqueue one task per file and follow the run's items until every file is done.

    ``codec``/``policy`` left None are the run's; each task is sent the chosen ones, so a
    collection changed while the tasks wait does not split the run.
    """
    from ingest.tasks import ingest_file_task

    codec, policy = _chosen(run, codec, policy)
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


def _chosen(run: IngestRun, codec: str | None, policy: str | None) -> tuple[str, str]:
    """Return the codec and policy given, else the run's, else the collection's."""
    codec = codec or run.options.get("codec")
    policy = policy or run.options.get("policy")
    if codec is None or policy is None:  # a run made without start_run
        choice = ingest_choice(run.collection_id, codec, policy)
        codec, policy = choice.codec, choice.policy
    return codec, policy


def _aggregate(run: IngestRun, unrecorded: list[FileOutcome] | None = None) -> None:
    """Set the run's counts and errors from its items (and outcomes no row holds)."""
    unrecorded = unrecorded or []
    items = IngestItem.objects.filter(run=run)
    counts = dict(items.values_list("status").annotate(n=Count("id")))
    for outcome in unrecorded:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    run.n_new = counts.get("new", 0)
    run.n_skipped = counts.get("skipped", 0)
    run.n_failed = counts.get("failed", 0)
    run.bytes_new = (items.filter(status="new").aggregate(b=Sum("size"))["b"] or 0) + sum(
        o.size for o in unrecorded if o.status == "new")
    run.errors = [
        {"path": p, "reason": r}
        for p, r in items.filter(status="failed").values_list("path", "reason")[:1000]
    ] + [{"path": o.path, "reason": o.reason} for o in unrecorded if o.status == "failed"]


def finish_run(run: IngestRun, seconds: float,
               unrecorded: list[FileOutcome] | None = None) -> IngestRun:
    """Aggregate the items (and ``unrecorded`` outcomes) into the run's counts, errors
    and state."""
    _aggregate(run, unrecorded)
    run.n_files = run.n_new + run.n_skipped + run.n_failed
    run.seconds = seconds
    run.state = IngestRun.State.FAILED if run.n_failed else IngestRun.State.DONE
    run.finished_at = timezone.now()
    run.save()
    return run

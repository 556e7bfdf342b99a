"""`manage.py ingest PATH... --collection SLUG`: archive directory trees."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.models import Collection
from catalog.policies import ingest_choice, policy_problem
from ingest.bulk import (
    Progress,
    interrupt_dead_runs,
    run_in_process,
    run_with_celery,
    start_run,
)
from ingest.pipeline import FileOutcome
from ingest.scan import scan

# Files in flight by default: one per core keeps the cores busy while another file waits
# on the store (measured on 2 cores in docs/BENCHMARKS.md, Ingest); more only add
# inspection children that compete for the same cores and memory.
MAX_DEFAULT_WORKERS = 4


def default_workers() -> int:
    """Return the default --workers: the machine's cores, at most MAX_DEFAULT_WORKERS."""
    return max(1, min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1))


class Command(BaseCommand):
    help = (
        "Archive swath files: scan the paths, then for each file inspect its metadata, "
        "register it, stream it to the object store (checksum in the same pass) and "
        "verify it. Idempotent: unchanged VERIFIED files are skipped, unfinished ones "
        "resumed. A file whose handling fails is listed FAILED with its reason and the "
        "others go on; a run whose process died is marked INTERRUPTED when the next one "
        "starts. Each file gets the codec and policy --codec/--policy name, else the "
        "collection's default_codec and default_policy (INGEST_CODEC stands in for a "
        "default_codec of auto; INGEST_POLICY is the fewest copies kept); a policy the "
        "configured stores cannot meet is refused before any file. Exits 1 when any file "
        "failed, 2 when the policy was refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", help="files or directories to ingest")
        parser.add_argument("--collection", required=True,
                            help="collection slug (created with defaults on first use)")
        parser.add_argument(
            "--workers", type=int, default=default_workers(),
            help="files in parallel, each with its own inspection child (default: the "
                 f"machine's cores, at most {MAX_DEFAULT_WORKERS}: here {default_workers()})")
        parser.add_argument("--celery", action="store_true",
                            help="one task per file to the Celery workers; follow their progress")
        parser.add_argument(
            "--policy", choices=["single", "replicate", "copy3"],
            help="copies to keep, each verified (replicate: 2, copy3: 3 stores). Default: "
                 "the collection's default_policy, or INGEST_POLICY (here "
                 f"{settings.INGEST_DEFAULT_POLICY}) if that keeps more copies")
        parser.add_argument(
            "--codec", choices=["auto", "none", "gzip", "zstd"],
            help="auto: NetCDF4/HDF5 as-is (ranged reads), others zstd. Default: the "
                 "collection's default_codec; when that is auto, INGEST_CODEC (here "
                 f"{settings.INGEST_DEFAULT_CODEC})")
        parser.add_argument("--include", action="append", metavar="GLOB",
                            help="only file names matching GLOB (repeatable)")
        parser.add_argument("--dry-run", action="store_true",
                            help="scan and report, archive nothing")
        parser.add_argument("--log", type=Path, metavar="FILE",
                            help="also write the per-file lines and summary to FILE")

    def handle(self, *args: object, **opts: object) -> None:
        log_file = opts["log"].open("a") if opts["log"] else None

        def say(line: str = "") -> None:
            self.stdout.write(line)
            if log_file:
                log_file.write(line + "\n")

        result = scan(opts["paths"], opts["include"])
        say(f"scan: {len(result.files)} files, {result.total_bytes / 1e6:.1f} MB, "
            f"{len(result.refused)} refused")
        for directory, count in sorted(result.per_dir.items()):
            say(f"  {count:6d}  {directory}")
        for path, reason in result.refused:
            say(f"  refused  {path}: {reason}")
        slug = opts["collection"]
        # A collection made on first use has the model's defaults (single, auto).
        collection = Collection.objects.filter(slug=slug).first() or Collection(slug=slug)
        choice = ingest_choice(collection, opts["codec"], opts["policy"])
        problem = policy_problem(choice.policy)
        if problem:
            raise CommandError(f"{problem} (policy from {choice.policy_from}); nothing "
                               "ingested", returncode=2)
        say(f"policy {choice.policy} (from {choice.policy_from}), "
            f"codec {choice.codec} (from {choice.codec_from})")
        if opts["dry_run"]:
            return
        if collection.pk is None:
            say(f"collection {slug!r} does not exist: creating it with defaults")

        if opts["celery"] and settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError("--celery needs CELERY_BROKER_URL (no broker is configured)")
        total = len(result.files)

        def line(p: Progress, tail: str = "") -> str:
            elapsed = time.monotonic() - p.started
            rate = p.bytes_done / elapsed if elapsed else 0.0
            left = (result.total_bytes - p.bytes_done) / rate if rate else 0.0
            return (f"[{p.files_done}/{total}] {p.bytes_done / 1e6:9.1f} MB  "
                    f"{rate / 1e6:7.1f} MB/s  ETA {left:5.0f}s{tail}")

        def show(outcome: FileOutcome, p: Progress) -> None:
            reason = f": {outcome.reason}" if outcome.reason else ""
            say(line(p, f"  {outcome.status:7s} {outcome.path}{reason}"))

        # Library warnings stay out of the progress lines; reasons are on the outcome.
        logging.getLogger("ingest").setLevel(logging.ERROR)
        interrupted = interrupt_dead_runs()
        for old in interrupted:
            say(f"ingest run {old.pk} (started {old.started_at:%Y-%m-%d %H:%M:%S} UTC) was left "
                f"RUNNING by a process that no longer exists: marked INTERRUPTED "
                f"({old.n_new + old.n_skipped + old.n_failed} of {old.n_files} files done)")
        run = start_run(slug, result.files, result.refused,
                        paths=[str(p) for p in opts["paths"]],
                        options={k: opts[k] for k in ("workers", "codec", "policy", "celery")})
        if opts["celery"]:
            last = [-1]

            def follow(p: Progress) -> None:
                if p.files_done != last[0]:
                    last[0] = p.files_done
                    say(line(p))

            run = run_with_celery(run, result.files, on_progress=follow)
        else:
            run = run_in_process(run, result.files, workers=opts["workers"], on_outcome=show)
        say("")
        say(f"ingest run {run.pk}: {run.state}")
        say(f"  new      {run.n_new:6d}   {run.bytes_new / 1e6:10.1f} MB")
        say(f"  skipped  {run.n_skipped:6d}")
        say(f"  failed   {run.n_failed:6d}")
        say(f"  time     {run.seconds:8.1f} s   {run.mb_per_s:8.1f} MB/s")
        if interrupted:
            say(f"  interrupted earlier: run{'s' if len(interrupted) > 1 else ''} "
                + ", ".join(str(old.pk) for old in interrupted)
                + " (marked INTERRUPTED; a run over their paths resumes their unfinished files)")
        for err in run.errors:
            say(f"  FAILED {err['path']}: {err['reason']}")
        if log_file:
            log_file.close()
        if run.n_failed:
            sys.exit(1)

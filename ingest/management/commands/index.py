"""`manage.py index [--collection SLUG] [--swath UUID] [--batch N] [--rebuild]`: chunk
indexes for archived swaths that have none (ingest.indexes)."""

from __future__ import annotations

import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from ingest.indexes import Outcome, index_swaths
from ingest.management.stopping import stop_requests
from ingest.management.swathargs import check_batch_arguments, swath_uuid


class Command(BaseCommand):
    help = (
        "Build the chunk index (kerchunk references, JSON) of archived VERIFIED swaths that "
        "have none, as ingest does for new ones: each NetCDF4/HDF5 object stored as it is "
        "(codec none) is read by byte ranges from its verified copy and parsed in the "
        "sandboxed inspection child; the index is stored beside it under indexes/ and "
        "recorded in the swath's attrs. Objects that cannot be indexed (NetCDF classic, "
        "compressed objects, corrupt files) get the reason recorded instead. Resumable: a "
        "swath with an index of its current object, or a recorded reason, is skipped, so a "
        "re-run goes on where the last one stopped. One line per swath, then a summary. "
        "Exit status 0 when every swath was dealt with, 1 when some could not be read or the "
        "run was stopped (SIGTERM/SIGINT finish the swath in hand first), 2 for bad "
        "arguments."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--collection", metavar="SLUG", help="only this collection's swaths")
        parser.add_argument("--swath", action="append", metavar="UUID",
                            help="only this swath (repeatable)")
        parser.add_argument("--batch", type=int, default=100, metavar="N",
                            help="catalog rows read at a time (default 100)")
        parser.add_argument("--rebuild", action="store_true",
                            help="index every selected swath again, even one that has an index "
                                 "(the old document is deleted once the new one is recorded)")
        parser.add_argument("--retry-failed", action="store_true",
                            help="also try swaths whose index could not be made before")
        parser.add_argument("--store", default="primary",
                            help="the store whose verified copies are read and where the "
                                 "indexes go (default primary)")
        parser.add_argument("--timeout", type=float, metavar="SECONDS",
                            help="per swath, reads included (default INGEST_INSPECT_TIMEOUT_S "
                                 f"= {settings.INGEST_INSPECT_TIMEOUT_S})")

    def handle(self, *args: object, **opts: object) -> None:
        uuids = [swath_uuid(u) for u in opts["swath"] or []]
        check_batch_arguments(opts, uuids, "indexed")

        def show(outcome: Outcome) -> None:
            self.stdout.write(outcome.line())

        # A signal finishes the swath being indexed, then stops.
        with stop_requests(signal.SIGTERM, signal.SIGINT) as stopping:
            report = index_swaths(collection=opts["collection"], uuids=uuids or None,
                                  rebuild=bool(opts["rebuild"]),
                                  retry_failed=bool(opts["retry_failed"]),
                                  batch=int(opts["batch"]), store_name=str(opts["store"]),
                                  timeout_s=opts["timeout"], on_outcome=show,
                                  should_stop=lambda: bool(stopping))
        self.stdout.write(report.summary())
        if report.count("failed") or report.stopped:
            sys.exit(1)

"""`manage.py reinspect [--collection SLUG] [--swath UUID] [--dry-run]`: re-read archived
swaths from their stored objects and bring their catalog rows up to date."""

from __future__ import annotations

import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from ingest.management.stopping import stop_requests
from ingest.management.swathargs import check_batch_arguments, swath_uuid
from ingest.reinspect import Outcome, reinspect


class Command(BaseCommand):
    help = (
        "Recompute the footprint, times, valid-data coverage and other metadata of archived "
        "(VERIFIED) swaths from their stored objects, with today's readers (rows without a "
        "coverage get one): uncompressed NetCDF4/HDF5 objects "
        "by ranged reads, others through a streamed copy checked against the catalog's "
        "SHA-256; the bytes are parsed in the sandboxed inspection child. Only fields that "
        "differ are written, so a re-run changes nothing; stored STAC items follow. One "
        "line per swath (footprint area before and after, fields changed), then a summary. "
        "Exit status 0 when every swath was read, 1 when any failed or the run was stopped "
        "(SIGTERM/SIGINT finish the swath in hand first), 2 for bad arguments."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--collection", metavar="SLUG", help="only this collection's swaths")
        parser.add_argument("--swath", action="append", metavar="UUID",
                            help="only this swath (repeatable)")
        parser.add_argument("--dry-run", action="store_true",
                            help="read and report what would change; write nothing")
        parser.add_argument("--batch", type=int, default=100, metavar="N",
                            help="catalog rows read at a time (default 100)")
        parser.add_argument("--store", default="primary",
                            help="the store whose verified copies are read (default primary)")
        parser.add_argument("--timeout", type=float, metavar="SECONDS",
                            help="per swath, reads included (default INGEST_INSPECT_TIMEOUT_S "
                                 f"= {settings.INGEST_INSPECT_TIMEOUT_S})")
        parser.add_argument("--tmp-dir", metavar="DIR",
                            help="where streamed copies go (default the system's temp dir)")

    def handle(self, *args: object, **opts: object) -> None:
        uuids = [swath_uuid(u) for u in opts["swath"] or []]
        check_batch_arguments(opts, uuids, "read again")

        def show(outcome: Outcome) -> None:
            self.stdout.write(outcome.line(bool(opts["dry_run"])))

        # A signal finishes the swath being read, then stops.
        with stop_requests(signal.SIGTERM, signal.SIGINT) as stopping:
            report = reinspect(collection=opts["collection"], uuids=uuids or None,
                               dry_run=bool(opts["dry_run"]), batch=int(opts["batch"]),
                               store_name=str(opts["store"]), timeout_s=opts["timeout"],
                               tmp_dir=opts["tmp_dir"], on_outcome=show,
                               should_stop=lambda: bool(stopping))
        self.stdout.write(report.summary())
        if report.count("failed") or report.stopped:
            sys.exit(1)

"""`manage.py refresh_stac_items`: store this revision's STAC Item for every VERIFIED swath."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from api.stac import storeditems


class Command(BaseCommand):
    help = (
        "Store the STAC Item of every VERIFIED swath that has none of this code's revision "
        "(rows catalogued before the stored items existed, or by an older renderer). "
        "Searches serve such rows correctly meanwhile, rendering them on each request. "
        "Runs in batches of ids, each committed, so it can be interrupted and run again. "
        "PostgreSQL only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=10_000, help="rows per transaction")
        parser.add_argument("--check", action="store_true",
                            help="only count the rows to refresh; exit 1 if there are any")

    def handle(self, *args: object, **opts: object) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("stored STAC Items are a PostgreSQL feature; this catalog is "
                               f"{connection.vendor}, whose searches render items each time")
        if opts["batch"] < 1:
            raise CommandError(f"--batch must be at least 1, not {opts['batch']}")
        stale = storeditems.stale(connection)
        if opts["check"]:
            self.stdout.write(f"{stale} VERIFIED swaths have no item of revision {storeditems.REV}")
            if stale:
                raise SystemExit(1)
            return
        t = time.perf_counter()
        done = storeditems.refresh(connection, opts["batch"])
        self.stdout.write(f"stored {done} items of revision {storeditems.REV} "
                          f"in {time.perf_counter() - t:.1f} s")

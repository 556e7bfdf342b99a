"""`manage.py reconcile [--apply]`: bring the catalog and the store back to the invariants."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from ops.fsck import parse_age
from ops.reconcile import reconcile


class Command(BaseCommand):
    help = (
        "Compare catalog rows with every store holding copies (or --store) and repair: "
        "verify STORED rows, adopt objects whose bytes match their swath's source (else "
        "delete orphans older than --grace), heal MISSING and CORRUPT copies (rebuilt from a "
        "verified copy and re-verified; a swath with none left is LOST, and ingested again "
        "when its source file is still there), and re-enqueue "
        "PENDING, FAILED (attempts left) and lease-expired rows. On the primary store also "
        "make standing-order products a crash kept from firing and re-send QUEUED products "
        "older than --grace (failing those out of attempts). Dry run unless --apply."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--store", default=None,
                            help="one named store (default: every store holding copies)")
        parser.add_argument("--apply", action="store_true", help="act; default is a dry run")
        parser.add_argument("--grace", type=parse_age, default=parse_age("1h"),
                            help="orphans and QUEUED products younger than this are left alone "
                                 "(default 1h)")

    def handle(self, *args: object, **opts: object) -> None:
        report = reconcile(opts["store"], apply=opts["apply"], grace=opts["grace"])
        for line in report.lines:
            self.stdout.write(line)
        verb = "applied" if opts["apply"] else "found (dry run: --apply to act)"
        where = opts["store"] or "every store"
        self.stdout.write(f"reconcile {where}: {len(report.lines)} {verb}")

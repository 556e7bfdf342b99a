"""`manage.py register-products REPORT.json`: outputs of a completed batch job -> Products."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hpc.register import RegistrationRefused, register_report


class Command(BaseCommand):
    help = (
        "Register the outputs of a completed hpc.extract job (its report.json) as DONE "
        "Products: each output is copied into the store under a content-addressed key and "
        "checked against its SHA-256. A report of a failed or aborted job is refused. "
        "Safe to re-run: products already registered (same parameters) are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("report", help="report.json written by hpc.extract")
        parser.add_argument("--store", default="primary", help="store for the products")

    def handle(self, *args: object, **opts: object) -> None:
        try:
            done = register_report(str(opts["report"]), str(opts["store"]))
        except RegistrationRefused as e:
            raise CommandError(str(e)) from e
        self.stdout.write(f"registered {done.created} products, {done.existing} existed, "
                          f"{len(done.skipped)} skipped")
        for ident, reason in done.skipped[:50]:
            self.stdout.write(f"  skipped {ident}: {reason}")
        sys.stdout.flush()

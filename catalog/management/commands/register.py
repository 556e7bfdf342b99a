"""`manage.py register MANIFEST --collection SLUG`: catalog-only bulk registration."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from catalog.bulkload import register_manifest
from catalog.services import get_or_create_collection


class Command(BaseCommand):
    help = (
        "Register swaths whose objects are already in a store, from a JSON-lines manifest "
        "(one object per line: granule_id, key, sha256, size, and optionally store, codec, "
        "start_time, end_time, footprint (GeoJSON or WKT), platform, instrument, orbit, "
        "format). Rows load as STORED (VERIFIED with --trust-checksums). Already "
        "catalogued sha256 or granule ids are skipped. Exit 1 when any line was rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("manifest", type=Path, help="JSON-lines file, or - for stdin")
        parser.add_argument("--collection", required=True,
                            help="collection slug (created with defaults on first use)")
        parser.add_argument("--batch-size", type=int, default=50_000)
        parser.add_argument("--trust-checksums", action="store_true",
                            help="mark rows VERIFIED: the objects were verified elsewhere")

    def handle(self, *args: object, **opts: object) -> None:
        collection, created = get_or_create_collection(opts["collection"])
        if created:
            self.stdout.write(f"collection {collection.slug!r} created with defaults")
        path = opts["manifest"]
        handle = sys.stdin.buffer if str(path) == "-" else path.open("rb")
        with handle:
            result = register_manifest(handle, collection, batch_size=opts["batch_size"],
                                       trust_checksums=opts["trust_checksums"])
        self.stdout.write(
            f"registered {result.loaded}, skipped {result.skipped} already catalogued, "
            f"rejected {len(result.rejected)} in {result.seconds:.1f} s "
            f"({result.rows_per_s:,.0f} rows/s)"
        )
        for _, reason in result.rejected[:50]:
            self.stdout.write(f"  rejected {reason}")
        if result.rejected:
            sys.exit(1)

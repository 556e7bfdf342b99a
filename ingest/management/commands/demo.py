"""`manage.py demo`: on an empty archive, make and ingest a few synthetic swaths."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from catalog.models import Swath
from ingest.bulk import run_in_process, start_run
from ingest.scan import scan
from ingest.synth import generate


class Command(BaseCommand):
    help = (
        "Load demo data: when the archive holds no swath, generate DEMO_SWATHS synthetic "
        "MODIS-like granules under VAR_DIR/demo and ingest them into collection "
        "'demo-modis-aqua'. Does nothing on an archive that already has swaths."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=settings.DEMO_SWATHS)
        parser.add_argument("--size", default="4MB", help="size of each granule")

    def handle(self, *args: object, **opts: object) -> None:
        if Swath.objects.exists():
            self.stdout.write(f"demo: archive holds {Swath.objects.count()} swaths; nothing to do")
            return
        if opts["count"] == 0:
            return
        outdir = settings.VAR_DIR / "demo"
        infos = generate(outdir, count=opts["count"], size=opts["size"], start="2024-01-01",
                         seed=1)
        found = scan([outdir])
        run = start_run("demo-modis-aqua", found.files, found.refused, paths=[str(outdir)],
                        options={})
        run = run_in_process(run, found.files)
        self.stdout.write(
            f"demo: generated {len(infos)} granules, ingested {run.n_new} "
            f"({run.n_failed} failed) into collection demo-modis-aqua"
        )

"""`manage.py synth`: write synthetic MODIS-like swath granules for demos, tests and benchmarks."""

from __future__ import annotations

import signal
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingest.management.stopping import stop_requests
from ingest.synth import SynthInfo, generate


class Command(BaseCommand):
    help = (
        "Write COUNT consecutive synthetic MODIS-Aqua-like Level-2 granules (NetCDF4, "
        "groups navigation_data/geophysical_data/scan_line_attributes) along a seeded "
        "sun-synchronous orbit into OUTDIR, each about SIZE bytes. The same arguments "
        "always give byte-identical files. Over a day, some granules cross the "
        "antimeridian and some pass over a pole; the summary says which."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("outdir", help="directory to write the granules into")
        parser.add_argument("--count", type=int, default=12, help="number of granules")
        parser.add_argument(
            "--size", default="50MB",
            help="size of each granule: 1MB, 50MB, 2GB, 512KiB (default 50MB); "
                 "'native' for MODIS sampling (1354 pixels, a line every 0.148 s)",
        )
        parser.add_argument("--start", default="2024-01-01",
                            help="start of the first granule, ISO 8601 (UTC if no offset)")
        parser.add_argument("--seed", type=int, default=0,
                            help="picks the orbit phase and the data (default 0)")
        parser.add_argument("--granule-minutes", type=float, default=5.0,
                            help="time span of each granule (default 5)")
        parser.add_argument("--incompressible", action="store_true",
                            help="fill data variables with noise, so sizes are predictable")
        parser.add_argument("--compression", choices=["zlib", "zstd", "none"], default="zlib",
                            help="HDF5 filter (default zlib level 1 with shuffle)")
        parser.add_argument("--no-compression", action="store_true",
                            help="same as --compression none")
        parser.add_argument("--sha256", action="store_true", help="checksum each file")

    def handle(self, *args: object, **opts: object) -> None:
        compression = None if opts["no_compression"] else str(opts["compression"])
        size = None if opts["size"] == "native" else str(opts["size"])

        def report(info: SynthInfo) -> None:
            flags = " antimeridian" * info.crosses_antimeridian + " pole" * info.over_pole
            self.stdout.write(
                f"  {info.path.name}  {info.size / 1e6:9.1f} MB  {_z(info.start)} .. "
                f"{_z(info.end)}  orbit {info.orbit}{flags}"
                + (f"  sha256 {info.sha256}" if info.sha256 else "")
            )

        # SIGTERM finishes the granule being written (files appear atomically), then stops.
        with stop_requests(signal.SIGTERM) as stopping:
            try:
                infos = generate(
                    str(opts["outdir"]), count=int(opts["count"]), size=size,
                    start=str(opts["start"]), seed=int(opts["seed"]),
                    granule_minutes=float(opts["granule_minutes"]),
                    incompressible=bool(opts["incompressible"]),
                    compression=None if compression == "none" else compression,
                    checksum=bool(opts["sha256"]), should_stop=lambda: bool(stopping),
                    on_granule=report,
                )
            except ValueError as e:
                raise CommandError(str(e)) from e
        self._summary(infos, interrupted=bool(stopping))

    def _summary(self, infos: list[SynthInfo], interrupted: bool) -> None:
        """Write totals, the time range and which granules cross +-180 or a pole."""
        if not infos:
            self.stdout.write("synth: no granules written")
            return
        total = sum(i.size for i in infos)
        am = [i.path.name for i in infos if i.crosses_antimeridian and not i.over_pole]
        pole = [i.path.name for i in infos if i.over_pole]
        self.stdout.write(
            f"synth: wrote {len(infos)} granules, {total / 1e6:.1f} MB, "
            f"{_z(infos[0].start)} .. {_z(infos[-1].end)}, orbits "
            f"{infos[0].orbit}-{infos[-1].orbit}, {infos[0].n_lines} lines x "
            f"{infos[0].n_pixels} pixels, into {infos[0].path.parent}"
        )
        self.stdout.write(f"  crossing the antimeridian (not over a pole): {len(am)} "
                          + " ".join(am))
        self.stdout.write(f"  over a pole (these also touch +-180): {len(pole)} "
                          + " ".join(pole))
        if interrupted:
            self.stdout.write("synth: stopped early on SIGTERM")


def _z(when: datetime) -> str:
    """Return an aware datetime as ISO 8601 with Z."""
    return f"{when:%Y-%m-%dT%H:%M:%S}Z"

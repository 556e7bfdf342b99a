"""`manage.py subset`: cut regional subsets into a local directory."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.models import Swath
from eo.argv import accept_negative_values
from eo.times import parse_interval
from subset import kernel
from subset.errors import NoDataInRegion, SubsetError
from subset.region import parse_bbox, parse_geometry
from subset.services import SubsetSpec, cut_swath_to, region_spec, search_swaths


class Command(BaseCommand):
    help = (
        "Cut a region out of swaths into --out DIR: one archived swath (--swath UUID), a "
        "local file (--file PATH), or every VERIFIED swath over the region (--search, with "
        "--datetime and --collection). The region is --bbox W,S,E,N, --region SLUG or "
        "--geometry FILE (GeoJSON or WKT). Exits 1 if any subset failed."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --bbox -10,40,10,50 (a negative west edge) is a value, not an option.
        return accept_negative_values(super().create_parser(prog_name, subcommand, **kwargs))

    def add_arguments(self, parser: CommandParser) -> None:
        src = parser.add_mutually_exclusive_group(required=True)
        src.add_argument("--swath", help="uuid of an archived swath")
        src.add_argument("--file", type=Path, help="a local NetCDF/HDF5 file")
        src.add_argument("--search", action="store_true",
                         help="every VERIFIED swath over the region (see --datetime)")
        area = parser.add_mutually_exclusive_group(required=True)
        area.add_argument("--bbox", help="W,S,E,N in degrees; W>E crosses the antimeridian")
        area.add_argument("--region", help="slug of a named Region")
        area.add_argument("--geometry", type=Path, help="file holding GeoJSON or WKT")
        parser.add_argument("--variables", nargs="+", default=[],
                            help="variable names or paths (geolocation comes along)")
        parser.add_argument("--datetime", help="start/end: search window, and pixel time window "
                                               "with --time-filter")
        parser.add_argument("--time-filter", action="store_true",
                            help="keep only pixels whose own time is in --datetime")
        parser.add_argument("--collection", action="append", default=[],
                            help="with --search: only these collections")
        parser.add_argument("--fill-outside", action="store_true",
                            help="set window pixels outside the region to _FillValue")
        parser.add_argument("--out", type=Path, required=True, help="output directory")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            spec = self.spec(opts)
        except (ValueError, OSError) as e:  # SubsetError and eo's InputError included
            raise CommandError(str(e)) from e
        out: Path = opts["out"]
        out.mkdir(parents=True, exist_ok=True)
        failed = 0
        for name, run in self.jobs(opts, spec):
            target = out / name
            try:
                result = run(target)
            except NoDataInRegion as e:
                self.stdout.write(f"{name}: no data in region ({e})")
                continue
            except (SubsetError, OSError) as e:
                self.stderr.write(f"{name}: FAILED: {e}")
                failed += 1
                continue
            self.stdout.write(f"{target}: {result.n_selected} pixels, {result.size} bytes, "
                              f"{result.seconds:.2f} s")
        if failed:
            raise CommandError(f"{failed} subset(s) failed")

    def spec(self, opts: dict[str, Any]) -> SubsetSpec:
        slug = None
        if opts["bbox"]:
            region = parse_bbox(opts["bbox"])
        elif opts["geometry"]:
            region = parse_geometry(opts["geometry"].read_text())
        else:
            region, slug = region_spec(opts["region"])
        start = end = None
        if opts["datetime"]:
            start, end = parse_interval(opts["datetime"])
        spec = SubsetSpec(region, slug, list(opts["variables"]), fill_outside=opts["fill_outside"])
        if opts["time_filter"]:
            spec.start, spec.end = start, end
        self.search_window = (start, end)
        return spec

    def jobs(self, opts: dict[str, Any], spec: SubsetSpec) -> list[tuple[str, Any]]:
        tag = hashlib.sha256(spec.region.label.encode()).hexdigest()[:8]
        if opts["file"]:
            path: Path = opts["file"]
            return [(f"{path.stem}.subset-{tag}.nc", lambda target: kernel.subset(
                path, spec.region, target, variables=spec.variables or None,
                time_range=(spec.start, spec.end), fill_outside=spec.fill_outside,
                provenance={"granule_id": path.name}))]
        if opts["swath"]:
            try:
                swaths = [Swath.objects.select_related("collection").get(uuid=opts["swath"])]
            except (Swath.DoesNotExist, ValueError) as e:
                raise CommandError(f"no swath {opts['swath']}") from e
        else:
            start, end = self.search_window
            swaths = search_swaths(spec, {"start": start, "end": end,
                                          "collections": opts["collection"]})
        return [(f"{Path(s.filename).stem}.subset-{tag}.nc",
                 lambda target, s=s: cut_swath_to(s, spec, target)) for s in swaths]

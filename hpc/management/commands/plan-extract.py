"""`manage.py plan-extract`: write the manifest of a batch extraction from the catalog."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.models import Region, Swath
from eo.argv import accept_negative_values
from eo.times import parse_interval
from hpc.manifest import write_manifest
from hpc.plan import plan_from_catalog
from subset.costs import estimate_swath
from subset.errors import SubsetError
from subset.region import parse_bbox
from subset.services import SubsetSpec, region_spec


class Command(BaseCommand):
    help = (
        "Write a JSON-lines manifest (one line per VERIFIED swath over a region and time "
        "window: id, store URL and key, size, sha256, codec, region) for "
        "`mpirun -n N python -m mpi4py -m hpc.extract --manifest FILE ...`. Compute "
        "nodes then need no database. Credentials are never written."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --bbox -10,40,10,50 (a negative west edge) is a value, not an option.
        return accept_negative_values(super().create_parser(prog_name, subcommand, **kwargs))

    def add_arguments(self, parser: CommandParser) -> None:
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--bbox", help="W,S,E,N in degrees (W > E crosses 180)")
        where.add_argument("--region", help="slug of a named region")
        parser.add_argument("--datetime", required=True,
                            help="START/END, RFC 3339 or dates; '..' is open")
        parser.add_argument("--collection", action="append", default=[],
                            help="collection slug (repeat or comma-separate)")
        parser.add_argument("--store", default="primary",
                            help="which store's copies to read first; each item lists the "
                                 "swath's other VERIFIED copies as replicas to fall back to")
        parser.add_argument("-o", "--output", required=True, help="manifest file to write")
        parser.add_argument("--estimate", action="store_true",
                            help="also print each item's bytes to read and to write and its "
                                 "time, and their totals (POST subsets/estimate's rule: each "
                                 "swath's metadata and geolocation are read to plan its cut)")
        parser.add_argument("--variables", default="",
                            help="with --estimate: the variables hpc.extract will cut "
                                 "(comma-separated; default: all)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            start, end = parse_interval(opts["datetime"])
        except ValueError as e:
            raise CommandError(str(e)) from e
        collections = [c.strip() for arg in opts["collection"] for c in str(arg).split(",")
                       if c.strip()]
        try:
            plan = plan_from_catalog(bbox=opts["bbox"], region=opts["region"], start=start,
                                     end=end, collections=collections or None,
                                     store=str(opts["store"]))
        except Region.DoesNotExist as e:
            raise CommandError(f"no region named {opts['region']!r}") from e
        except ValueError as e:  # eo's InputError and RegionError: the message names it
            raise CommandError(str(e)) from e
        except KeyError as e:
            raise CommandError(f"no store named {opts['store']!r} is configured") from e
        n = write_manifest(str(opts["output"]), plan.items)
        self.stdout.write(f"{n} swaths, {plan.total_bytes / 1e6:.1f} MB -> {opts['output']}")
        if plan.missing:
            self.stdout.write(f"{len(plan.missing)} swaths left out: no VERIFIED copy in any "
                              "configured store")
            for uuid in plan.missing[:20]:
                self.stdout.write(f"  {uuid}")
        if opts["estimate"]:
            variables = [v.strip() for v in str(opts["variables"]).split(",") if v.strip()]
            self.print_estimates(plan.items, opts["bbox"], opts["region"], variables,
                                 str(opts["store"]))
        sys.stdout.flush()

    def print_estimates(self, items: list[dict[str, Any]], bbox: str | None,
                        region: str | None, variables: list[str], store: str) -> None:
        """One line per item (read, written, seconds) and the totals, by subset.costs."""
        if bbox:
            spec = SubsetSpec(parse_bbox(bbox), variables=variables)
        else:
            shape, slug = region_spec(region or "")
            spec = SubsetSpec(shape, slug, variables)
        read = written = 0
        seconds = 0.0
        failed = 0
        for item in items:
            swath = Swath.objects.select_related("collection").get(uuid=item["id"])
            try:
                cost = estimate_swath(swath, spec, store)
            except SubsetError as e:  # SourceGone included: the reason, item by item
                failed += 1
                self.stdout.write(f"  {item['granule_id']}: no estimate: {e}")
                continue
            read, written, seconds = (read + cost.bytes_read, written + cost.bytes_written,
                                      seconds + cost.seconds)
            self.stdout.write(f"  {item['granule_id']}: read {cost.bytes_read / 1e6:.2f} MB, "
                              f"write {cost.bytes_written / 1e6:.2f} MB, {cost.seconds:.1f} s"
                              + (" (no pixel in the region)" if cost.empty else "")
                              + (" (catalog figures)" if cost.basis == "catalog" else ""))
        self.stdout.write(f"estimate: read {read / 1e6:.2f} MB, write {written / 1e6:.2f} MB, "
                          f"{seconds:.1f} s on one rank"
                          + (f"; {failed} items not estimated" if failed else ""))

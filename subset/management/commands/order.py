"""`manage.py order create|list|cancel|resume|backfill`: standing regional orders
(subset.orders)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count

from catalog.models import Region
from eo.argv import accept_negative_values
from eo.times import parse_interval
from subset.orders import (
    ORDER_MAX_AREA_KM2,
    ORDER_MAX_VERTICES,
    backfill_order,
    cancel_order,
    create_order,
    resume_order,
)
from subset.region import parse_bbox, parse_geometry


class Command(BaseCommand):
    help = (
        "Standing regional orders: every swath VERIFIED over an active order's region gets "
        "a subset product, owned by the order's owner. `create SLUG --bbox W,S,E,N` (or "
        "--geometry FILE) places one; `list` shows them with their owner, product count and "
        "problem; `cancel SLUG` stops one and drops its products not yet started "
        "(--delete removes the region too); `resume SLUG` starts again an order stopped "
        "because its region could not be cut, once the region is checked and can be "
        "(refused with the reason otherwise); `backfill SLUG --start T --end T` makes its "
        "products for swaths already archived in that window (rows only: the workers cut "
        "them), and makes nothing twice when run again. A region may have at most "
        f"{ORDER_MAX_VERTICES:,} vertices and cover at most {ORDER_MAX_AREA_KM2:,} km2."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --bbox -10,40,10,50 (a negative west edge) is a value, not an option.
        return accept_negative_values(super().create_parser(prog_name, subcommand, **kwargs))

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = actions.add_parser("create", help="place a standing order")
        create.add_argument("slug", help="the order's handle (lower-case letters, digits, -)")
        area = create.add_mutually_exclusive_group(required=True)
        area.add_argument("--bbox", help="W,S,E,N in degrees; W>E crosses the antimeridian")
        area.add_argument("--geometry", type=Path, help="file holding GeoJSON or WKT")
        create.add_argument("--name", default="", help="a readable name (default: the slug)")
        create.add_argument("--description", default="")
        create.add_argument("--owner", help="username the products belong to (default: "
                                            "none, so only staff can read them)")
        create.add_argument("--collection", action="append", default=[],
                            help="only swaths of this collection (repeatable; default all)")
        create.add_argument("--variables", nargs="+", default=[],
                            help="variables to cut (default: every variable)")

        listing = actions.add_parser("list", help="list orders")
        listing.add_argument("--owner", help="only this user's orders")
        listing.add_argument("--all", action="store_true",
                             help="cancelled orders and shared regions without one too")

        cancel = actions.add_parser("cancel", help="stop an order")
        cancel.add_argument("slug")
        cancel.add_argument("--delete", action="store_true",
                            help="remove the region as well (its products stay)")

        resume = actions.add_parser(
            "resume", help="start again an order stopped because its region could not be "
                           "cut (checked again first)")
        resume.add_argument("slug")

        backfill = actions.add_parser(
            "backfill", help="make an order's products for swaths already archived")
        backfill.add_argument("slug")
        backfill.add_argument("--start", help="swaths observed from this RFC 3339 instant "
                                              "(default: the oldest)")
        backfill.add_argument("--end", help="... up to this one (default: the newest); "
                                             "neither: the whole archive")
        backfill.add_argument("--datetime", help="START/END instead of --start and --end "
                                                 "('..' is open)")
        backfill.add_argument("--batch", type=int, default=2000,
                              help="products written per transaction (default 2000)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, "do_" + opts["action"])(opts)
        except Region.DoesNotExist as e:
            raise CommandError(f"no region {opts.get('slug')!r}") from e
        except ValueError as e:  # OrderError, RegionError and eo's InputError included
            raise CommandError(str(e)) from e

    def do_create(self, opts: dict[str, Any]) -> None:
        if opts["bbox"]:
            region, field = parse_bbox(opts["bbox"], "--bbox"), "--bbox"
        else:
            try:
                text = opts["geometry"].read_text()
            except OSError as e:
                raise CommandError(f"--geometry: {e}") from e
            region, field = parse_geometry(text, "--geometry"), "--geometry"
        owner_id = None
        if opts["owner"]:
            owner_id = _user_id(opts["owner"])
        order = create_order(slug=opts["slug"], name=opts["name"], region=region,
                             owner_id=owner_id, description=opts["description"],
                             collections=opts["collection"], variables=opts["variables"],
                             field=field)
        self.stdout.write(f"order {order.slug} created (owner {opts['owner'] or 'none'}); "
                          f"`manage.py order backfill {order.slug}` gives it the archived "
                          "swaths")

    def do_list(self, opts: dict[str, Any]) -> None:
        rows = Region.objects.select_related("order_owner").annotate(
            n_products=Count("products")).order_by("slug")
        if not opts["all"]:
            rows = rows.filter(order_active=True)
        if opts["owner"]:
            rows = rows.filter(order_owner_id=_user_id(opts["owner"]))
        n = 0
        for row in rows:
            n += 1
            owner = row.order_owner.get_username() if row.order_owner else "-"
            state = ("stopped: " + row.order_problem if row.order_problem
                     else "active" if row.order_active else "no order")
            self.stdout.write(f"{row.slug}\towner={owner}\tproducts={row.n_products}"
                              f"\t{state}")
        self.stdout.write(f"{n} order(s)")

    def do_cancel(self, opts: dict[str, Any]) -> None:
        order = Region.objects.get(slug=opts["slug"])
        dropped = cancel_order(order.pk, delete=opts["delete"])
        self.stdout.write(f"order {order.slug} cancelled{' and deleted' if opts['delete'] else ''}"
                          f"; {dropped} product(s) not yet started dropped")

    def do_resume(self, opts: dict[str, Any]) -> None:
        order = Region.objects.get(slug=opts["slug"])
        stopped = resume_order(order.pk)
        if stopped is None:
            self.stdout.write(f"order {order.slug} is not stopped: nothing to resume")
            return
        # A window by observation time would miss swaths observed before the stop but
        # archived during it: the whole archive, which makes nothing twice.
        self.stdout.write(f"order {order.slug} resumed (stopped since "
                          f"{stopped:%Y-%m-%dT%H:%M:%SZ}); `manage.py order backfill "
                          f"{order.slug}` gives it the swaths archived while it was stopped")

    def do_backfill(self, opts: dict[str, Any]) -> None:
        if opts["datetime"] and (opts["start"] or opts["end"]):
            raise CommandError("give --datetime, or --start and --end, not both")
        start = end = None  # neither given: the whole archive
        if opts["datetime"]:
            start, end = parse_interval(opts["datetime"], "--datetime")
        elif opts["start"] or opts["end"]:
            start, end = parse_interval(f"{opts['start'] or '..'}/{opts['end'] or '..'}",
                                        "--start/--end")
        if opts["batch"] < 1:
            raise CommandError(f"--batch={opts['batch']}: give a positive number")
        order = Region.objects.get(slug=opts["slug"])
        result = backfill_order(order.pk, start, end, batch=opts["batch"])
        waiting = ""
        if result.created:
            waiting = (" (sent to the workers)" if result.sent else
                       " (QUEUED for the web process's worker or `reconcile --apply`)")
        self.stdout.write(f"order {order.slug}: {result.created} product(s) created{waiting}, "
                          f"{result.existing} swath(s) had theirs already, "
                          f"{result.seconds:.1f} s")


def _user_id(username: str) -> int:
    user = get_user_model().objects.filter(username=username).values_list("pk", flat=True)
    if not user:
        raise CommandError(f"--owner: no user {username!r}")
    return int(user[0])

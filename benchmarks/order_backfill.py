"""Backfill of a standing order over 10,000 archived swaths, catalog work only (issue 21).

    .venv/bin/python benchmarks/order_backfill.py --swaths 10000 --repeat 3

In a fresh PostGIS database `swathstore_bench_orders`: `--swaths` VERIFIED swaths (12-vertex
footprints) inside a 10 x 10 degree order region and as many outside it, spread over a
year, then an order owned by a user. Each repeat drops the order's products and times
`subset.orders.backfill_order` over the whole archive (its products made, QUEUED), then
times the same backfill again (it must make nothing). The peer is the per-swath path the
new-swath hook takes (`subset.services.create_order_products`, one swath at a time) over
the same swaths, run once. No broker: products are not sent to workers (cutting is the
workers'), so the figure is the catalog's. Needs PostgreSQL on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchdb import fresh_database

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"
DB = "swathstore_bench_orders"  # its own: other benchmarks keep theirs
PG = "postgis://postgres@127.0.0.1:5432"
REGION = (20.0, 30.0, 30.0, 40.0)  # W, S, E, N


def child(swaths: int, repeat: int, peer: bool) -> dict:
    """Run in a process with Django set up on the benchmark database; return the figures."""
    import hashlib
    import uuid
    from datetime import UTC, datetime, timedelta

    import django

    django.setup()
    import numpy as np
    from django.contrib.auth.models import User
    from django.contrib.gis.geos import MultiPolygon, Polygon

    from catalog.models import Collection, Product, Swath
    from subset.orders import backfill_order, create_order
    from subset.region import bbox_region
    from subset.services import create_order_products

    coll = Collection.objects.create(slug="bench", title="bench")
    rng = np.random.default_rng(7)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)

    def footprint(lon: float, lat: float) -> MultiPolygon:
        x0, x1, y0, y1 = lon - 1, lon + 1, lat - 1, lat + 1
        xs, ys = np.linspace(x0, x1, 4), np.linspace(y0, y1, 4)
        ring = [(x, y0) for x in xs] + [(x1, y) for y in ys[1:]] + [
            (x, y1) for x in xs[::-1][1:]] + [(x0, y) for y in ys[::-1][1:]]
        return MultiPolygon(Polygon(ring), srid=4326)

    w, s, e, n = REGION
    rows = []
    for i in range(2 * swaths):
        inside = i < swaths
        lon = rng.uniform(w + 1, e - 1) if inside else rng.uniform(-170, 10)
        lat = rng.uniform(s + 1, n - 1) if inside else rng.uniform(-60, 20)
        start = t0 + timedelta(seconds=float(rng.uniform(0, 365 * 86400)))
        rows.append(Swath(
            uuid=uuid.uuid4(), collection=coll, granule_id=f"B{i:07d}.nc",
            filename=f"B{i:07d}.nc", footprint=footprint(lon, lat), start_time=start,
            end_time=start + timedelta(minutes=5), state="VERIFIED", size=50_000_000,
            sha256=hashlib.sha256(i.to_bytes(8, "little")).hexdigest(), verified_at=start))
    Swath.objects.bulk_create(rows, batch_size=5000)
    owner = User.objects.create_user("bench")
    order = create_order(slug="bench", name="bench", region=bbox_region(*REGION),
                         owner_id=owner.pk, variables=["sea_surface_temperature"])

    first, again = [], []
    for _ in range(repeat):
        Product.objects.all().delete()
        result = backfill_order(order.pk)
        assert result.created == swaths, result
        first.append(result.seconds)
        rerun = backfill_order(order.pk)
        assert rerun.created == 0 and rerun.existing == swaths, rerun
        again.append(rerun.seconds)
    figures = {"swaths_in_region": swaths, "swaths_total": 2 * swaths,
               "backfill_s": first, "rerun_s": again}
    if peer:
        import subset.services

        # The hook queues each product's cut on commit; here nothing is sent (no workers),
        # so that both sides are the catalog's work alone.
        subset.services.sender = lambda product_id: None
        Product.objects.all().delete()
        ids = list(Swath.objects.filter(footprint__intersects=order.geometry)
                   .values_list("pk", flat=True))
        started = time.perf_counter()
        made = sum(len(create_order_products(pk)) for pk in ids)
        figures["per_swath_hook_s"] = time.perf_counter() - started
        assert made == swaths, made
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--swaths", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-peer", action="store_true", help="skip the per-swath path")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.swaths, args.repeat, not args.no_peer)))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": f"{PG}/{DB}", "VAR_DIR": str(OUT / "var"),
           "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(REPO),
           "CELERY_BROKER_URL": "", "STORE_URL": ""}
    fresh_database(DB, env)
    load = os.getloadavg()
    argv = [sys.executable, __file__, "--child", "--swaths", str(args.swaths),
            "--repeat", str(args.repeat)] + (["--no-peer"] if args.no_peer else [])
    done = subprocess.run(argv, cwd=REPO, env=env, check=True, capture_output=True, text=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    figures.update(load_before=load, load_after=os.getloadavg(), commit=commit,
                   date=time.strftime("%Y-%m-%d %H:%M", time.gmtime()))
    (OUT / "order_backfill.json").write_text(json.dumps(figures, indent=2))
    print(f"backfill of {args.swaths:,} swaths (of {2 * args.swaths:,}): "
          f"median {statistics.median(figures['backfill_s']):.2f} s "
          f"({', '.join(f'{s:.2f}' for s in figures['backfill_s'])}); "
          f"re-run {statistics.median(figures['rerun_s']):.2f} s, nothing made")
    if "per_swath_hook_s" in figures:
        print(f"per-swath hook over the same swaths: {figures['per_swath_hook_s']:.2f} s")
    print(f"load average {load[0]:.2f} before, {figures['load_after'][0]:.2f} after; "
          f"commit {commit}")


if __name__ == "__main__":
    main()

"""Swaths with coverage blobs for the valid-fraction search tests (PostGIS and SpatiaLite).

Each row's coverage is built as ingest would store it (ingest.coverage.Coverage over the
H3 cells its footprint touches), with per-cell valid fractions drawn from a seeded
generator around a per-swath level, so the swaths' fractions over a region spread over
0..1. Some rows have no coverage (NULL), one has its pixels far from its footprint (no
pixel over any region near it), and a few lie across the antimeridian.

`brute_force` is the oracle: the fraction of every row, computed one by one from its blob
with ingest.coverage's estimator, outside any search code.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from shapely.geometry import box

from catalog.geometry import bbox_geometry
from catalog.models import Collection, Swath
from ingest.coverage import Coverage, region_fraction, region_weights, whole_fraction

T0 = datetime(2024, 3, 1, tzinfo=UTC)
COLLECTION = "cover"
RES = 3


def blob(area: Any, level: float, rnd: random.Random) -> bytes:
    """A coverage blob over `area` (shapely, lon/lat): fractions near `level` per cell."""
    # region_weights also names the finer children of cells the area only partly covers.
    cells = np.array(sorted(c for c in region_weights(area, RES) if (c >> 52) & 0xF == RES),
                     dtype=np.uint64)
    total = np.array([rnd.uniform(100, 5000) for _ in cells])
    frac = np.clip([level + rnd.uniform(-0.35, 0.35) for _ in cells], 0, 1)
    return Coverage(RES, cells, frac * total, total).encode()


def make_rows(n: int = 40, seed: int = 7) -> list[str]:
    """Write the rows (VERIFIED, collection COLLECTION); return their uuids."""
    rnd = random.Random(seed)
    coll = Collection.objects.get_or_create(slug=COLLECTION, defaults={"title": COLLECTION})[0]
    specs: list[tuple[Any, bytes | None]] = []
    for i in range(n):
        w, s = rnd.uniform(-15, 25), rnd.uniform(-15, 25)
        fp = bbox_geometry(w, s, w + rnd.uniform(6, 14), s + rnd.uniform(6, 14))
        cov = None if i % 13 == 5 else blob(_shape(fp), rnd.random(), rnd)
        specs.append((fp, cov))
    for i in range(4):  # across +-180: footprint and cells both sides
        fp = bbox_geometry(168 + i, -6, -172 + i, 6)
        specs.append((fp, blob(_shape(fp), 0.2 + 0.2 * i, rnd)))
    # Its pixels lie elsewhere (a footprint that overstates the swath): none over the box.
    specs.append((bbox_geometry(0, 0, 10, 10), blob(box(100, 50, 110, 60), 0.9, rnd)))
    uuids = []
    for i, (fp, cov) in enumerate(specs):
        start = T0 + timedelta(hours=3 * i)
        s = Swath.objects.create(
            collection=coll, granule_id=f"C{i:03d}.nc", filename=f"C{i:03d}.nc", footprint=fp,
            start_time=start, end_time=start + timedelta(minutes=5), state="VERIFIED",
            size=1000 + i, sha256=f"{i:064x}", coverage=cov)
        uuids.append(str(s.uuid))
    return uuids


def _shape(geom: Any) -> Any:
    return shapely.from_wkb(bytes(geom.wkb))


def region_of(bbox: list[float] | None = None, geojson: dict | None = None) -> Any:
    """A search's region as the oracle reads it (None: the whole swath)."""
    if bbox is not None:
        return _shape(bbox_geometry(*bbox))
    if geojson is not None:
        return shapely.geometry.shape(geojson)
    return None


def brute_force(region: Any, lo: float | None = None, hi: float | None = None,
                start: datetime | None = None, end: datetime | None = None
                ) -> dict[str, float | None]:
    """{uuid: fraction} of every row whose footprint meets the region (and [start, end]),
    its fraction within [lo, hi] when either is given (unknown and None never pass)."""
    out: dict[str, float | None] = {}
    for s in Swath.objects.all():
        if region is not None and (s.footprint is None or not _shape(s.footprint).intersects(
                region)):
            continue
        if (start and s.end_time < start) or (end and s.start_time > end):
            continue
        f = None
        if s.coverage is not None:
            cov = Coverage.decode(bytes(s.coverage))
            f = whole_fraction(cov) if region is None else region_fraction(
                cov, region_weights(region, cov.resolution))
        bounded = lo is not None or hi is not None
        if bounded and (f is None or (lo is not None and f < lo) or (hi is not None and f > hi)):
            continue
        out[str(s.uuid)] = f
    return out

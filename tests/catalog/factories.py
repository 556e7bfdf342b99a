"""Named sample rows for catalog tests, built by code."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from itertools import count

from django.contrib.gis.geos import MultiPolygon, Polygon

from catalog.geometry import bbox_geometry
from catalog.models import Collection, Swath, SwathState

_seq = count(1)


def collection(slug: str = "modis-aqua-l2") -> Collection:
    return Collection.objects.get_or_create(slug=slug, defaults={"title": slug})[0]


def swath(
    footprint: MultiPolygon | Polygon | None,
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC),
    minutes: int = 5,
    state: str = SwathState.VERIFIED,
    coll: Collection | None = None,
    **fields: object,
) -> Swath:
    n = next(_seq)
    if isinstance(footprint, Polygon):
        footprint = MultiPolygon(footprint, srid=4326)
    return Swath.objects.create(
        collection=coll or collection(),
        granule_id=fields.pop("granule_id", f"G{n:06d}.nc"),
        filename=f"G{n:06d}.nc",
        footprint=footprint,
        start_time=start,
        end_time=start + timedelta(minutes=minutes),
        state=state,
        size=1000 + n,
        sha256=fields.pop("sha256", hashlib.sha256(f"swath-{n}".encode()).hexdigest()),
        **fields,
    )


def box(west: float, south: float, east: float, north: float) -> MultiPolygon:
    return bbox_geometry(west, south, east, north)


def manifest_line(i: int, **over: object) -> str:
    """Line `i` of a registration manifest (catalog.bulkload): a 1-degree box at i % 170."""
    doc = {
        "granule_id": f"G{i:05d}.nc", "key": f"swaths/legacy/{i}", "size": 100 + i,
        "sha256": hashlib.sha256(str(i).encode()).hexdigest(), "codec": "none",
        "start_time": "2024-01-01T00:00:00+00:00", "end_time": "2024-01-01T00:05:00+00:00",
        "footprint": {"type": "Polygon",
                      "coordinates": [[[i % 170, 0], [i % 170 + 1, 0], [i % 170 + 1, 1],
                                       [i % 170, 1], [i % 170, 0]]]},
        "platform": "Aqua", "orbit": 1000 + i,
    }
    doc.update(over)
    return json.dumps(doc)

"""Collection extents, cached briefly: an aggregate over millions of rows is not per-request."""

from __future__ import annotations

from typing import Any

from django.contrib.gis.db.models import Extent
from django.core.cache import cache
from django.db.models import Max, Min

from api.stac.itemdef import iso
from catalog.models import Collection, Swath, SwathState

TTL_S = 300


def collection_extent(coll: Collection) -> dict[str, Any]:
    """STAC extent of a collection's VERIFIED swaths (whole globe when empty)."""
    key = f"stac-extent:{coll.pk}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    agg = Swath.objects.filter(collection=coll, state=SwathState.VERIFIED).aggregate(
        t0=Min("start_time"), t1=Max("end_time"), box=Extent("footprint"))
    box = list(agg["box"]) if agg["box"] else [-180.0, -90.0, 180.0, 90.0]
    extent = {
        "spatial": {"bbox": [box]},
        "temporal": {"interval": [[iso(agg["t0"]), iso(agg["t1"])]]},
    }
    cache.set(key, extent, TTL_S)
    return extent

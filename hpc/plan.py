"""Plan a batch job from the catalog: one manifest item per VERIFIED swath over a region.

Runs where the database is (a login node, the service host); the compute nodes then
need only the manifest. Items point at the VERIFIED copy of each swath in one store
(``store_url`` + ``key``), else at its first VERIFIED copy elsewhere, and list its other
VERIFIED copies in configured stores as ``replicas``, which a rank reads when the first
copy is missing or fails its hash (hpc.sources); credentials are never written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Prefetch

from catalog.copies import read_order
from catalog.models import Region, StoredObject, Swath
from hpc.manifest import now_iso
from subset.region import parse_bbox


@dataclass
class Plan:
    """The planned items and the swaths left out (no verified copy in the store)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # uuids: no verified copy anywhere

    @property
    def total_bytes(self) -> int:
        """Return the sum of the planned swaths' sizes."""
        return sum(i.get("size") or 0 for i in self.items)


def plan_from_catalog(*, bbox: str | None = None, region: str | None = None,
                      start: datetime | None = None, end: datetime | None = None,
                      collections: list[str] | None = None, store: str = "primary") -> Plan:
    """Return the plan for VERIFIED swaths over a bbox or named region and a time window.

    Raises Region.DoesNotExist for an unknown slug, RegionError for a bad bbox,
    KeyError for a store that is not configured.
    """
    if store not in settings.ARCHIVE_STORES:
        raise KeyError(f"no store named {store!r} is configured")
    qs = Swath.objects.verified().select_related("collection")
    if bbox:
        west, south, east, north = parse_bbox(bbox).bbox or (0.0, 0.0, 0.0, 0.0)
        qs = qs.in_bbox(west, south, east, north)
        spec: dict[str, Any] = {"bbox": bbox}
    elif region:
        row = Region.objects.only("geometry").get(slug=region)
        qs = qs.in_region(region)
        spec = {"slug": region, "wkt": row.geometry.wkt}
    else:
        raise ValueError("give a bbox or a region")
    qs = qs.between(start, end)
    if collections:
        qs = qs.filter(collection__slug__in=collections)
    stores = settings.ARCHIVE_STORES
    copies = StoredObject.objects.filter(state=StoredObject.State.VERIFIED,
                                         store__in=list(stores))
    qs = qs.order_by("start_time", "id").prefetch_related(
        Prefetch("copies", queryset=copies.order_by("pk"), to_attr="verified_copies"))
    planned = now_iso()
    plan = Plan()
    for swath in qs.iterator(chunk_size=2000):
        ordered = sorted(swath.verified_copies, key=lambda c: read_order(c, store))
        if not ordered:
            plan.missing.append(str(swath.uuid))
            continue
        copy, others = ordered[0], ordered[1:]
        plan.items.append({
            "id": str(swath.uuid), "granule_id": swath.granule_id,
            "collection": swath.collection.slug, "format": swath.format,
            "size": swath.size, "sha256": swath.sha256, "codec": copy.codec,
            "stored_size": copy.stored_size, "store": copy.store,
            "store_url": stores[copy.store], "key": copy.key,
            **({"replicas": [{"store": c.store, "store_url": stores[c.store], "key": c.key,
                              "codec": c.codec, "stored_size": c.stored_size}
                             for c in others]} if others else {}),
            "start_time": swath.start_time.isoformat() if swath.start_time else None,
            "end_time": swath.end_time.isoformat() if swath.end_time else None,
            "region": spec, "planned": planned,
            **index_entry(swath, stores),
        })
    return plan


def index_entry(swath: Swath, stores: dict[str, str]) -> dict[str, Any]:
    """Return ``{"chunk_index": record}`` for a swath whose chunk index is in a configured
    store (its URL added, as for copies), so a rank reads only the region's chunks; else {}.
    The rank checks the document's SHA-256 and the object it names (subset.indexgeo)."""
    record = (swath.attrs or {}).get("chunk_index")
    if not isinstance(record, dict) or record.get("store") not in stores:
        return {}
    if record.get("object_sha256") != swath.sha256:
        return {}
    keep = ("store", "key", "size", "sha256", "object_sha256", "format")
    return {"chunk_index": {**{k: record[k] for k in keep if k in record},
                            "store_url": stores[record["store"]]}}

"""Swaths as GeoJSON Features, the REST API's one renderer: search pages and single swaths.

Built from `.values()` rows whose footprint PostGIS (or SpatiaLite) has already turned
into GeoJSON text. The serializers in api.serializers are the schema only: their
per-row GEOS -> OGR -> JSON conversion and DRF's per-field machinery were about four
fifths of a page's time, which capped the REST list at about 13 requests a second on
two cores (docs/BENCHMARKS.md, "Load").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from django.contrib.gis.db.models.functions import AsGeoJSON
from django.db.models import QuerySet

from api.renderers import COORD_DECIMALS
from api.serializers import StoredCopySerializer, SwathDetailSerializer, SwathFeatureSerializer
from api.stac.itemdef import MEDIA_TYPES, REFERENCES_TYPE
from catalog.models import StoredObject, Swath, SwathState

# The serializer's field list, so the schema and the output keep the same properties in
# the same order; "collection" is the related slug, the id field is the Feature's id.
_ID = SwathFeatureSerializer.Meta.id_field
PROPERTIES = tuple(f for f in SwathFeatureSerializer.Meta.fields if f != _ID)
_DETAIL = tuple(f for f in SwathDetailSerializer.Meta.fields if f not in PROPERTIES + (_ID,))
_COLUMN = {"collection": "collection__slug"}
_TIMES = frozenset({"start_time", "end_time", "created_at", "verified_at"})
# What a page's value rows hold: the properties, plus what paging needs ("id" and the
# sort columns, see api.paging.encode) and the footprint as GeoJSON text.
FEATURE_COLUMNS = tuple(dict.fromkeys(
    ["id", _ID, *(_COLUMN.get(f, f) for f in PROPERTIES), "updated_at", "fp_geojson"]))


def page_rows(qs: QuerySet) -> QuerySet:
    """The queryset a search page's value rows come from (footprint as GeoJSON text)."""
    return qs.annotate(fp_geojson=AsGeoJSON("footprint", precision=COORD_DECIMALS))


def _time(value: datetime | None) -> str | None:
    # DRF's DateTimeField output: ISO 8601 in the current zone (UTC), +00:00 as Z.
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def feature(row: dict[str, Any]) -> dict[str, Any]:
    """One value row (FEATURE_COLUMNS) as a GeoJSON Feature.

    A search on the valid fraction (api.coverage) adds "valid_fraction" to its rows:
    the fraction over the search's region, a property of this answer only.
    """
    geojson = row["fp_geojson"]
    props = {f: _time(row[f]) if f in _TIMES else row[_COLUMN.get(f, f)] for f in PROPERTIES}
    if "valid_fraction" in row:
        props["valid_fraction"] = row["valid_fraction"]
    return {
        "id": str(row[_ID]),
        "type": "Feature",
        "geometry": orjson.loads(geojson) if geojson else None,
        "properties": props,
    }


def feature_collection(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A FeatureCollection of value rows."""
    return {"type": "FeatureCollection", "features": [feature(r) for r in rows]}


def detail(uuid: str, url: Callable[[str], str]) -> dict[str, Any]:
    """The Feature of one swath, any state, with SwathDetailSerializer's extra properties
    (``url`` makes a path on this server absolute).

    Raises Swath.DoesNotExist (a 404) for an unknown or malformed uuid.
    """
    try:
        uid = UUID(uuid)
    except ValueError as e:
        raise Swath.DoesNotExist(f"no swath {uuid!r}") from e
    row = page_rows(Swath.objects.filter(uuid=uid)).values(
        *FEATURE_COLUMNS, "failure_reason", "footprint_warning", "attrs").first()
    if row is None:
        raise Swath.DoesNotExist(f"no swath {uuid!r}")
    out = feature(row)
    # Failed and abandoned attempts are history, not copies; the primary store first.
    copies = [c for c in StoredObject.objects.filter(swath_id=row["id"])
              if c.state != StoredObject.State.FAILED]
    copies.sort(key=lambda c: (c.store != "primary", c.store, c.pk))
    # failure_reason: why a swath is LOST (ops.heal) or FAILED; empty when VERIFIED.
    extra = {"failure_reason": row["failure_reason"],
             "footprint_warning": row["footprint_warning"],
             "footprint_source": footprint_source(row["attrs"]),
             "copies": StoredCopySerializer(copies, many=True).data,
             "links": links(row, url)}
    out["properties"].update((f, extra[f]) for f in _DETAIL)
    return out


def links(row: dict[str, Any], url: Callable[[str], str]) -> list[dict[str, str]]:
    """What a VERIFIED swath serves: its bytes, its quicklook, its chunk references.

    The same conditions as the STAC item's assets (api.stac.itemdef): references only
    while they describe the object the swath holds (api.references serves no others).
    """
    if row["state"] != SwathState.VERIFIED:
        return []
    base = f"/api/v1/swaths/{row[_ID]}"
    media = MEDIA_TYPES.get((row["format"] or "").lower(), "application/octet-stream")
    out = [{"rel": "data", "href": url(f"{base}/download"), "type": media}]
    attrs = row["attrs"] or {}
    look, refs = attrs.get("quicklook"), attrs.get("chunk_index")
    if isinstance(look, dict) and look.get("key"):
        out.append({"rel": "quicklook", "href": url(f"{base}/quicklook.png"),
                    "type": "image/png"})
    if isinstance(refs, dict) and refs.get("key") and row["sha256"] and \
            refs.get("object_sha256") == row["sha256"]:
        out.append({"rel": "references", "href": url(f"{base}/references.json"),
                    "type": REFERENCES_TYPE})
    return out


def footprint_source(attrs: dict[str, Any] | None) -> dict[str, Any]:
    """The footprint's geolocation account from a swath's attrs (older rows: pairs only)."""
    geo = (attrs or {}).get("geolocation") or {}
    pairs = geo.get("pairs")
    if pairs is None and geo.get("lat"):
        pairs = [{"lat": geo["lat"], "lon": geo.get("lon"), "kind": geo.get("kind"),
                  "shape": geo.get("shape") or []}]
    return {"rule": geo.get("rule"), "pairs": pairs or [], "set_aside": geo.get("set_aside") or [],
            "warnings": geo.get("warnings") or [], "notes": geo.get("notes") or []}

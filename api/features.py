"""Pages of REST swath search results as GeoJSON Features, built from value rows.

`SwathFeatureSerializer` stays the schema and renders single swaths; a search page is
built here instead, from `.values()` rows whose footprint PostGIS has already turned
into GeoJSON text. The serializer's per-row GEOS -> OGR -> JSON conversion and DRF's
per-field machinery were about four fifths of a page's time, which capped the REST
list at about 13 requests a second on two cores (docs/BENCHMARKS.md, "Load").
tests/api/test_features.py checks that both give equal features.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from django.contrib.gis.db.models.functions import AsGeoJSON
from django.db.models import QuerySet

# Every property of SwathFeatureSerializer, plus what paging needs ("id" and the sort
# columns come from the values, see api.paging.encode).
FEATURE_COLUMNS = (
    "id", "uuid", "collection__slug", "granule_id", "version", "filename", "format",
    "platform", "instrument", "orbit", "orbit_direction", "start_time", "end_time",
    "is_empty", "size", "sha256", "state", "created_at", "updated_at", "verified_at",
    "fp_geojson",
)
# 15 decimals: PostGIS then writes the shortest text that reads back as the same double.
_PRECISION = 15


def page_rows(qs: QuerySet) -> QuerySet:
    """The queryset a search page's value rows come from (footprint as GeoJSON text)."""
    return qs.annotate(fp_geojson=AsGeoJSON("footprint", precision=_PRECISION))


def _time(value: datetime | None) -> str | None:
    # DRF's DateTimeField output: ISO 8601 in the current zone (UTC), +00:00 as Z.
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def feature(row: dict[str, Any]) -> dict[str, Any]:
    """One value row as the Feature SwathFeatureSerializer would give."""
    geojson = row["fp_geojson"]
    return {
        "id": str(row["uuid"]),
        "type": "Feature",
        "geometry": orjson.loads(geojson) if geojson else None,
        "properties": {
            "collection": row["collection__slug"],
            "granule_id": row["granule_id"],
            "version": row["version"],
            "filename": row["filename"],
            "format": row["format"],
            "platform": row["platform"],
            "instrument": row["instrument"],
            "orbit": row["orbit"],
            "orbit_direction": row["orbit_direction"],
            "start_time": _time(row["start_time"]),
            "end_time": _time(row["end_time"]),
            "is_empty": row["is_empty"],
            "size": row["size"],
            "sha256": row["sha256"],
            "state": row["state"],
            "created_at": _time(row["created_at"]),
            "verified_at": _time(row["verified_at"]),
        },
    }


def feature_collection(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A FeatureCollection of value rows, as SwathFeatureSerializer(many=True).data."""
    return {"type": "FeatureCollection", "features": [feature(r) for r in rows]}

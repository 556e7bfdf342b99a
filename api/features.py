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

from api.renderers import COORD_DECIMALS
from api.serializers import SwathFeatureSerializer

# The serializer's own field list, so both renderers keep the same properties in the
# same order; "collection" is the related slug, the id field is the Feature's id.
_ID = SwathFeatureSerializer.Meta.id_field
PROPERTIES = tuple(f for f in SwathFeatureSerializer.Meta.fields if f != _ID)
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
    """One value row as the Feature SwathFeatureSerializer would give."""
    geojson = row["fp_geojson"]
    return {
        "id": str(row[_ID]),
        "type": "Feature",
        "geometry": orjson.loads(geojson) if geojson else None,
        "properties": {
            f: _time(row[f]) if f in _TIMES else row[_COLUMN.get(f, f)] for f in PROPERTIES
        },
    }


def feature_collection(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A FeatureCollection of value rows, as SwathFeatureSerializer(many=True).data."""
    return {"type": "FeatureCollection", "features": [feature(r) for r in rows]}

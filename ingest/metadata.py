"""SwathMetadata: what a reader learns about one granule (no Django, JSON round-trip)."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon

FORMATS = ("netcdf3", "netcdf4", "hdf5", "hdfeos5", "gdal")
MAX_ATTR_CHARS = 1024
MAX_ATTR_ITEMS = 64


def json_safe(value: Any, max_chars: int = MAX_ATTR_CHARS) -> Any:
    """Return a JSON-serialisable version of an attribute value, truncated to a sane size."""
    if isinstance(value, bytes | np.bytes_):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value if len(value) <= max_chars else value[:max_chars] + "...[truncated]"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int) or value is None:
        return value
    if isinstance(value, np.ndarray | list | tuple):
        items = list(np.asarray(value).reshape(-1)[:MAX_ATTR_ITEMS]) if isinstance(
            value, np.ndarray) else list(value)[:MAX_ATTR_ITEMS]
        return [json_safe(v, max_chars) for v in items]
    if isinstance(value, dict):
        return {str(k): json_safe(v, max_chars) for k, v in value.items()}
    return json_safe(str(value), max_chars)


@dataclass
class SwathMetadata:
    """Metadata of one swath granule; footprint in lon/lat (EPSG:4326), times aware UTC."""

    path: str
    format: str
    start_time: datetime | None
    end_time: datetime | None
    time_source: str | None  # "data" or "attribute fallback"; None if no time was found
    footprint: MultiPolygon | None
    is_empty: bool
    n_valid_points: int
    geolocation: dict[str, Any]
    platform: str | None = None
    instrument: str | None = None
    orbit: int | None = None
    orbit_direction: str | None = None  # "ascending", "descending" or None (mixed/unknown)
    # What eo.identify found (STAC names: lowercase platform, constellation...).
    constellation: str | None = None
    processing_level: str | None = None  # "L1B", "L2", "L2P"...
    relative_orbit: int | None = None
    orbit_cycle: int | None = None
    pass_number: int | None = None
    # Longitude (-180..180) where the granule's pass or orbit crosses the equator: as the
    # file states it, else the track's one crossing, else extrapolated along a 1-D
    # track's orbit (ingest.orbitnode); None when none of these tells.
    equator_crossing_longitude: float | None = None
    granule_id: str | None = None
    # Valid-pixel counts of the main variable per H3 cell (ingest.coverage blob), or None;
    # geolocation["coverage"] says what it was measured on, or why there is none.
    coverage: bytes | None = None
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    global_attrs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (datetimes ISO 8601, footprint as GeoJSON)."""
        out = asdict(self)
        out["start_time"] = self.start_time.isoformat() if self.start_time else None
        out["end_time"] = self.end_time.isoformat() if self.end_time else None
        out["footprint"] = (json.loads(shapely.to_geojson(self.footprint))
                            if self.footprint is not None else None)
        out["variables"] = json_safe(self.variables)
        out["global_attrs"] = json_safe(self.global_attrs)
        out["geolocation"] = json_safe(self.geolocation)
        out["coverage"] = base64.b64encode(self.coverage).decode("ascii") if self.coverage \
            else None
        return out

    def to_json(self) -> str:
        """Return the metadata as a JSON document."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SwathMetadata:
        """Return metadata rebuilt from :meth:`to_dict` output."""
        data = dict(data)
        for key in ("start_time", "end_time"):
            data[key] = datetime.fromisoformat(data[key]) if data.get(key) else None
        if data.get("footprint"):
            geom = shapely.from_geojson(json.dumps(data["footprint"]))
            data["footprint"] = geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])
        else:
            data["footprint"] = None
        data["coverage"] = base64.b64decode(data["coverage"]) if data.get("coverage") else None
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> SwathMetadata:
        """Return metadata rebuilt from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))

"""Swath rows as STAC 1.0 Items, collections as STAC Collections.

Items are built as plain dicts from rows whose footprint comes out of the
database already as GeoJSON text (AsGeoJSON), so a page of 100 items costs no
GEOS object per row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from catalog.models import Collection

STAC_VERSION = "1.0.0"
# sat v1.1.0 is the first with sat:orbit_cycle.
SAT_EXT = "https://stac-extensions.github.io/sat/v1.1.0/schema.json"
FILE_EXT = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
EO_EXT = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
PROCESSING_EXT = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
MEDIA_TYPES = {
    "netcdf4": "application/x-netcdf", "netcdf3": "application/x-netcdf",
    "netcdf": "application/x-netcdf", "nc": "application/x-netcdf",
    "hdf5": "application/x-hdf5", "h5": "application/x-hdf5", "hdf4": "application/x-hdf",
    "hdf": "application/x-hdf",
}
ORBIT_STATES = {"ascending", "descending", "geostationary"}
GEOJSON = "application/geo+json"

Url = Callable[[str], str]  # path -> absolute URL


def iso(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, as STAC wants."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


class Raw:
    """GeoJSON text from the database, spliced into the response as it is (see dumps)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_MARK = '"\\u0000"'  # how json.dumps writes the placeholder "\x00"


def dumps(body: Any) -> str:
    """json.dumps that writes Raw values verbatim instead of parsing and re-encoding them.

    Each Raw becomes the placeholder string "\x00" (PostgreSQL text cannot hold NUL,
    so no stored value produces it); the placeholders are then replaced in order.
    If their count does not add up, fall back to the plain (slower) way.
    """
    raws: list[str] = []

    def default(o: object) -> object:
        if isinstance(o, Raw):
            raws.append(o.text)
            return "\x00"
        raise TypeError(f"{type(o).__name__} is not JSON serializable")

    text = json.dumps(body, separators=(",", ":"), default=default)
    if not raws:
        return text
    parts = text.split(_MARK)
    if len(parts) != len(raws) + 1:
        return json.dumps(body, separators=(",", ":"),
                          default=lambda o: json.loads(o.text) if isinstance(o, Raw) else None)
    out = [parts[0]]
    for raw, part in zip(raws, parts[1:], strict=True):
        out += [raw, part]
    return "".join(out)


def bbox_from_box2d(box2d: str | None, geojson: str | None) -> list[float] | None:
    """STAC bbox from FootprintBox's text (Box2D's form, numbers already rounded to
    api.renderers.COORD_DECIMALS by the database); footprints touching both +-180 are looked at
    part by part, since they may cross the antimeridian.

    >>> bbox_from_box2d("BOX(10 -5,20.5 5)", None)
    [10.0, -5.0, 20.5, 5.0]
    """
    if not box2d:
        return None
    lo, hi = box2d[4:-1].split(",")
    west, south = (float(v) for v in lo.split())
    east, north = (float(v) for v in hi.split())
    if west <= -180 and east >= 180 and geojson:
        return bbox_of(json.loads(geojson))
    return [west, south, east, north]


def bbox_of(geometry: dict | None) -> list[float] | None:
    """The bbox of a footprint split at +-180; west > east when it crosses the antimeridian.

    >>> east = [[[170, 0], [180, 0], [180, 5], [170, 0]]]
    >>> west = [[[-180, 0], [-175, 0], [-180, 5], [-180, 0]]]
    >>> bbox_of({"type": "MultiPolygon", "coordinates": [east, west]})
    [170, 0, -175, 5]
    """
    if not geometry:
        return None
    polys = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [
        geometry["coordinates"]]
    boxes = []
    for poly in polys:
        xs = [p[0] for p in poly[0]]
        ys = [p[1] for p in poly[0]]
        boxes.append((min(xs), min(ys), max(xs), max(ys)))
    south, north = min(b[1] for b in boxes), max(b[3] for b in boxes)
    east_parts = [b for b in boxes if b[2] >= 180 and b[0] > -180]
    west_parts = [b for b in boxes if b[0] <= -180 and b[2] < 180]
    if east_parts and west_parts and not any(b[0] <= -180 and b[2] >= 180 for b in boxes):
        # Pieces on both sides of the antimeridian: a crossing bbox unless the pieces
        # on one side reach past the other's edge (then the plain one is smaller).
        west = min(b[0] for b in boxes if b[0] > -180)
        east = max(b[2] for b in boxes if b[2] < 180)
        if west > east:
            return [west, south, east, north]
    return [min(b[0] for b in boxes), south, max(b[2] for b in boxes), north]


# The columns a page of items is rendered from (run_search(columns=...) returns dicts).
ITEM_COLUMNS = (
    "id", "uuid", "collection__slug", "granule_id", "version", "filename", "format",
    "platform", "constellation", "instrument", "processing_level", "orbit", "orbit_direction",
    "relative_orbit", "orbit_cycle", "pass_number", "start_time", "end_time", "size",
    "sha256", "created_at", "updated_at", "fp_geojson", "fp_box", "cloud_cover", "quicklook",
)


def _count(value: int | None) -> bool:
    """An orbit, cycle or pass number STAC takes (the sat extension wants >= 1)."""
    return value is not None and value >= 1


def item(row: dict[str, Any], url: Url) -> dict[str, Any]:
    """One swath row (a dict of ITEM_COLUMNS) as a STAC Item."""
    geojson = row["fp_geojson"]
    slug = row["collection__slug"]
    uid = str(row["uuid"])
    start = iso(row["start_time"])
    props: dict[str, Any] = {
        "datetime": start,
        "start_datetime": start,
        "end_datetime": iso(row["end_time"]) or start,
        "title": row["granule_id"],
        "created": iso(row["created_at"]),
        "updated": iso(row["updated_at"]),
    }
    if row["platform"]:
        props["platform"] = row["platform"]
    if row["constellation"]:
        props["constellation"] = row["constellation"]
    if row["instrument"]:
        props["instruments"] = [row["instrument"]]
    if row["processing_level"]:
        props["processing:level"] = row["processing_level"]
    extensions = [FILE_EXT]
    if _count(row["orbit"]):
        props["sat:absolute_orbit"] = row["orbit"]
    if _count(row["relative_orbit"]):
        props["sat:relative_orbit"] = row["relative_orbit"]
    if _count(row["orbit_cycle"]):
        props["sat:orbit_cycle"] = row["orbit_cycle"]
    direction = (row["orbit_direction"] or "").lower()
    if direction in ORBIT_STATES:
        props["sat:orbit_state"] = direction
    if _count(row["pass_number"]):
        props["swathstore:pass"] = row["pass_number"]  # the sat extension has no pass
    if "processing:level" in props:
        extensions.insert(0, PROCESSING_EXT)
    if any(key.startswith("sat:") for key in props):
        extensions.insert(0, SAT_EXT)
    cloud = row.get("cloud_cover")
    if isinstance(cloud, int | float) and not isinstance(cloud, bool) and 0 <= cloud <= 100:
        props["eo:cloud_cover"] = cloud
        extensions.append(EO_EXT)
    props["swathstore:version"] = row["version"]
    item_path = f"collections/{slug}/items/{uid}"
    bbox = bbox_from_box2d(row["fp_box"], geojson)
    data: dict[str, Any] = {
        "href": url(f"/api/v1/swaths/{uid}/download"),
        "type": MEDIA_TYPES.get((row["format"] or "").lower(), "application/octet-stream"),
        "title": row["filename"],
        "roles": ["data"],
    }
    if row["size"] is not None:
        data["file:size"] = row["size"]
    if row["sha256"]:
        data["file:checksum"] = "1220" + row["sha256"]  # multihash: sha2-256, 32 bytes
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": extensions,
        "id": uid,
        "collection": slug,
        "geometry": Raw(geojson) if geojson else None,
        # No footprint, no bbox: the item schema allows it absent, never null.
        **({"bbox": bbox} if bbox is not None else {}),
        "properties": props,
        "links": [
            {"rel": "self", "type": GEOJSON, "href": url(f"/stac/{item_path}")},
            {"rel": "parent", "type": "application/json", "href": url(f"/stac/collections/{slug}")},
            {"rel": "collection", "type": "application/json",
             "href": url(f"/stac/collections/{slug}")},
            {"rel": "root", "type": "application/json", "href": url("/stac/")},
        ],
        "assets": {"data": data, **quicklook_asset(row.get("quicklook"), uid, url)},
    }


def quicklook_asset(look: object, uid: str, url: Url) -> dict[str, Any]:
    """{"quicklook": asset} when the swath has a quicklook (attrs["quicklook"]), else {}.

    >>> quicklook_asset({"key": "quicklooks/a/b.png", "variable": "/sst"}, "a", lambda p: p)
    {'quicklook': {'href': '/api/v1/swaths/a/quicklook.png', 'type': 'image/png', \
'roles': ['overview'], 'title': 'Quicklook of /sst'}}
    >>> quicklook_asset(None, "a", lambda p: p)
    {}
    """
    if not isinstance(look, dict) or not look.get("key"):
        return {}
    variable = look.get("variable")
    return {"quicklook": {
        "href": url(f"/api/v1/swaths/{uid}/quicklook.png"),
        "type": "image/png",
        "roles": ["overview"],
        "title": f"Quicklook of {variable}" if variable else "Quicklook",
    }}


def collection(coll: Collection, url: Url, extent: dict[str, Any]) -> dict[str, Any]:
    """A catalog Collection as a STAC Collection."""
    base = f"/stac/collections/{coll.slug}"
    out: dict[str, Any] = {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "id": coll.slug,
        "title": coll.title,
        "description": coll.description or coll.title,
        "license": coll.license or "proprietary",
        "extent": extent,
        "links": [
            {"rel": "self", "type": "application/json", "href": url(base)},
            {"rel": "root", "type": "application/json", "href": url("/stac/")},
            {"rel": "parent", "type": "application/json", "href": url("/stac/")},
            {"rel": "items", "type": GEOJSON, "href": url(f"{base}/items")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
             "type": "application/schema+json", "href": url(f"{base}/queryables")},
        ],
    }
    summaries: dict[str, list[str]] = {}
    if coll.platform:
        summaries["platform"] = [coll.platform]
    if coll.instrument:
        summaries["instruments"] = [coll.instrument]
    if summaries:
        out["summaries"] = summaries
    return out


def item_collection(items: Iterable[dict[str, Any] | Raw], links: list[dict[str, Any]],
                    matched: int | None, exact: bool) -> dict[str, Any]:
    """An ItemCollection (a GeoJSON FeatureCollection) with paging links."""
    features = list(items)
    body: dict[str, Any] = {"type": "FeatureCollection", "features": features, "links": links,
                            "numberReturned": len(features)}
    if matched is not None:
        if exact:
            body["numberMatched"] = matched
        else:  # clients read numberMatched as exact, so an estimate has its own name
            body["swathstore:numberMatchedEstimate"] = matched
    return body

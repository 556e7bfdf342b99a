"""Swath rows as STAC 1.0 Items, collections as STAC Collections.

An item is declared once, in api.stac.itemdef; item() renders that declaration in
Python from rows whose footprint comes out of the database already as GeoJSON text
(AsGeoJSON), so a page of 100 items costs no GEOS object per row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson

from api.stac.itemdef import GEOJSON, ITEM, STAC_VERSION, Raw, Url, python_renderer
from catalog.models import Collection

__all__ = ["GEOJSON", "STAC_VERSION", "Raw", "dumps", "item", "collection", "item_collection"]


def dumps(body: Any) -> bytes:
    """The JSON of a response body, each Raw value written verbatim (not parsed and
    encoded again).

    orjson splices the Raw texts in as fragments (anything else it cannot write has no
    .text, an error either way); what it refuses (a lone surrogate echoed from a request
    body, an integer past 64 bits) json writes instead.
    """
    try:
        return orjson.dumps(body, default=lambda o: orjson.Fragment(o.text))
    except orjson.JSONEncodeError:
        return json.dumps(body, separators=(",", ":"),
                          default=lambda o: json.loads(o.text)).encode()


# The columns a page of items is rendered from (run_search(columns=...) returns dicts).
ITEM_COLUMNS = (
    "id", "uuid", "collection__slug", "granule_id", "version", "filename", "format",
    "platform", "constellation", "instrument", "processing_level", "orbit", "orbit_direction",
    "relative_orbit", "orbit_cycle", "pass_number", "equator_crossing_longitude",
    "start_time", "end_time", "size",
    "sha256", "created_at", "updated_at", "fp_geojson", "fp_box", "cloud_cover", "quicklook",
    "chunk_index",
)


_render_item = python_renderer(ITEM)  # a function made from the declaration, as re.compile


def item(row: dict[str, Any], url: Url) -> dict[str, Any]:
    """One swath row (a dict of ITEM_COLUMNS) as a STAC Item."""
    return _render_item(row, url)  # type: ignore[no-any-return]


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
            {"rel": "aggregate", "type": "application/json", "method": "GET",
             "href": url(f"{base}/aggregate")},
            {"rel": "aggregate", "type": "application/json", "method": "POST",
             "href": url(f"{base}/aggregate")},
            {"rel": "aggregations", "type": "application/json",
             "href": url(f"{base}/aggregations")},
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

"""Build a manifest from the REST API, for nodes that reach the API but not the database.

``GET /api/v1/swaths/?bbox=&datetime=&collection=&limit=`` returns a GeoJSON
FeatureCollection, newest first, with a keyset ``next`` token for the following page.
The API does not expose the stored object's store and key, so each item points at the
swath's download URL (``/api/v1/swaths/{uuid}/download``, HTTP Range, ETag = sha256).

    python -m hpc.apiplan --api http://archive:8000 --bbox 10,-30,20,-20 \
        --datetime 2024-01-01/2024-12-31 -o manifest.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from eo.argv import accept_negative_values
from eo.times import parse_interval
from hpc.env import api_token
from hpc.manifest import now_iso, write_manifest
from subset.indexgeo import document_budget, geo_of

log = logging.getLogger(__name__)

PAGE = 1000
TIMEOUT_S = 60


class ApiError(RuntimeError):
    """The API answered with an error or something that is not the expected JSON."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status of an error answer


class TooLarge(ApiError):
    """The answer is larger than the caller would read."""


def api_root(url: str) -> str:
    """Return the site root from a root or an ``/api/v1`` URL.

    >>> api_root("http://h:8000/api/v1/"), api_root("http://h:8000")
    ('http://h:8000', 'http://h:8000')
    """
    url = url.rstrip("/")
    for suffix in ("/api/v1", "/api"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def get_json(url: str, token: str | None = None, *, max_bytes: int | None = None) -> Any:
    """GET ``url`` and return its JSON body; ApiError with the API's own message on failure,
    or when the body is over ``max_bytes`` (TooLarge: not read)."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            if max_bytes is None:
                return json.load(response)
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise TooLarge(f"GET {url}: {length} bytes, over {max_bytes}")
            data = response.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise TooLarge(f"GET {url}: over {max_bytes} bytes")
            return json.loads(data)
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace")[:500]
        raise ApiError(f"GET {url}: HTTP {e.code}: {body}", status=e.code) from e
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as e:
        raise ApiError(f"GET {url}: {e}") from e


def region_spec(root: str, *, bbox: str | None, region: str | None,
                token: str | None, wkt: str | None = None) -> dict[str, Any]:
    """Return the manifest region: the bbox, a WKT, or the named region's geometry (API)."""
    if bbox:
        return {"bbox": bbox}
    if wkt:
        return {"wkt": wkt}
    if not region:
        raise ValueError("give --bbox, --region or --geometry")
    from shapely.geometry import shape

    feature = get_json(f"{root}/api/v1/regions/{urllib.parse.quote(region)}/", token)
    return {"slug": region, "wkt": shape(feature["geometry"]).wkt}


def iter_features(root: str, params: dict[str, str], token: str | None
                  ) -> Iterator[dict[str, Any]]:
    """Yield every feature of a swath search, following ``next`` tokens page by page."""
    query = {k: v for k, v in params.items() if v}
    query.setdefault("limit", str(PAGE))
    while True:
        page = get_json(f"{root}/api/v1/swaths/?{urllib.parse.urlencode(query)}", token)
        if not isinstance(page, dict) or "features" not in page:
            raise ApiError(f"the swath search did not return a FeatureCollection: {page!r:.200}")
        yield from page["features"]
        token_next = page.get("next")
        if not token_next:
            return
        query["next"] = token_next


def item_from_feature(root: str, feature: dict[str, Any], region: dict[str, Any],
                      planned: str) -> dict[str, Any]:
    """Return the manifest item of one swath Feature: its download URL as the source, and
    the URL of its chunk references, whose geolocation bounds (where it has them) spare a
    rank the search of the whole geolocation, as a catalog plan's chunk_index record does."""
    props = feature.get("properties") or {}
    uuid = str(props.get("uuid") or feature.get("id"))
    return {
        "id": uuid,
        "granule_id": props.get("granule_id"),
        "collection": props.get("collection"),
        "format": props.get("format") or "",
        "size": props.get("size"),
        "sha256": props.get("sha256"),
        "url": f"{root}/api/v1/swaths/{uuid}/download",
        "start_time": props.get("start_time"),
        "end_time": props.get("end_time"),
        "region": region,
        "planned": planned,
        # Not in a search's Features: asked for by a rank, where there are none it is a 404.
        "references": {"url": f"{root}/api/v1/swaths/{uuid}/references.json"},
    }


def geo_bounds(item: dict[str, Any]) -> dict[str, Any] | None:
    """The per-chunk geolocation bounds in the references the API serves for an item,
    or None (logged): the cut then searches the geolocation, as without an index.

    The API checks the stored document's SHA-256 before serving it; here the document
    must name the item's object, and be worth reading for an object its size (its
    Content-Length is looked at before its body).
    """
    refs = item.get("references") or {}
    what = f"item {item.get('id')}: references {refs.get('url')}"
    try:
        doc = get_json(refs["url"], api_token(), max_bytes=document_budget(item.get("size")))
    except TooLarge as e:
        log.info("%s: more than reading the geolocation would cost (%s): bounds not read",
                 what, e)
        return None
    except (ApiError, KeyError, ValueError) as e:
        # 404: no index; 409/410: not one for this object (api.references)
        level = logging.INFO if getattr(e, "status", None) in (404, 409, 410) else \
            logging.WARNING
        log.log(level, "%s cannot be read (%s): bounds not used", what, e)
        return None
    return geo_of(doc, item.get("sha256"), what)


def checked_interval(interval: str | None) -> str:
    """Return ``START/END`` checked here, before any request: the API reads it by the
    same rule (eo.times), so it is sent as given.

    >>> checked_interval("2024-03-01/2024-03-01"), checked_interval(None)
    ('2024-03-01/2024-03-01', '')
    """
    if not interval:
        return ""
    parse_interval(interval)
    return interval.strip()


def plan_from_api(api: str, *, bbox: str | None = None, region: str | None = None,
                  datetime: str | None = None, collection: str | None = None,
                  token: str | None = None, wkt: str | None = None) -> list[dict[str, Any]]:
    """Return manifest items for the VERIFIED swaths the API finds over an area and time."""
    root = api_root(api)
    token = token or api_token()
    spec = region_spec(root, bbox=bbox, region=region, token=token, wkt=wkt)
    params = {"bbox": bbox or "", "region": region or "", "intersects": wkt or "",
              "datetime": checked_interval(datetime),
              "collection": collection or "", "state": "VERIFIED"}
    planned = now_iso()
    items = [item_from_feature(root, f, spec, planned)
             for f in iter_features(root, params, token)]
    # Oldest first, as the catalog plan orders them, so both plans list items alike.
    items.sort(key=lambda i: (i.get("start_time") or "", i["id"]))
    return items


def main(argv: list[str] | None = None) -> int:
    """Command line: write a manifest planned through the API."""
    parser = accept_negative_values(argparse.ArgumentParser(
        prog="python -m hpc.apiplan", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter))
    parser.add_argument("--api", required=True, help="site root, e.g. http://archive:8000")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--bbox", help="W,S,E,N in degrees")
    where.add_argument("--region", help="slug of a named region")
    parser.add_argument("--datetime", help="START/END (RFC 3339, '..' open)")
    parser.add_argument("--collection", help="collection slug(s), comma-separated")
    parser.add_argument("-o", "--output", required=True, help="manifest file to write")
    args = parser.parse_args(argv)
    try:
        items = plan_from_api(args.api, bbox=args.bbox, region=args.region,
                              datetime=args.datetime, collection=args.collection)
    except (ApiError, ValueError) as e:
        print(f"hpc.apiplan: {e}", file=sys.stderr)
        return 1
    n = write_manifest(args.output, items)
    total = sum(i.get("size") or 0 for i in items)
    print(f"{n} swaths, {total / 1e6:.1f} MB -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

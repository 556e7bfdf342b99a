"""Manifests: one JSON line per swath to extract, read by ranks that have no database.

A line names the swath and where its bytes are, never how to authenticate::

    {"id": "<swath uuid>", "granule_id": "...", "collection": "...", "format": "netcdf4",
     "size": 123, "sha256": "...", "codec": "none",
     "store_url": "s3://bucket/prefix", "key": "swaths/<uuid>/<attempt>.nc",   # catalog plan
     "url": "http://host/api/v1/swaths/<uuid>/download",                      # API plan
     "region": {"bbox": "W,S,E,N"} | {"slug": "...", "wkt": "..."},
     "start_time": "...", "end_time": "...", "planned": "2024-05-01T12:00:00Z"}

``store_url`` + ``key`` are read straight from the object store with the node's own
credentials (environment); ``url`` is read through the API's download endpoint
(HTTP Range), for sites whose nodes reach the API but not the store.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from subset.region import Region, parse_bbox, parse_geometry

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class ManifestError(ValueError):
    """A manifest line is malformed; the message names the line."""


def now_iso() -> str:
    """Return the current UTC time as ``YYYY-MM-DDTHH:MM:SSZ`` (the manifest's ``planned``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def region_from_spec(spec: dict[str, Any]) -> Region:
    """Return the kernel Region of a manifest/job region spec ({"bbox"} or {"wkt"/"geojson"})."""
    if spec.get("bbox"):
        return parse_bbox(spec["bbox"])
    if spec.get("wkt"):
        return parse_geometry(spec["wkt"])
    if spec.get("geojson"):
        return parse_geometry(spec["geojson"])
    raise ManifestError(f"region {spec!r} has no bbox, wkt or geojson")


def check_item(item: Any, line: int = 0) -> dict[str, Any]:
    """Return ``item`` if it is a usable manifest entry; raise ManifestError naming the line."""
    where = f"manifest line {line}" if line else "manifest item"
    if not isinstance(item, dict):
        raise ManifestError(f"{where}: not a JSON object")
    ident = item.get("id")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise ManifestError(f"{where}: 'id' must be 1-128 letters, digits, '.', '-' or '_'")
    if not (item.get("url") or (item.get("store_url") and item.get("key"))):
        raise ManifestError(f"{where} ({ident}): needs 'store_url' and 'key', or 'url'")
    size = item.get("size")
    if size is not None and (not isinstance(size, int) or size < 0):
        raise ManifestError(f"{where} ({ident}): 'size' must be a non-negative integer")
    sha = item.get("sha256")
    if sha is not None and not re.fullmatch(r"[0-9a-f]{64}", str(sha)):
        raise ManifestError(f"{where} ({ident}): 'sha256' must be 64 lowercase hex digits")
    for secret in ("access_key", "secret_key", "aws_secret_access_key", "token"):
        if secret in item:
            raise ManifestError(f"{where} ({ident}): credentials never go in a manifest "
                                f"({secret!r}); set them in the environment")
    return item


def read_manifest(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Return the items of a JSON-lines manifest; raise ManifestError on a bad or repeated id."""
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                doc = json.loads(raw)
            except json.JSONDecodeError as e:
                raise ManifestError(f"manifest line {n}: not JSON ({e.msg})") from e
            item = check_item(doc, n)
            if item["id"] in seen:
                raise ManifestError(f"manifest line {n}: id {item['id']} appears twice")
            seen.add(item["id"])
            items.append(item)
    return items


def write_manifest(path: str | os.PathLike[str], items: Iterable[dict[str, Any]]) -> int:
    """Write items as JSON lines atomically (temporary name, then rename); return the count."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            # Line by line: a planned archive-wide manifest is not held twice in memory.
            for item in items:
                f.write(json.dumps(check_item(item), sort_keys=True) + "\n")
                n += 1
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n

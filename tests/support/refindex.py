"""A swath's chunk references, made and recorded for tests as ingest records them.

Used where a test needs to put a record in place itself (a swath made by a factory, a
record to break on purpose). The document is built by kerchunk, as the contract of
ingest/chunkindex.py describes it: every chunk reference's URL is the template "{{u}}".
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from pathlib import Path
from typing import Any

import archive.config
from catalog.models import Swath


def kerchunk_document(path: Path, object_sha256: str) -> dict[str, Any]:
    """kerchunk's references of ``path`` (version 1) with "{{u}}" for the file's URL."""
    import kerchunk.hdf

    refs = kerchunk.hdf.SingleHdf5ToZarr(str(path), inline_threshold=300).translate()["refs"]
    for value in refs.values():
        if isinstance(value, list) and value:
            value[0] = "{{u}}"
    return {"version": 1, "templates": {"u": ""}, "refs": refs,
            "swathstore": {"object_sha256": object_sha256}}


def store_document(swath: Swath, doc: dict[str, Any] | bytes,
                   store_name: str = "primary") -> dict[str, Any]:
    """Put a document beside the swath's object and record it in attrs["chunk_index"]."""
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    digest = hashlib.sha256(data).hexdigest()
    key = f"indexes/{swath.uuid.hex}/{uuid.uuid4().hex}.json"
    archive.config.get_store(store_name).put(key, io.BytesIO(data), size=len(data),
                                             sha256=digest, content_type="application/json")
    record = {"store": store_name, "key": key, "size": len(data), "sha256": digest,
              "object_sha256": swath.sha256, "format": "kerchunk-v1+json",
              "builder": "kerchunk 0.2.10", "chunks": 0}
    attrs = {k: v for k, v in (swath.attrs or {}).items() if k != "chunk_index_error"}
    Swath.objects.filter(pk=swath.pk).update(attrs={**attrs, "chunk_index": record})
    swath.refresh_from_db()
    return record

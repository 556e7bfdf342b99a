"""A swath's chunk references, made and recorded for tests as ingest records them.

For tests that put a record in place themselves (a swath made by a factory, a record
to break on purpose): the document comes from ingest.chunkindex.build_references and is
stored and recorded by ingest.indexes.store_index, as at ingest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from catalog.models import Swath
from ingest.chunkindex import build_references
from ingest.indexes import store_index


def index_document(path: Path, object_sha256: str) -> dict[str, Any]:
    """The references of the file at ``path`` (every byte range's URL is "{{u}}")."""
    return build_references(path, object_sha256=object_sha256, geo=False)


def store_document(swath: Swath, doc: dict[str, Any], store_name: str = "primary"
                   ) -> dict[str, Any]:
    """Store ``doc`` beside the swath's object and record it in attrs["chunk_index"]."""
    record = store_index(swath.pk, swath.uuid.hex, doc, store_name)
    swath.refresh_from_db()
    return record

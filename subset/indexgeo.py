"""The geolocation bounds of an archived swath, from its chunk index document.

Ingest stores beside each NetCDF4/HDF5 object a chunk index (kerchunk references) and
records it in ``Swath.attrs["chunk_index"]``: ``{"store", "key", "size", "sha256",
"object_sha256", ...}``. The document's ``["swathstore"]["geo"]`` holds the per-chunk
geolocation bounds (ingest.chunkgeo) the kernel reads only the region's chunks with.

The bounds are an optimisation, never a condition: a record that is absent, names
another object, a document that is missing, too large, fails its SHA-256, names another
object inside, or does not parse, gives None (logged), and the cut searches the
geolocation as it does without an index. No Django: the service's workers and the MPI
ranks both call :func:`load_geo_bounds`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from archive.errors import ArchiveError
from archive.stores import Store

log = logging.getLogger(__name__)

# A document beyond this is not read for its bounds (they are a few KB; the references
# of a very large file can be tens of MB, more than the search they would save).
MAX_DOCUMENT_BYTES = 64 * 2**20
# Nor one larger than this share of its object (or 1 MiB): the search reads the object's
# geolocation, a few per cent of it at least, so a document this size costs less.
MAX_DOCUMENT_SHARE = 0.02
MIN_DOCUMENT_BUDGET = 2**20
RECORD_FIELDS = ("store", "key", "sha256", "object_sha256")


def load_geo_bounds(record: Mapping[str, Any] | None, object_sha256: str | None,
                    store_of: Callable[[Mapping[str, Any]], Store], *,
                    what: str = "swath", object_size: int | None = None,
                    ) -> dict[str, Any] | None:
    """Return the geolocation bounds of the object whose SHA-256 is ``object_sha256`` from
    its chunk index ``record``, or None (logged, naming ``what``) when they cannot be used.

    ``store_of(record)`` returns the store holding the document: by its name
    (:func:`store_by_name`), or by the URL a batch plan added (hpc.work). With
    ``object_size``, a document over MAX_DOCUMENT_SHARE of it (and 1 MiB) is not read.
    """
    if not record:
        return None
    if not isinstance(record, Mapping) or not all(record.get(k) for k in RECORD_FIELDS):
        log.warning("%s: chunk index record without %s: bounds not used", what,
                    "/".join(RECORD_FIELDS))
        return None
    where = f"{what}: chunk index {record['key']} in store {record['store']!r}"
    if not object_sha256 or record["object_sha256"] != object_sha256:
        log.warning("%s describes object %s, not %s: bounds not used", where,
                    record["object_sha256"], object_sha256)
        return None
    size = record.get("size")
    if isinstance(size, int) and size > document_budget(object_size):
        log.info("%s is %d bytes, more than reading the geolocation would cost: bounds "
                 "not read", where, size)
        return None
    try:
        with store_of(record).open(str(record["key"])) as stream:
            data = stream.read(MAX_DOCUMENT_BYTES + 1)
    except (ArchiveError, OSError, LookupError, ValueError) as e:
        log.warning("%s cannot be read (%s: %s): bounds not used", where, type(e).__name__, e)
        return None
    if len(data) > MAX_DOCUMENT_BYTES:
        log.info("%s is over %d bytes: bounds not read", where, MAX_DOCUMENT_BYTES)
        return None
    digest = hashlib.sha256(data).hexdigest()
    if digest != record["sha256"]:
        log.warning("%s has SHA-256 %s, not the recorded %s: bounds not used", where, digest,
                    record["sha256"])
        return None
    try:
        doc = json.loads(data)
    except ValueError as e:
        log.warning("%s is not a JSON object (%s): bounds not used", where, e)
        return None
    return geo_of(doc, object_sha256, where)


def document_budget(object_size: int | None) -> int:
    """The largest index document worth reading for the bounds of an object this size.

    >>> document_budget(None) == MAX_DOCUMENT_BYTES, document_budget(10**9)
    (True, 20000000)
    >>> document_budget(1000) == MIN_DOCUMENT_BUDGET
    True
    """
    if not object_size:
        return MAX_DOCUMENT_BYTES
    return min(MAX_DOCUMENT_BYTES, max(MIN_DOCUMENT_BUDGET, int(object_size * MAX_DOCUMENT_SHARE)))


def geo_of(doc: object, object_sha256: str | None, where: str) -> dict[str, Any] | None:
    """The bounds in a parsed document, when it describes the object ``object_sha256``."""
    if not isinstance(doc, Mapping):
        log.warning("%s is not a JSON object: bounds not used", where)
        return None
    own = doc.get("swathstore")
    if not isinstance(own, Mapping):
        return None
    named = own.get("object_sha256")
    if named and named != object_sha256:
        log.warning("%s names object %s inside, not %s: bounds not used", where, named,
                    object_sha256)
        return None
    geo = own.get("geo")
    return geo if isinstance(geo, dict) else None


def store_by_name(record: Mapping[str, Any]) -> Store:
    """Return the configured store a record names (archive.config); LookupError if none."""
    import archive.config

    return archive.config.get_store(str(record["store"]))

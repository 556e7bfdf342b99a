"""GET /api/v1/swaths/{uuid}/references.json: a swath's chunk references, for any client.

Ingest stores, beside each NetCDF4/HDF5 object, a document in the kerchunk reference
format (version 1) naming the byte range of every chunk of every variable, and records
it in ``Swath.attrs["chunk_index"]`` (store, key, size, sha256, object_sha256). Served
with its template ``u`` set to the object's URL, it lets xarray open the swath lazily
through fsspec's ``reference://`` filesystem: each chunk is one HTTP Range request on
the object, and the client needs no HDF5 library (README, "Opening a swath lazily").

A document describes one exact sequence of bytes, so it is never served unless every
link of that chain holds, checked on each request before the first byte goes out:
- the record names the object the swath holds now (``object_sha256`` = ``swath.sha256``);
- the copy the references will point at is VERIFIED, its stored SHA-256 is the swath's,
  and its store still reports it so (api.downloads.candidates, as a download checks);
- the document's bytes hash to the record's ``sha256``, and the object it names inside
  (``swathstore.object_sha256``, when present) is the swath's.
Any break answers 410 naming it, never references to other bytes. The object URL is
the API's download URL (which answers Range requests and checks access itself), or,
where downloads are presigned (``PRESIGN_DOWNLOADS``), a presigned URL of that very
copy, valid ``PRESIGN_MAX_SECONDS``: such a document is marked ``no-store``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpResponse
from rest_framework.request import Request

from api.downloads import DOWNLOAD_FIELDS, candidates
from api.exceptions import Gone, NotDownloadable
from api.stac.itemdef import REFERENCES_TYPE
from archive.config import get_store
from archive.errors import ArchiveError
from archive.stores import MAX_PRESIGN_SECONDS
from catalog.models import Swath, SwathState

FORMAT = "kerchunk-v1+json"
MAX_AGE_S = 3600
# Smaller documents go as they are: compressing them would save little.
GZIP_FROM = 16 * 1024
_METADATA = (".zgroup", ".zarray", ".zattrs")


class NoReferences(ObjectDoesNotExist):
    """The swath exists but has no chunk index (404); the message says why."""


def index_record(swath: Swath) -> dict[str, Any]:
    """The swath's attrs["chunk_index"]; raises NotDownloadable or NoReferences with a reason."""
    if swath.state != SwathState.VERIFIED:
        raise NotDownloadable(f"swath {swath.uuid} is {swath.state}; only VERIFIED swaths "
                              f"have references served")
    attrs = swath.attrs or {}
    record = attrs.get("chunk_index")
    if isinstance(record, dict) and all(record.get(k) for k in ("store", "key", "sha256")):
        if record.get("format", FORMAT) != FORMAT:
            raise NoReferences(f"swath {swath.uuid} has chunk references in the format "
                               f"{record['format']!r}, which this server does not serve")
        return record
    if attrs.get("chunk_index_error"):
        raise NoReferences(f"swath {swath.uuid} has no chunk references: "
                           f"{attrs['chunk_index_error']}")
    raise NoReferences(f"swath {swath.uuid} has no chunk references (none are made for "
                       f"NetCDF classic files or objects stored compressed, and swaths "
                       f"archived before indexing get theirs from manage.py index)")


def _object_url(request: Request, swath: Swath) -> tuple[str, datetime | None]:
    """The URL the references point at, and when it expires (None: it does not)."""
    reasons: list[str] = []
    located = next(candidates(swath, reasons), None)
    if located is None:
        raise Gone(f"the references of swath {swath.uuid} are not served: its object "
                   f"cannot be read: " + "; ".join(reasons))
    store, copy = located
    if copy.sha256 and copy.sha256 != swath.sha256:
        raise Gone(f"the references of swath {swath.uuid} are not served: its copy "
                   f"{copy.key} in store {copy.store!r} has SHA-256 {copy.sha256}, "
                   f"not the swath's {swath.sha256}")
    if settings.PRESIGN_DOWNLOADS and copy.codec == "none":
        expires = min(settings.PRESIGN_MAX_SECONDS, MAX_PRESIGN_SECONDS)
        url = store.presign(copy.key, expires)
        if url:
            return url, datetime.now(UTC) + timedelta(seconds=expires)
    return request.build_absolute_uri(f"/api/v1/swaths/{swath.uuid}/download"), None


def _document(swath: Swath, record: dict[str, Any]) -> dict[str, Any]:
    """The stored document, read whole and checked (see the module docstring)."""
    where = f"the references of swath {swath.uuid} (key {record['key']}, store " \
            f"{record['store']!r})"
    try:
        with get_store(record["store"]).open(record["key"]) as stream:
            data = stream.read()
    except LookupError as e:  # the store was removed from STORES since
        raise Gone(f"{where} are in a store that is not configured: {e}") from e
    except ArchiveError as e:
        raise Gone(f"{where} cannot be read: {e}") from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != record["sha256"]:
        raise Gone(f"{where} changed since they were recorded: SHA-256 {digest}, the "
                   f"catalog's {record['sha256']}; they are not served")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise Gone(f"{where} are not JSON: {e}") from e
    if not isinstance(doc, dict) or doc.get("version") != 1 or not isinstance(
            doc.get("refs"), dict):
        raise Gone(f"{where} are not kerchunk references of version 1")
    named = (doc.get("swathstore") or {}).get("object_sha256")
    if named and named != swath.sha256:
        raise Gone(f"{where} describe the object with SHA-256 {named}, not the swath's "
                   f"{swath.sha256}; they are not served")
    return doc


def consolidated(refs: dict[str, Any]) -> str:
    """``.zmetadata`` for references that lack it: every group's and array's metadata.

    zarr 3 lists a group's members through fsspec with a leading "/" that
    ReferenceFileSystem does not know, so without consolidated metadata xarray finds
    the root group's variables and none below it (nested HDF5 groups come out empty).
    With it, zarr reads the whole hierarchy from this one key and lists nothing.
    """
    metadata = {}
    for key, value in refs.items():
        if key.rpartition("/")[2] in _METADATA:
            metadata[key] = json.loads(value) if isinstance(value, str | bytes) else value
    return json.dumps({"zarr_consolidated_format": 1, "metadata": metadata})


def references_response(request: Request, uuid: str) -> HttpResponse:
    """Serve one swath's references with their object URL filled in (module docstring)."""
    swath = Swath.objects.only(*DOWNLOAD_FIELDS, "attrs").get(uuid=uuid)
    record = index_record(swath)
    if record.get("object_sha256") != swath.sha256:
        raise Gone(f"the references of swath {swath.uuid} describe the object with SHA-256 "
                   f"{record.get('object_sha256')}, not the swath's {swath.sha256}; they "
                   f"are not served until they are made again")
    url, expires = _object_url(request, swath)
    headers = {"Vary": "Accept-Encoding"}
    if expires is None:
        # The body is the stored document with this URL: both name it.
        tag = hashlib.sha256(f"{record['sha256']} {url}".encode()).hexdigest()[:32]
        headers["ETag"] = f'"{tag}"'
        scope = "public" if settings.API_PUBLIC_READS else "private"
        headers["Cache-Control"] = f"{scope}, max-age={MAX_AGE_S}"
        if request.headers.get("If-None-Match") in (headers["ETag"], "*"):
            return HttpResponse(status=304, headers=headers)
    else:
        headers["Cache-Control"] = "no-store"  # the presigned URLs inside expire
    doc = _document(swath, record)
    doc["templates"] = {**(doc.get("templates") or {}), "u": url}
    if ".zmetadata" not in doc["refs"]:
        doc["refs"][".zmetadata"] = consolidated(doc["refs"])
    if expires is not None:
        doc.setdefault("swathstore", {})["url_expires"] = expires.isoformat().replace(
            "+00:00", "Z")
    body = orjson.dumps(doc)
    if len(body) >= GZIP_FROM and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    # HEAD (fsspec asks it for the size first): the headers of the GET, no body.
    response = HttpResponse(b"" if request.method == "HEAD" else body,
                            content_type=REFERENCES_TYPE, headers=headers)
    response["Content-Length"] = str(len(body))
    return response

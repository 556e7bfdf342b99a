"""GET /api/v1/swaths/{uuid}/download: the original bytes, or a presigned redirect.

Only VERIFIED swaths are served. The copy is looked up in the store first, so a
missing object answers 410 with the reason, never a link to nothing (S7). Full
downloads stream through a SHA-256 check (a corrupt object is cut off, not served
whole, S6). Range requests are answered from a ranged reader (uncompressed
objects) or by decoding and skipping (compressed ones), unless an If-Range names
another version (ETag or Last-Modified): then the whole file, 200.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from django.conf import settings
from django.http import (
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.utils.http import http_date, parse_http_date_safe
from rest_framework.request import Request

from api.exceptions import Gone, NotDownloadable
from archive.config import get_store
from archive.errors import ArchiveError, ObjectNotFound
from archive.stores import MAX_PRESIGN_SECONDS, Store
from catalog.models import StoredObject, Swath, SwathState

CHUNK = 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """(start, stop) for one satisfiable byte range; None for none/multi; 'bad' if unsatisfiable.

    >>> parse_range("bytes=0-9", 100), parse_range("bytes=-10", 100), parse_range("bytes=200-", 100)
    ((0, 10), (90, 100), 'bad')
    >>> parse_range("bytes=" + "9" * 5000 + "-", 100), parse_range("bytes=0-" + "9" * 5000, 100)
    ('bad', (0, 100))
    """
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None:
        return None  # multiple ranges or another unit: serve the whole object (RFC 9110)
    first, last = (_position(g) for g in m.groups())
    if first is None:
        if last is None:
            return None
        return (max(size - last, 0), size) if last > 0 else "bad"
    stop = min(last + 1, size) if last is not None else size
    if first >= size or stop <= first:
        return "bad"
    return first, stop


def _position(digits: str) -> int | None:
    """A byte position of a Range header; past any object's size when over 18 digits.

    int() of a very long string raises ValueError (sys.int_max_str_digits), and no
    object is 10**18 bytes long, so the value is capped before it is converted.
    """
    if digits == "":
        return None
    return int(digits) if len(digits) <= 18 else 10**18


def if_range_holds(header: str | None, etag: str, last_modified: datetime | None) -> bool:
    """True when a Range may be served: no If-Range, or one naming the current version.

    If-Range carries an entity tag (compared strongly: a weak tag never matches) or an
    HTTP date (exactly the Last-Modified); anything else is stale, and RFC 9110 13.1.5
    says to ignore the Range and send the whole representation.
    """
    if header is None:
        return True
    value = header.strip()
    if value.startswith(('"', "W/")):
        return value == etag
    when = parse_http_date_safe(value)
    return when is not None and last_modified is not None and \
        when == int(last_modified.timestamp())


def _copies(swath: Swath) -> list[StoredObject]:
    copies = list(swath.copies.filter(state=StoredObject.State.VERIFIED))
    # The primary store first, then replicas in a stable order.
    return sorted(copies, key=lambda c: (c.store != "primary", c.store, c.pk))


def _locate(swath: Swath) -> tuple[Store, StoredObject]:
    reasons = []
    for copy in _copies(swath):
        try:
            store = get_store(copy.store)
        except LookupError as e:
            reasons.append(str(e))
            continue
        if store.head(copy.key) is not None:
            return store, copy
        reasons.append(f"object {copy.key} is missing from store {copy.store!r}")
    if not reasons:
        reasons.append("the catalog holds no verified copy")
    raise Gone(f"swath {swath.uuid} cannot be downloaded: " + "; ".join(reasons))


def _chunks(stream: BinaryIO, remaining: int | None) -> Iterator[bytes]:
    try:
        while remaining is None or remaining > 0:
            data = stream.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not data:
                break
            if remaining is not None:
                remaining -= len(data)
            yield data
    finally:
        stream.close()


def _skip(stream: BinaryIO, n: int) -> None:
    while n > 0:
        data = stream.read(min(CHUNK, n))
        if not data:
            break
        n -= len(data)


def download_response(request: Request, uuid: str) -> HttpResponse | StreamingHttpResponse:
    """Serve one swath's original bytes (see the module docstring)."""
    swath = Swath.objects.get(uuid=uuid)
    if swath.state != SwathState.VERIFIED:
        raise NotDownloadable(
            f"swath {swath.uuid} is {swath.state}; only VERIFIED swaths can be downloaded")
    store, copy = _locate(swath)
    size = swath.size if swath.size is not None else copy.size
    etag = f'"{swath.sha256}"'
    digest = base64.b64encode(bytes.fromhex(swath.sha256 or "")).decode()
    headers = {"ETag": etag, "Accept-Ranges": "bytes",
               "Content-Disposition": f'attachment; filename="{swath.filename}"'}
    if swath.verified_at is not None:  # a verified swath's bytes never change
        headers["Last-Modified"] = http_date(swath.verified_at.timestamp())
    if swath.sha256:
        headers["Repr-Digest"] = f"sha-256=:{digest}:"
        headers["Digest"] = f"SHA-256={digest}"
    if request.headers.get("If-None-Match") in (etag, "*"):
        return HttpResponse(status=304, headers=headers)

    if settings.PRESIGN_DOWNLOADS and copy.codec == "none":
        expires = min(settings.PRESIGN_MAX_SECONDS, MAX_PRESIGN_SECONDS)
        url = store.presign(copy.key, expires)
        if url:
            return HttpResponseRedirect(url, headers={"Cache-Control": "no-store"})

    asked = request.headers.get("Range") or ""
    rng = parse_range(asked, size) if size is not None else None
    if rng is not None and not if_range_holds(request.headers.get("If-Range"), etag,
                                              swath.verified_at):
        rng = None  # a stale If-Range: the whole file, 200
    if rng == "bad":
        return JsonResponse(
            {"error": f"Range {asked[:80]!r} is outside the "
                      f"{size} bytes of swath {swath.uuid}"},
            status=416, headers={"ETag": etag, "Accept-Ranges": "bytes",
                                 "Content-Range": f"bytes */{size}"})
    if request.method == "HEAD":
        return HttpResponse(status=200, headers={**headers, "Content-Length": str(size)},
                            content_type="application/octet-stream")
    try:
        if rng is None:
            stream = store.open(copy.key, expected_sha256=swath.sha256, codec=copy.codec)
            response = StreamingHttpResponse(_chunks(stream, None), status=200,
                                             content_type="application/octet-stream")
            length = size
        else:
            start, stop = rng
            if copy.codec == "none":
                stream = store.open_ranged(copy.key)
                stream.seek(start)
            else:
                stream = store.open(copy.key, codec=copy.codec)
                _skip(stream, start)
            response = StreamingHttpResponse(_chunks(stream, stop - start), status=206,
                                             content_type="application/octet-stream")
            response["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
            length = stop - start
    except ObjectNotFound as e:
        raise Gone(f"swath {swath.uuid} cannot be downloaded: {e}") from e
    except ArchiveError as e:
        raise Gone(f"swath {swath.uuid} cannot be read from store {copy.store!r}: {e}") from e
    for name, value in headers.items():
        response[name] = value
    if length is not None:
        response["Content-Length"] = str(length)
    return response

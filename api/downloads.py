"""GET /api/v1/swaths/{uuid}/download: the original bytes, or a presigned redirect.

Only VERIFIED swaths are served, from their VERIFIED copies in order (the primary store
first, catalog.copies). Each copy is looked up in its store first; one that is missing,
whose recorded SHA-256 or size differs from the catalog, or that fails on its first read
is passed over for the next, and when none is left the answer is 410 with the reasons,
never a link to nothing (S7). A copy found missing or corrupt is marked so (MISSING,
CORRUPT), and the next heal rebuilds it (ops.heal).

Full downloads stream through a SHA-256 check, and the last piece is held back until
the hash is known: a corrupt object is cut off short of its Content-Length, never served
whole (S6), and its copy is marked CORRUPT, so the client's retry gets the next copy.
Falling back in the middle of a stream is impossible (the bytes already sent may be the
wrong ones, and there is no telling which), so fallback happens before the first byte
only. Range requests are answered from a ranged reader (uncompressed objects) or by
decoding and skipping (compressed ones), unhashed, unless an If-Range names another
version (ETag or Last-Modified): then the whole file, 200.
"""

from __future__ import annotations

import base64
import logging
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
from archive.errors import ArchiveError, ChecksumMismatch, ObjectNotFound
from archive.stores import MAX_PRESIGN_SECONDS, Store
from catalog.copies import mark_bad, verified_copies
from catalog.models import StoredObject, Swath, SwathState

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
DOWNLOAD_FIELDS = ("id", "uuid", "state", "size", "sha256", "filename", "verified_at")
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


def candidates(swath: Swath, reasons: list[str]) -> Iterator[tuple[Store, StoredObject]]:
    """Yield the swath's VERIFIED copies whose objects look right, in reading order.

    A copy whose object is gone, or whose recorded SHA-256 or size is not the catalog's,
    is marked and passed over; a store that cannot answer is passed over unmarked (an
    outage says nothing about the bytes). Every copy passed over adds to ``reasons``.
    """
    for copy in verified_copies(swath.pk):
        try:
            store = get_store(copy.store)
            info = store.head(copy.key)
        except (LookupError, ArchiveError) as e:
            reasons.append(f"store {copy.store!r}: {e}")
            continue
        if info is None:
            _mark(copy, StoredObject.State.MISSING, "no such object", reasons)
            continue
        if (info.sha256 and swath.sha256 and info.sha256 != swath.sha256) or (
                info.size is not None and swath.size is not None and info.size != swath.size):
            _mark(copy, StoredObject.State.CORRUPT,
                  f"recorded sha256 {info.sha256}, size {info.size} differ from the catalog's",
                  reasons)
            continue
        yield store, copy
    if not reasons:
        reasons.append("the catalog holds no verified copy")


def _mark(copy: StoredObject, state: str, why: str, reasons: list[str]) -> None:
    reasons.append(f"object {copy.key} is missing from store {copy.store!r}"
                   if state == StoredObject.State.MISSING else
                   f"object {copy.key} in store {copy.store!r} is corrupt: {why}")
    mark_bad(copy.pk, state, f"download: {why}")


def _body(stream: BinaryIO, first: bytes, remaining: int | None,
          copy: StoredObject | None) -> Iterator[bytes]:
    """The response body: ``first``, then the rest, each piece sent once the next is read.

    Holding one piece back means a hash mismatch, raised at the end of a checked stream,
    cuts the response short of its Content-Length instead of after the last byte; the
    copy is marked CORRUPT (``copy``: a checked full download).
    """
    try:
        held = first
        if remaining is not None:
            remaining -= len(first)
        while remaining is None or remaining > 0:
            try:
                data = stream.read(CHUNK if remaining is None else min(CHUNK, remaining))
            except ChecksumMismatch as e:
                if copy is not None:
                    mark_bad(copy.pk, StoredObject.State.CORRUPT, f"download: {e}")
                log.error("download cut off: %s", e)
                raise
            if not data:
                break
            if remaining is not None:
                remaining -= len(data)
            yield held
            held = data
        if held:
            yield held
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
    # Only the columns a download reads: a client reading through chunk references
    # (api.references) sends one Range request per chunk, and the footprint and attrs
    # cost the lookup 9.6 ms where these take 6.7 (medians in-process, load 5.5).
    swath = Swath.objects.only(*DOWNLOAD_FIELDS).get(uuid=uuid)
    if swath.state != SwathState.VERIFIED:
        raise NotDownloadable(
            f"swath {swath.uuid} is {swath.state}; only VERIFIED swaths can be downloaded")
    size = swath.size
    etag = f'"{swath.sha256}"'
    digest = base64.b64encode(bytes.fromhex(swath.sha256 or "")).decode()
    headers = {"ETag": etag, "Accept-Ranges": "bytes",
               "Content-Disposition": f'attachment; filename="{swath.filename}"'}
    if swath.verified_at is not None:  # a verified swath's bytes never change
        headers["Last-Modified"] = http_date(swath.verified_at.timestamp())
    if swath.sha256:
        headers["Repr-Digest"] = f"sha-256=:{digest}:"
        headers["Digest"] = f"SHA-256={digest}"
    reasons: list[str] = []
    copies = candidates(swath, reasons)
    located = next(copies, None)
    if located is None:
        raise Gone(f"swath {swath.uuid} cannot be downloaded: " + "; ".join(reasons))
    if size is None:
        size = located[1].size
    if request.headers.get("If-None-Match") in (etag, "*"):
        return HttpResponse(status=304, headers=headers)

    store, copy = located
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
    while located is not None:
        store, copy = located
        try:
            response, length = _open_response(swath, store, copy, rng, size)
            break
        except ObjectNotFound as e:
            _mark(copy, StoredObject.State.MISSING, str(e), reasons)
        except ChecksumMismatch as e:  # the whole object fitted in the first piece
            _mark(copy, StoredObject.State.CORRUPT, str(e), reasons)
        except ArchiveError as e:
            reasons.append(f"cannot be read from store {copy.store!r}: {e}")
        located = next(copies, None)
    else:
        raise Gone(f"swath {swath.uuid} cannot be downloaded: " + "; ".join(reasons))
    for name, value in headers.items():
        response[name] = value
    if length is not None:
        response["Content-Length"] = str(length)
    return response


def _open_response(swath: Swath, store: Store, copy: StoredObject,
                   rng: tuple[int, int] | None | str, size: int | None
                   ) -> tuple[StreamingHttpResponse, int | None]:
    """Open one copy and read its first piece (so a failure there falls back to the next)."""
    if rng is None or isinstance(rng, str):
        stream = store.open(copy.key, expected_sha256=swath.sha256, codec=copy.codec)
        try:
            first = stream.read(CHUNK)
        except BaseException:
            stream.close()
            raise
        return StreamingHttpResponse(_body(stream, first, None, copy), status=200,
                                     content_type="application/octet-stream"), size
    start, stop = rng
    stream = (store.open_ranged(copy.key) if copy.codec == "none"
              else store.open(copy.key, codec=copy.codec))
    try:
        if copy.codec == "none":
            stream.seek(start)
        else:
            _skip(stream, start)
        first = stream.read(min(CHUNK, stop - start))
    except BaseException:
        stream.close()
        raise
    response = StreamingHttpResponse(_body(stream, first, stop - start, None), status=206,
                                     content_type="application/octet-stream")
    response["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    return response, stop - start

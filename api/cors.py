"""CORS for the read-only API: reads from any origin, writes from none, never credentials.

Browser clients on other origins (STAC Browser, notebooks) may GET, HEAD and OPTIONS
anything under /api/ and /stac/, and POST the searches (a read with a body). Any other
write gets no CORS header, so a browser neither sends it after a preflight nor lets a
page read its answer. ``Access-Control-Allow-Origin: *`` without
``Access-Control-Allow-Credentials`` means browsers send no cookie: a page elsewhere
sees what an anonymous caller sees (products stay private), or what the caller's own
token (Authorization) allows.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

PREFIXES = ("/api/", "/stac/")
READS = frozenset({"GET", "HEAD", "OPTIONS"})
# POSTs that are searches: the query in a body (STAC API, the REST search).
POST_READS = frozenset({"/stac/search", "/api/v1/swaths/search/"})
ALLOW_HEADERS = ("Accept, Accept-Language, Content-Type, Authorization, Range, If-Range, "
                 "If-None-Match, If-Modified-Since")
EXPOSE_HEADERS = ("Content-Disposition, Content-Length, Content-Range, Accept-Ranges, ETag, "
                  "Last-Modified, Repr-Digest, Digest, Retry-After")
MAX_AGE_S = "86400"


def is_read(method: str, path: str) -> bool:
    """True for a request that changes nothing: GET/HEAD/OPTIONS, or a search POST."""
    method = method.upper()
    return method in READS or (method == "POST" and path in POST_READS)


class ReadOnlyCorsMiddleware:
    """Answers preflights itself and marks the answers of reads as readable anywhere."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIXES):
            return self.get_response(request)
        wanted = request.META.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        if request.method == "OPTIONS" and wanted and "HTTP_ORIGIN" in request.META:
            response = HttpResponse(status=204)
            if is_read(wanted, request.path):  # a write's preflight is refused: no headers
                response["Access-Control-Allow-Origin"] = "*"
                response["Access-Control-Allow-Methods"] = (
                    "GET, HEAD, OPTIONS, POST" if request.path in POST_READS
                    else "GET, HEAD, OPTIONS")
                response["Access-Control-Allow-Headers"] = ALLOW_HEADERS
                response["Access-Control-Max-Age"] = MAX_AGE_S
            return response
        response = self.get_response(request)
        # Whether or not this request came with an Origin: a cache may serve it to one.
        if is_read(request.method or "", request.path):
            response["Access-Control-Allow-Origin"] = "*"
            response["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        return response

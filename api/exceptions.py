"""Domain errors mapped to HTTP once, in one shape: {"error": "..."}."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from catalog.geometry import QueryGeometryError
from eo.errors import InputError
from eo.nesting import NestingError
from subset.errors import SourceGone, SubsetError, SubsetTooLarge, SubsetTotalTooLarge

# Paths whose every answer is JSON, errors Django itself answers included.
API_PREFIXES = ("/api/", "/stac/")


class QueryError(InputError):
    """A request parameter that cannot be used; the message names it."""


class PayloadTooLarge(ValueError):
    """The request body is over DATA_UPLOAD_MAX_MEMORY_SIZE."""


class Gone(Exception):
    """The catalog says the object exists, the store no longer has it."""


class NotDownloadable(Exception):
    """The swath exists but is not VERIFIED (yet), so its bytes are not served."""


class NotRetryable(Exception):
    """The product is not FAILED: it is done, empty, or already queued or being cut."""


def _message(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        return {"error": "; ".join(exc.messages)}
    return {"error": str(exc)}


def too_large_body(exc: SubsetTooLarge) -> dict[str, Any]:
    """A subset over a size limit says how big it would be, so the client can shrink it.

    Also the `refused` of an estimate (api.subsets.serializers): the same words, asked first.
    """
    body = {**_message(exc), "estimated_bytes": exc.estimated_bytes,
            "limit_bytes": exc.limit_bytes}
    if isinstance(exc, SubsetTotalTooLarge):
        body["swaths"] = exc.swaths
    return body


# Every error class a view may raise -> (HTTP status, its JSON body). Looked up along
# the raised class's MRO, so the most specific class listed wins (SubsetTooLarge
# before SubsetError). DRF's own exceptions (authentication, throttling, parsing)
# keep their statuses and take the same {"error": ...} shape.
ERRORS: dict[type[Exception], tuple[int, Callable[[Any], dict[str, Any]]]] = {
    InputError: (status.HTTP_400_BAD_REQUEST, _message),  # QueryError and every eo parser's
    QueryGeometryError: (status.HTTP_400_BAD_REQUEST, _message),
    NestingError: (status.HTTP_400_BAD_REQUEST, _message),
    # A lookup value the model field refuses (e.g. a malformed uuid in a URL).
    ValidationError: (status.HTTP_400_BAD_REQUEST, _message),
    # A subset that cannot be made as asked: a bad region, variable or time, a swath
    # not VERIFIED, a search matching nothing or too much.
    SubsetError: (status.HTTP_400_BAD_REQUEST, _message),
    SubsetTooLarge: (status.HTTP_400_BAD_REQUEST, too_large_body),
    # The swath's bytes are gone from every store (a retry of a product cut from it).
    SourceGone: (status.HTTP_410_GONE, _message),
    ObjectDoesNotExist: (status.HTTP_404_NOT_FOUND, _message),
    NotDownloadable: (status.HTTP_409_CONFLICT, _message),
    NotRetryable: (status.HTTP_409_CONFLICT, _message),
    Gone: (status.HTTP_410_GONE, _message),
    PayloadTooLarge: (status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, _message),
    RequestDataTooBig: (status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, _message),
}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF hook (every DRF and STAC view): the answer ERRORS gives for `exc`."""
    for cls in type(exc).__mro__:
        if cls in ERRORS:
            code, body = ERRORS[cls]
            return Response(body(exc), status=code)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"error": str(response.data["detail"])}
    return response


# Django's handlers (config/urls.py) for what never reaches a DRF view, or escapes
# one: JSON on the API's paths, Django's own pages elsewhere. Django has logged a
# 500 (with its traceback) before server_error is called.
def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: {"error": ...} on API paths, so a client never parses an HTML page."""
    if _is_api(request):
        return JsonResponse({"error": "internal server error; it has been logged"}, status=500)
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400 (SuspiciousOperation and the like): JSON on API paths."""
    if _is_api(request):
        return JsonResponse({"error": "bad request"}, status=400)
    return defaults.bad_request(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404 for URLs no route matches: JSON on API paths."""
    if _is_api(request):
        return JsonResponse({"error": f"no such URL: {request.path[:200]}"}, status=404)
    return defaults.page_not_found(request, exception)

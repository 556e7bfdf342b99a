"""GET /api/v1/swaths/{uuid}/quicklook.png: the PNG drawn at ingest (ingest/pipeline.py).

A quicklook is at most 512 pixels on a side, so it is read whole and checked against
its SHA-256 before the first byte goes out: a corrupt object answers 410, never a
broken image. The ETag is that SHA-256, so a browser revalidates for nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db.models.fields.json import KeyTransform
from django.http import HttpResponse
from rest_framework.request import Request

from api.exceptions import Gone
from archive.config import get_store
from archive.errors import ArchiveError
from catalog.models import Swath, SwathState

# Quicklooks change only when a swath is archived again; the ETag catches that case.
MAX_AGE_S = 86400


class NoQuicklook(ObjectDoesNotExist):
    """The swath exists but has no quicklook (404); the message says why."""


def quicklook_of(uuid: str) -> dict:
    """The swath's attrs["quicklook"] record; raises DoesNotExist or NoQuicklook with a reason."""
    row = (Swath.objects.filter(uuid=uuid)
           .annotate(ql=KeyTransform("quicklook", "attrs"),
                     ql_error=KeyTransform("quicklook_error", "attrs"))
           .values("state", "ql", "ql_error").first())
    if row is None:
        raise Swath.DoesNotExist(f"no swath {uuid}")
    if row["state"] != SwathState.VERIFIED:
        raise NoQuicklook(f"swath {uuid} is {row['state']}; quicklooks are made once a swath "
                          f"is VERIFIED")
    look = row["ql"]
    if isinstance(look, dict) and look.get("key") and look.get("store"):
        return look
    if row["ql_error"]:
        raise NoQuicklook(f"swath {uuid} has no quicklook: {row['ql_error']}")
    raise NoQuicklook(f"swath {uuid} has no quicklook (none is drawn for empty swaths, nor "
                      f"when INGEST_QUICKLOOKS was off at ingest)")


def _read(look: dict, uuid: str) -> bytes:
    try:
        store = get_store(look["store"])
        with store.open(look["key"], expected_sha256=look.get("sha256") or None) as stream:
            return stream.read()
    except LookupError as e:  # the store was removed from STORES since
        raise Gone(f"the quicklook of swath {uuid} is in store {look['store']!r}, which is "
                   f"not configured: {e}") from e
    except ArchiveError as e:  # missing or corrupt
        raise Gone(f"the quicklook of swath {uuid} cannot be read from store "
                   f"{look['store']!r}: {e}") from e


def quicklook_response(request: Request, uuid: str) -> HttpResponse:
    """Serve one swath's quicklook PNG (see the module docstring)."""
    look = quicklook_of(uuid)
    scope = "public" if settings.API_PUBLIC_READS else "private"
    headers = {"Cache-Control": f"{scope}, max-age={MAX_AGE_S}"}
    if look.get("sha256"):
        headers["ETag"] = f'"{look["sha256"]}"'
        if request.headers.get("If-None-Match") in (headers["ETag"], "*"):
            return HttpResponse(status=304, headers=headers)
    png = _read(look, uuid)
    response = HttpResponse(png, content_type="image/png", headers=headers)
    response["Content-Length"] = str(len(png))
    return response

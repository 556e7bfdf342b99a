"""Request body size, checked from Content-Length before anything reads the body.

DRF's parsers read the stream directly, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE
(which guards request.body) does not protect them: a 50 MB JSON body would be
parsed in full. Views that take a body call this first (RELIABILITY M9).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request

from api.exceptions import PayloadTooLarge


def check_body_size(request: Request) -> None:
    """Raise PayloadTooLarge when the declared body is over the limit."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if not length.isdigit():
        return
    # Compared as text past 18 digits: int() of a very long string raises ValueError.
    if len(length) > 18 or int(length) > limit:
        raise PayloadTooLarge(f"the request body is {length[:20]} bytes; the limit is {limit}")

"""Request-rate limits: DRF's anonymous and per-user rates, with byte-range reads of a
swath's bytes counted apart.

A client reading an archived swath through its chunk references (xarray over fsspec,
api.references) asks for each chunk with one Range request of the download URL: opening
one granule with all its variables takes hundreds (617 for a shared MLS file). Counted
with searches, at the default 600 a minute, one such read would shut an anonymous user
out of the whole API for a minute. Range reads of the download are therefore counted in
scopes of their own ("anon_ranges", "user_ranges", ten times the others by default);
every other request, whole downloads included, is counted as before.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


def is_range_read(request: Request, view: Any) -> bool:
    """A GET or HEAD of a swath's bytes asking for a byte range."""
    return (request.method in ("GET", "HEAD") and bool(request.headers.get("Range"))
            and getattr(view, "action", None) == "download")


class _RangesApart(SimpleRateThrottle):
    ranges_scope = ""

    def allow_request(self, request: Request, view: Any) -> bool:
        if is_range_read(request, view):
            # The scope names the rate and the counter's cache key alike.
            self.scope = self.ranges_scope
            self.rate = self.get_rate()
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class AnonThrottle(_RangesApart, AnonRateThrottle):
    """AnonRateThrottle, range reads counted in "anon_ranges"."""

    ranges_scope = "anon_ranges"


class UserThrottle(_RangesApart, UserRateThrottle):
    """UserRateThrottle, range reads counted in "user_ranges"."""

    ranges_scope = "user_ranges"

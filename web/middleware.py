"""Content-Security-Policy on every response.

Every page loads its scripts from our own static files: the map (vendored Leaflet, our
modules; its configuration is a JSON data block, which CSP does not execute), the
sign-in page, /api/docs/ (vendored Swagger UI and drf-spectacular's init script served
as a file by SpectacularSwaggerSplitView), the admin (its map widget too:
catalog/widgets.py) and DRF's browsable API. Styles may be inline only where a page
needs it, under /api/ and /stac/ (Swagger UI's page and DRF's browsable API set style
attributes); the map, sign-in and admin pages do not. Images come from our own origin,
data: URIs and the map's optional tile server (WEB_TILE_URL), nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# Pages whose own markup or libraries use inline styles (never inline scripts).
INLINE_STYLE_PREFIXES = ("/api/", "/stac/")


def image_sources() -> list[str]:
    """Our own images and data: URIs, and the map's tile server (WEB_TILE_URL) if any."""
    tiles = urlsplit(settings.WEB_TILE_URL or "")
    host = tiles.netloc.replace("{s}", "*")  # Leaflet's subdomain placeholder: a wildcard
    extra = [f"{tiles.scheme}://{host}"] if tiles.scheme and host else []
    return ["'self'", "data:", *extra]


def policy(inline_styles: bool) -> str:
    """The Content-Security-Policy header value."""
    styles = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        f"style-src {styles}",
        f"img-src {' '.join(image_sources())}",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


class ContentSecurityPolicyMiddleware:
    """Adds Content-Security-Policy to every response that has none of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy(
                request.path.startswith(INLINE_STYLE_PREFIXES))
        return response

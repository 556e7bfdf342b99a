"""JSON renderers for the media types STAC clients ask for, and negotiation that never 406s.

STAC clients send Accept: application/geo+json or application/schema+json; every
answer here is JSON, so the first renderer is always chosen rather than refusing.
"""

from __future__ import annotations

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

# Coordinates in every GeoJSON answer (STAC items and bboxes, REST features, swath
# detail) have at most 7 decimals, about 1 cm on the ground: footprints are drawn
# kilometres wide, and more digits only cost bytes.
COORD_DECIMALS = 7


class GeoJSONRenderer(JSONRenderer):
    media_type = "application/geo+json"


class SchemaJSONRenderer(JSONRenderer):
    media_type = "application/schema+json"


class FirstRenderer(BaseContentNegotiation):
    """Always the view's first renderer (all of them write JSON)."""

    def select_parser(self, request: Request, parsers: list) -> object:
        for parser in parsers:
            if parser.media_type == "application/json":
                return parser
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type

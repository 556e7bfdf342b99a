"""The API's JSON parser: DRF's, with the nesting depth of every body bounded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.parsers import JSONParser

from catalog.nesting import MAX_JSON_DEPTH, NestingError, check_json_depth

BODY = "the request body"


class BoundedJSONParser(JSONParser):
    """JSONParser whose result nests at most MAX_JSON_DEPTH levels (NestingError else).

    Without it a body of 50,000 `[` made the json module raise RecursionError (a
    500), and a body just under that depth reached code that recurses over it.
    """

    def parse(self, stream: IO[bytes], media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        """Return the parsed body; ParseError if it is not JSON, NestingError if too deep."""
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as e:
            raise NestingError(f"{BODY} nests deeper than {MAX_JSON_DEPTH} levels") from e
        check_json_depth(data, BODY)
        return data

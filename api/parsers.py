"""The API's JSON parser: DRF's, with the nesting depth of every body bounded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from catalog import nesting

BODY = "the request body"


class BoundedJSONParser(JSONParser):
    """JSONParser whose result nests at most nesting.MAX_JSON_DEPTH levels.

    Without it a body of 50,000 `[` made the json module raise RecursionError (a
    500), and a body just under that depth reached code that recurses over it. Too
    deep is a NestingError naming the top-level key it happened under (a 400).
    """

    def parse(self, stream: IO[bytes], media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        """Return the parsed body; ParseError if it is not JSON, NestingError if too deep."""
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            # DRF's own strictness: NaN and Infinity are not JSON.
            return nesting.loads(text, BODY, keyed=True,
                                 parse_constant=_refuse_constant if self.strict else None)
        except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise ParseError(f"JSON parse error - {e}") from e


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")

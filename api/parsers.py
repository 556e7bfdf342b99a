"""The API's JSON parser: DRF's, with the nesting depth of every body bounded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from eo import nesting

BODY = "the request body"


class BoundedJSONParser(JSONParser):
    """JSONParser for bodies of at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes, nested at most
    nesting.MAX_JSON_DEPTH levels.

    Without it a body of 50,000 `[` made the json module raise RecursionError (a
    500), and a body just under that depth reached code that recurses over it. Too
    deep is a NestingError naming the top-level key it happened under (a 400).
    """

    def parse(self, stream: IO[bytes], media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        """Return the parsed body; ParseError if it is not JSON, NestingError if too deep."""
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # DRF's parsers read the stream themselves, past Django's size check on
        # request.body: the limit is held here for every JSON body (a chunked body
        # declares no Content-Length for api.limits to see).
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            # Django's own error for this (mapped to 413 in api/exceptions.py): importing
            # api.exceptions here would be circular (it imports DRF, DRF this parser).
            raise RequestDataTooBig(f"{BODY} is over {limit} bytes")
        try:
            text = raw.decode(encoding)
            # DRF's own strictness: NaN and Infinity are not JSON.
            return nesting.loads(text, BODY, keyed=True,
                                 parse_constant=_refuse_constant if self.strict else None)
        except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise ParseError(f"JSON parse error - {e}") from e


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")

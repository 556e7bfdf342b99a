"""How deeply user-supplied JSON and WKT nest, measured without recursion.

Every reader of nested input recurses: Python's json module, GEOS's WKT reader,
shapely's shape(), the CQL2 compiler. Input nested thousands deep makes one of them
raise RecursionError (a 500) or worse, so the API and the subset regions refuse it
here first, each with its own error naming the parameter. No Django here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

# Deep enough for any search body: a CQL2 filter of 40 nested operators is 80 levels
# of JSON, a MultiPolygon's positions 4 more.
MAX_JSON_DEPTH = 100
# A GeometryCollection of MultiPolygons is 4 levels of parentheses in WKT.
MAX_WKT_DEPTH = 8
_PARENS = re.compile(r"[()]")
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class NestingError(Exception):
    """The input nests deeper than its limit; the message says where."""


def check_json_depth(value: Any, name: str, limit: int = MAX_JSON_DEPTH,
                     keyed: bool = False) -> None:
    """Raise NestingError when arrays and objects in `value` nest deeper than `limit`.

    The message names `name` and, when `keyed` (a request body: its keys are the
    parameters), the top-level key under which the limit was passed.

    >>> check_json_depth({"a": [[1]]}, "body", limit=3)
    >>> check_json_depth({"a": [[[1]]]}, "body", limit=3, keyed=True)
    Traceback (most recent call last):
    ...
    eo.nesting.NestingError: body nests deeper than 3 levels (in 'a')
    """
    stack: list[tuple[Any, int, str | None]] = [(value, 1, None)]
    while stack:
        item, depth, top = stack.pop()
        if depth > limit:
            where = f" (in {top!r})" if keyed and top is not None else ""
            raise NestingError(f"{name} nests deeper than {limit} levels{where}")
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(child, dict | list):
                    stack.append((child, depth + 1, key if top is None and depth == 1 else top))
        elif isinstance(item, list):
            stack.extend((child, depth + 1, top) for child in item
                         if isinstance(child, dict | list))


def loads(text: str | bytes, name: str, limit: int = MAX_JSON_DEPTH,
          parse_constant: Callable[[str], Any] | None = None, keyed: bool = False) -> Any:
    """json.loads, with NestingError for input nested deeper than `limit`.

    ValueError (not JSON) passes through for the caller to name; NestingError is no
    ValueError, so a handler of "not JSON" does not swallow it. The C decoder gives
    up on deep input with RecursionError at about the interpreter's recursion limit,
    before any Python code walks the result; the depth walk then holds whatever it
    accepted to `limit`.

    >>> loads('{"filter": ' + '[' * 5000 + ']' * 5000 + '}', "body", keyed=True)
    Traceback (most recent call last):
    ...
    eo.nesting.NestingError: body nests deeper than 100 levels (in 'filter')
    """
    try:
        value = json.loads(text, parse_constant=parse_constant)
    except RecursionError as e:
        key = _deep_key(text.decode() if isinstance(text, bytes) else text) if keyed else None
        where = f" (in {key!r})" if key is not None else ""
        raise NestingError(f"{name} nests deeper than {limit} levels{where}") from e
    check_json_depth(value, name, limit, keyed)
    return value


def _deep_key(text: str) -> str | None:
    """The key of the top-level object whose value the decoder could not nest into."""
    decoder, i = json.JSONDecoder(), _space(text, 0)
    if text[i:i + 1] != "{":
        return None
    i += 1
    while True:
        try:
            key, i = decoder.raw_decode(text, _space(text, i))
            i = _space(text, i)
            if not isinstance(key, str) or text[i:i + 1] != ":":
                return None
            try:
                _, i = decoder.raw_decode(text, _space(text, i + 1))
            except RecursionError:
                return key
            i = _space(text, i)
        except ValueError:
            return None
        if text[i:i + 1] != ",":
            return None
        i += 1


def _space(text: str, i: int) -> int:
    return _WHITESPACE.match(text, i).end()  # type: ignore[union-attr]


def check_wkt_depth(text: str, name: str, limit: int = MAX_WKT_DEPTH) -> None:
    """Raise NestingError when the parentheses of a WKT text nest deeper than `limit`.

    >>> check_wkt_depth("MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)))", "geometry")
    >>> check_wkt_depth("GEOMETRYCOLLECTION(" * 9, "geometry")
    Traceback (most recent call last):
    ...
    eo.nesting.NestingError: geometry nests deeper than 8 levels of parentheses
    """
    depth = 0
    for m in _PARENS.finditer(text):
        depth += 1 if m.group() == "(" else -1
        if depth > limit:
            raise NestingError(f"{name} nests deeper than {limit} levels of parentheses")

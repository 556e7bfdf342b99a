"""CQL2-text and CQL2-JSON to one JSON expression, read by the `cql2` package.

`cql2` (pgSTAC's parser, Rust) knows the whole grammar; api.cql2.compile serves the
part our queryables can answer. Its parser recurses without a limit and backtracks:
3,000 nested parentheses, or 20,000 chained comparisons, crash the process
(SIGSEGV; 1,000 in a thread of 2 MB of stack), and text that fails to parse is read
again twice per level of bare parentheses around the failure (20 levels took 5 s; a
failure inside 8 levels of a 16,000-character filter 1.1 s). So every filter is
measured here first, in one pass without recursion, and what could hurt never reaches
it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import cql2

from api.exceptions import QueryError

MAX_TEXT = 100_000
# Terms (operators, comparisons, IN-list values) in one filter. Each becomes at most
# three SQL conditions, and SQLite refuses a WHERE clause nested more than 1,000
# deep ("Expression tree is too large"): an OR of 999 terms failed there.
MAX_NODES = 250
# Operators nested in one another (NOT NOT ..., parentheses, function calls).
MAX_DEPTH = 40
# 2 ** (bare parentheses around a failure) * characters: ~0.4 us each here, so a
# failure costs at most ~0.2 s (measured: benchmarks/cql2_parse.py): 100,000
# characters in 1 level, 244 in 10.
MAX_BACKTRACK = 250_000
_TOKEN = re.compile(r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|[A-Za-z_][\w:.]*|<>|<=|>=|\d[\w.]*|\S")
BINARY = {"AND", "OR", "LIKE", "IN", "BETWEEN", "IS", "+", "-", "*", "/", "%", "^", "=",
          "<>", "<", "<=", ">", ">="}
GEOMETRY = {"POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING",
            "MULTIPOLYGON", "GEOMETRYCOLLECTION"}
KEYWORDS = BINARY | {"NOT"}
_WHERE = re.compile(r"--> (\d+):(\d+)")


class Expression(dict):
    """CQL2-JSON as cql2 read it from text: parse_json does not read it again (220 us)."""


def check_text(text: str) -> None:
    """QueryError when CQL2-text is too long, too deep or too costly for the parser."""
    if not text.strip():
        raise QueryError("filter is empty")
    if len(text) > MAX_TEXT:
        raise QueryError(f"filter is longer than {MAX_TEXT} characters")
    stack: list[str] = []  # per open parenthesis: "bare", "call" or "geometry"
    nots = chain = ops = bare = deepest = 0
    prev = ""
    for token in _TOKEN.findall(text):
        word = token.upper()
        if token == "(":
            # A bare parenthesis (a group or a list) is where the parser backtracks;
            # a function call's or a geometry literal's is not.
            kind = ("geometry" if prev in GEOMETRY or stack[-1:] == ["geometry"] else
                    "call" if prev[:1].isalpha() and prev not in KEYWORDS else "bare")
            stack.append(kind)
            bare += kind == "bare"
            chain = 0
            deepest = max(deepest, bare)
        elif token == ")" and stack:
            bare -= stack.pop() == "bare"
        elif stack[-1:] != ["geometry"]:
            ops += word in BINARY
            nots = nots + 1 if word in ("NOT", "-") else 0
            # Operators other than AND and OR nest when chained (a = b = c, 1 + 2 + 3):
            # the parser recurses for each (~2 KB of stack; 1,000 crashed in 2 MB).
            chain = 0 if word in ("AND", "OR", ",") else chain + (word in BINARY)
        if len(stack) + nots + chain > MAX_DEPTH:
            raise QueryError(f"filter nests deeper than {MAX_DEPTH} levels")
        if ops > 2 * MAX_NODES:  # "a = 1 AND b = 2": two terms here, one in the JSON
            raise QueryError(f"filter has more than {MAX_NODES} terms")
        prev = word
    if 2 ** deepest * len(text) > MAX_BACKTRACK:
        raise QueryError(
            f"filter: CQL2-text of {len(text)} characters may nest parentheses at most "
            f"{max(0, (MAX_BACKTRACK // len(text)).bit_length() - 1)} deep (this has "
            f"{deepest}); use fewer parentheses (AND binds before OR) or CQL2-JSON")


def check_size(node: Any) -> None:
    """QueryError when a CQL2-JSON expression has too many terms or nests too deep.

    Measured before anything reads it (without recursion), so an oversized filter
    costs no work, not even the collection lookups of its first terms.
    """
    terms, stack = 0, [(node, 1)]
    while stack:
        n, depth = stack.pop()
        if not (isinstance(n, dict) and isinstance(n.get("op"), str)):
            continue
        if depth > MAX_DEPTH:
            raise QueryError(f"filter nests deeper than {MAX_DEPTH} levels")
        args = n.get("args")
        args = args if isinstance(args, list) else []
        # An operator, and each value of a list argument (IN) counts.
        terms += 1 + sum(len(a) for a in args if isinstance(a, list))
        if terms > MAX_NODES:
            raise QueryError(f"filter has more than {MAX_NODES} terms")
        stack.extend((a, depth + 1) for a in args)


def parse_text(text: str) -> Any:
    """CQL2-text as CQL2-JSON; QueryError says where it cannot be read.

    >>> parse_text("collection = 'a' AND NOT eo:cloud_cover > 5")["op"]
    'and'
    """
    if not isinstance(text, str):
        raise QueryError("filter must be a string")
    check_text(text)
    try:
        node = cql2.parse_text(text).to_json()
    except (cql2.ParseError, ValueError) as e:
        message = str(e)
        where = _WHERE.search(message)
        if where is None:
            raise QueryError(f"filter is not valid CQL2-text: {message[:300]}") from e
        line, column = int(where[1]), int(where[2])
        lines = text.splitlines()[line - 1:line] or [""]
        near = lines[0][column - 1:column + 19]
        expected = message.rsplit("= ", 1)[-1][:300]
        raise QueryError(f"filter is not valid CQL2-text at line {line}, column {column} "
                         f"({near!r}): {expected}") from e
    check_size(node)
    return Expression(node) if isinstance(node, dict) else node


def parse_json(node: Any) -> Any:
    """A CQL2-JSON expression as cql2 reads it (a QueryError naming what is wrong)."""
    if isinstance(node, Expression):
        return node
    check_size(node)
    try:
        text = json.dumps(node, allow_nan=False)
    except ValueError as e:  # CQL2-text's 1e999 is an infinite float
        raise QueryError("filter: a number is out of range") from e
    try:
        return cql2.parse_json(text).to_json()
    except (cql2.ParseError, ValueError) as e:
        raise QueryError(
            'filter is not valid CQL2-JSON: an expression is {"op": ..., "args": [...]}, '
            f'a {{"property": ...}} or a literal ({str(e)[:200]})') from e

"""CQL2-text to CQL2-JSON: a small recursive-descent parser for the subset we serve.

Grammar (OGC 21-065, the parts in basic-cql2, basic spatial and temporal functions,
plus LIKE, BETWEEN and IN): boolean AND/OR/NOT with parentheses, comparisons,
IS [NOT] NULL, function calls such as S_INTERSECTS(geometry, POLYGON(...)) and
T_INTERSECTS(datetime, INTERVAL('..', '..')). Geometry literals stay WKT
({"wkt": ...}) and are checked by api.geometry when the filter is compiled.
"""

from __future__ import annotations

import re
from typing import Any

from api.cql2.compile import MAX_DEPTH
from api.exceptions import QueryError

MAX_TEXT = 100_000
# Digits and signs of one number: more than any queryable holds (int() of a literal
# of 5,000 digits raises ValueError past sys.int_max_str_digits).
MAX_NUMBER = 40

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<str>'(?:[^']|'')*')
    | (?P<qid>"(?:[^"]|"")+")
    | (?P<op><>|<=|>=|=|<|>|\(|\)|,)
    | (?P<id>[A-Za-z_][A-Za-z0-9_:.\-]*)
    )""",
    re.VERBOSE,
)
GEOMETRY_WORDS = {"POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING",
                  "MULTIPOLYGON", "GEOMETRYCOLLECTION"}
KEYWORDS = {"AND", "OR", "NOT", "IS", "NULL", "LIKE", "BETWEEN", "IN", "TRUE", "FALSE"}


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise QueryError(f"filter: cannot read CQL2-text at character {pos}: "
                             f"{text[pos:pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    # -- helpers ---------------------------------------------------------------
    def peek(self, offset: int = 0) -> tuple[str, str, int] | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def word(self, offset: int = 0) -> str:
        t = self.peek(offset)
        return t[1].upper() if t and t[0] == "id" else ""

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        t = self.peek()
        if t is None:
            raise QueryError(f"filter: CQL2-text ends early; expected {value or 'more'}")
        if value is not None and t[1].upper() != value:
            raise QueryError(f"filter: expected {value!r} at character {t[2]}, found {t[1]!r}")
        self.i += 1
        return t

    def enter(self) -> None:
        """One level deeper (a parenthesis, a NOT, a function call): each recurses."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"filter nests deeper than {MAX_DEPTH} levels")

    def fail(self, what: str) -> QueryError:
        t = self.peek()
        where = f"character {t[2]} ({t[1]!r})" if t else "the end"
        return QueryError(f"filter: expected {what} at {where}")

    # -- grammar ---------------------------------------------------------------
    def parse(self) -> dict[str, Any]:
        node = self.expr()
        if self.peek() is not None:
            raise self.fail("AND, OR or the end of the filter")
        return node

    def expr(self) -> dict[str, Any]:
        self.enter()
        args = [self.conj()]
        while self.word() == "OR":
            self.take()
            args.append(self.conj())
        self.depth -= 1
        return args[0] if len(args) == 1 else {"op": "or", "args": args}

    def conj(self) -> dict[str, Any]:
        args = [self.neg()]
        while self.word() == "AND":
            self.take()
            args.append(self.neg())
        return args[0] if len(args) == 1 else {"op": "and", "args": args}

    def neg(self) -> dict[str, Any]:
        if self.word() == "NOT":
            self.take()
            self.enter()
            node = {"op": "not", "args": [self.neg()]}
            self.depth -= 1
            return node
        return self.predicate()

    def predicate(self) -> dict[str, Any]:
        t = self.peek()
        if t and t[1] == "(":
            self.take("(")
            node = self.expr()
            self.take(")")
            return node
        left = self.scalar()
        w = self.word()
        if w == "IS":
            self.take()
            negate = self.word() == "NOT"
            if negate:
                self.take()
            self.take("NULL")
            node = {"op": "isNull", "args": [left]}
            return {"op": "not", "args": [node]} if negate else node
        negate = w == "NOT"
        if negate:
            self.take()
            w = self.word()
        if w == "LIKE":
            self.take()
            node = {"op": "like", "args": [left, self.scalar()]}
        elif w == "BETWEEN":
            self.take()
            lo = self.scalar()
            self.take("AND")
            node = {"op": "between", "args": [left, [lo, self.scalar()]]}
        elif w == "IN":
            self.take()
            self.take("(")
            items = [self.scalar()]
            while self.peek() and self.peek()[1] == ",":
                self.take(",")
                items.append(self.scalar())
            self.take(")")
            node = {"op": "in", "args": [left, items]}
        elif negate:
            raise self.fail("LIKE, BETWEEN or IN after NOT")
        else:
            if isinstance(left, dict) and "op" in left and left.get("_bool"):
                left.pop("_bool")
                return left  # a boolean function call such as S_INTERSECTS(...)
            t = self.peek()
            if t is None or t[0] != "op" or t[1] not in ("=", "<>", "<", "<=", ">", ">="):
                raise self.fail("a comparison operator")
            self.take()
            return {"op": t[1], "args": [left, self.scalar()]}
        return {"op": "not", "args": [node]} if negate else node

    def scalar(self) -> Any:
        t = self.peek()
        if t is None:
            raise self.fail("a value")
        kind, value, _ = t
        if kind == "num":
            if len(value) > MAX_NUMBER:
                raise QueryError(f"filter: the number at character {t[2]} is longer than "
                                 f"{MAX_NUMBER} characters")
            self.take()
            return float(value) if any(c in value for c in ".eE") else int(value)
        if kind == "str":
            self.take()
            return value[1:-1].replace("''", "'")
        if kind == "qid":
            self.take()
            return {"property": value[1:-1].replace('""', '"')}
        if kind != "id":
            raise self.fail("a value")
        w = value.upper()
        if w in ("TRUE", "FALSE"):
            self.take()
            return w == "TRUE"
        if w in GEOMETRY_WORDS:
            return {"wkt": self.wkt()}
        nxt = self.peek(1)
        if nxt and nxt[1] == "(":
            return self.call(value)
        if w in KEYWORDS:
            raise self.fail("a property or a value")
        self.take()
        return {"property": value}

    def wkt(self) -> str:
        start = self.take()[2]
        depth, end = 0, None
        while True:
            t = self.take()
            if t[1] == "(":
                depth += 1
            elif t[1] == ")":
                depth -= 1
                if depth == 0:
                    end = t[2] + 1
                    break
        return self.text[start:end]

    def call(self, name: str) -> dict[str, Any]:
        self.take()
        self.take("(")
        self.enter()
        args: list[Any] = []
        if self.peek() and self.peek()[1] != ")":
            args.append(self.scalar())
            while self.peek() and self.peek()[1] == ",":
                self.take(",")
                args.append(self.scalar())
        self.take(")")
        self.depth -= 1
        upper = name.upper()
        if upper == "TIMESTAMP" and len(args) == 1:
            return {"timestamp": args[0]}
        if upper == "DATE" and len(args) == 1:
            return {"date": args[0]}
        if upper == "INTERVAL" and len(args) == 2:
            return {"interval": args}
        if upper == "BBOX":
            return {"bbox": args}
        return {"op": name.lower(), "args": args, "_bool": True}


def parse_text(text: str) -> dict[str, Any]:
    """Parse CQL2-text into CQL2-JSON; QueryError says where it went wrong.

    >>> parse_text("collection = 'a' AND NOT eo:cloud_cover > 5")["op"]
    'and'
    """
    if not isinstance(text, str) or not text.strip():
        raise QueryError("filter is empty")
    if len(text) > MAX_TEXT:
        raise QueryError(f"filter is longer than {MAX_TEXT} characters")
    node = _Parser(text).parse()
    _strip(node)
    return node


def _strip(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("_bool", None)
        for v in node.values():
            _strip(v)
    elif isinstance(node, list):
        for v in node:
            _strip(v)

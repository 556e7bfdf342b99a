"""CQL2 LIKE as the database's own pattern match, never a regular expression.

A CQL2 pattern has two wildcards, `%` (any run of characters) and `_` (one
character), and `\\` escapes the character after it; matching is case-sensitive.
PostgreSQL gets `LIKE ... ESCAPE '\\'` (case-sensitive there) and SQLite `GLOB`
(SQLite's LIKE ignores ASCII case). Both match in time proportional to the pattern
times the value, however many `%` it has: the regular expression this replaced
backtracked (15 `%` took 26 s on SQLite).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Lookup

from api.exceptions import QueryError

# Longer than any value a text queryable holds (slugs and platforms are <= 100).
MAX_PATTERN = 200
ANY, ONE = object(), object()


def parse_pattern(pattern: str) -> list[Any]:
    """The pattern as ANY, ONE and literal characters, runs of ANY collapsed to one.

    >>> parse_pattern("a%%%b_") == ["a", ANY, "b", ONE]
    True
    >>> parse_pattern(r"100\\%") == ["1", "0", "0", "%"]
    True
    """
    if len(pattern) > MAX_PATTERN:
        raise QueryError(f"filter: a LIKE pattern is limited to {MAX_PATTERN} characters")
    out: list[Any] = []
    chars = iter(pattern)
    for c in chars:
        if c == "\\":
            nxt = next(chars, None)
            if nxt is None:
                raise QueryError("filter: a LIKE pattern ends with an escape character (\\)")
            out.append(nxt)
        elif c == "%":
            if not out or out[-1] is not ANY:
                out.append(ANY)
        else:
            out.append(ONE if c == "_" else c)
    return out


def sql_like(parts: list[Any]) -> str:
    r"""The pattern for `LIKE ... ESCAPE '\'`.

    >>> sql_like(parse_pattern(r"a\%b%_"))
    'a\\%b%_'
    """
    return "".join("%" if p is ANY else "_" if p is ONE else
                   "\\" + p if p in ("%", "_", "\\") else p for p in parts)


def sqlite_glob(parts: list[Any]) -> str:
    """The pattern for SQLite's GLOB: * and ?, literal * ? [ inside brackets.

    >>> sqlite_glob(parse_pattern("a*%_[x]"))
    'a[*]*?[[]x]'
    """
    return "".join("*" if p is ANY else "?" if p is ONE else
                   f"[{p}]" if p in ("*", "?", "[") else p for p in parts)


def normalize(pattern: str) -> str:
    r"""The pattern checked, runs of % collapsed, in CQL2 syntax (QueryError if bad).

    >>> normalize("%%%%x%%")
    '%x%'
    """
    # CQL2's pattern syntax is SQL's with ESCAPE '\', so sql_like() writes it.
    return sql_like(parse_pattern(pattern))


class Cql2Like(Lookup):
    """`Q(Cql2Like(F(column), pattern))`: the column matches a CQL2 LIKE pattern."""

    lookup_name = "cql2_like"
    prepare_rhs = False
    can_use_none_as_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        parts = parse_pattern(value)
        pattern = sqlite_glob(parts) if connection.vendor == "sqlite" else sql_like(parts)
        return "%s", (pattern,)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.get_db_prep_lookup(self.rhs, connection)
        if connection.vendor == "sqlite":
            return f"{lhs} GLOB {rhs}", (*lhs_params, *rhs_params)
        return f"{lhs} LIKE {rhs} ESCAPE '\\'", (*lhs_params, *rhs_params)

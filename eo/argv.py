"""Command lines whose option values may start with '-': ``--bbox -10,40,10,50``.

argparse takes any word that starts with '-' and is not a plain negative number for an
option, so ``--bbox -10,40,10,50`` (a box whose west edge is negative, as the README
writes it) failed with "expected one argument"; only ``--bbox=-10,40,10,50`` worked.
Gluing such a value to its option before argparse sees it is the robust fix: it does
not depend on argparse internals, and every command with a W,S,E,N option shares it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any, TypeVar

Parser = TypeVar("Parser", bound=argparse.ArgumentParser)
# A comma-separated list of numbers whose first is negative: never an option name.
_NEGATIVE_LIST = re.compile(r"^-\d*\.?\d+([eE][-+]?\d+)?(,[-+]?[\d.eE+-]*)+$")


def glue_negative_values(args: Sequence[str], options: Sequence[str]) -> list[str]:
    """Return ``args`` with ``OPTION -1,2,...`` written as ``OPTION=-1,2,...``.

    >>> glue_negative_values(["--bbox", "-10,40,10,50", "--out", "x"], ["--bbox"])
    ['--bbox=-10,40,10,50', '--out', 'x']
    >>> glue_negative_values(["--bbox", "--out"], ["--bbox"])
    ['--bbox', '--out']
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = str(args[i])
        nxt = str(args[i + 1]) if i + 1 < len(args) else ""
        if arg in options and _NEGATIVE_LIST.match(nxt):
            out.append(f"{arg}={nxt}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def accept_negative_values(parser: Parser, options: Sequence[str] = ("--bbox",)) -> Parser:
    """Make ``parser`` read ``--bbox -10,40,10,50`` as ``--bbox=-10,40,10,50``; return it."""
    parse = parser.parse_known_args

    def parse_known_args(args: Sequence[str] | None = None,
                         namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        given = sys.argv[1:] if args is None else args
        return parse(glue_negative_values(given, options), namespace)

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign, assignment]
    return parser

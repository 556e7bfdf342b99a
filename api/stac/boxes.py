"""A footprint's bounding box as SQL on both spatial databases, in Box2D's text form."""

from __future__ import annotations

from typing import Any

from django.db.models import Func, TextField

from api.renderers import COORD_DECIMALS


def rounded_box_sql(box: str) -> tuple[str, str, str, str]:
    """PostgreSQL giving the W, S, E, N of a box2d expression, each rounded to
    COORD_DECIMALS and written without trailing zeros (the SQL item renderer's bbox)."""
    return tuple(  # type: ignore[return-value]
        f"trim_scale(round(ST_{end}({box})::numeric, {COORD_DECIMALS}))::text"
        for end in ("XMin", "YMin", "XMax", "YMax"))


class FootprintBox(Func):
    """`Box2D(column)` as the text "BOX(w s,e n)" that itemdef.bbox() reads, its
    numbers rounded to COORD_DECIMALS; NULL for a NULL geometry. Takes a column name
    only (see as_sqlite)."""

    arity = 1
    output_field = TextField()

    def as_sql(self, compiler: Any, connection: Any, **extra_context: Any
               ) -> tuple[str, list]:
        sql, params = compiler.compile(self.source_expressions[0])
        if params:
            raise ValueError("FootprintBox takes a geometry column, not an expression")
        w, s, e, n = rounded_box_sql(f"Box2D({sql})")
        return f"('BOX(' || {w} || ' ' || {s} || ',' || {e} || ' ' || {n} || ')')", []

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list]:
        # SpatiaLite (the embedded default) has no Box2D: the same text from its MBR
        # functions, so items.py reads one format from both databases. `||` with a NULL
        # is NULL, as Box2D(NULL) is. The column appears four times, which is only
        # right for an argument without parameters, hence columns only.
        sql, params = compiler.compile(self.source_expressions[0])
        if params:
            raise ValueError("FootprintBox takes a geometry column, not an expression")
        w, s, e, n = (f"round(Mbr{end}({sql}), {COORD_DECIMALS})"
                      for end in ("MinX", "MinY", "MaxX", "MaxY"))
        return f"'BOX(' || {w} || ' ' || {s} || ',' || {e} || ' ' || {n} || ')'", []

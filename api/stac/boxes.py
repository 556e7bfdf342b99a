"""A footprint's bounding box as SQL on both spatial databases, in Box2D's text form."""

from __future__ import annotations

from typing import Any

from django.db.models import Func, TextField


class FootprintBox(Func):
    """`Box2D(column)`: the text "BOX(w s,e n)" that items.bbox_from_box2d reads; NULL
    for a NULL geometry. Takes a column name only (see as_sqlite)."""

    function = "Box2D"
    arity = 1
    output_field = TextField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list]:
        # SpatiaLite (the embedded default) has no Box2D: the same text from its MBR
        # functions, so items.py reads one format from both databases. `||` with a NULL
        # is NULL, as Box2D(NULL) is. The column appears four times, which is only
        # right for an argument without parameters, hence columns only.
        sql, params = compiler.compile(self.source_expressions[0])
        if params:
            raise ValueError("FootprintBox takes a geometry column, not an expression")
        w, s, e, n = (f"Mbr{end}({sql})" for end in ("MinX", "MinY", "MaxX", "MaxY"))
        return f"'BOX(' || {w} || ' ' || {s} || ',' || {e} || ' ' || {n} || ')'", []

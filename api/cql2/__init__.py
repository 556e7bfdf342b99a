"""CQL2 filters (JSON and text) over allow-listed queryables, compiled to Django Q objects."""

from api.cql2.compile import QUERYABLES, compile_filter
from api.cql2.read import parse_text

__all__ = ["QUERYABLES", "compile_filter", "parse_text"]

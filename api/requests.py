"""Request models: one pydantic declaration per endpoint validates and documents a request.

A field is ``Annotated[<checked value>, rule(<checker>, <wire type>)]``: the checker is
the one rule below every entry point (eo's box, time and geometry rules, api.params,
api.paging), so its error names the parameter; the wire type is what the client sends,
and the OpenAPI schema (RequestModelExtension, ``query_parameters``) is made from it.
Unknown names are refused (``extra="forbid"``), and the schema says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Self

from drf_spectacular.contrib.pydantic import PydanticExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter
from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError
from pydantic_core import PydanticUseDefault

from api.exceptions import QueryError


def rule(check: Callable[[Any], Any], wire: Any, skip: tuple[Any, ...] = (None,)) -> Any:
    """A validator running `check` on what was sent (a value in `skip`: the default)."""
    def validate(value: Any) -> Any:
        if value in skip:
            raise PydanticUseDefault
        return check(value)
    return PlainValidator(validate, json_schema_input_type=wire if skip == () else wire | None)


class RequestModel(BaseModel):
    """A request's parameters; ``parse`` raises its first error, naming the parameter."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)
    what: ClassVar[str] = "the search body"  # named when the body is not an object

    @classmethod
    def names(cls) -> list[str]:
        return sorted(f.alias or n for n, f in cls.model_fields.items())

    @classmethod
    def parse(cls, data: Any) -> Self:
        """Return the checked request; raises the first error, which names the parameter."""
        if not isinstance(data, dict):
            raise QueryError(f"{cls.what} must be a JSON object")
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise _first_error(e, cls.names()) from None


def _first_error(e: ValidationError, allowed: list[str]) -> Exception:
    errors = e.errors(include_url=False)
    unknown = sorted(".".join(map(str, err["loc"])) for err in errors
                     if err["type"] == "extra_forbidden")
    if unknown:  # a nested object's allowed names are in the schema
        nested = any("." in name for name in unknown)
        return QueryError(f"unknown parameter(s): {', '.join(unknown)}"
                          + ("" if nested else f"; allowed: {', '.join(allowed)}"))
    cause = errors[0].get("ctx", {}).get("error")
    if isinstance(cause, Exception):  # a rule's own error (api.exceptions maps it)
        return cause
    where = ".".join(str(p) for p in errors[0]["loc"]) or "the body"
    return QueryError(f"{where}: {errors[0]['msg']}")


def query_parameters(model: type[RequestModel]) -> list[OpenApiParameter]:
    """The model's fields as OpenAPI query parameters (a query value is never null)."""
    schema = openapi30(model.model_json_schema(mode="validation"))
    params = []
    for name, prop in schema["properties"].items():
        first = prop.get("anyOf", [prop])[0]
        param = {k: v for k, v in first.items() if k not in ("nullable", "default")}
        params.append(OpenApiParameter(name, param, description=prop.get("description", ""),
                                       required=name in schema.get("required", ())))
    return params


class RequestModelExtension(PydanticExtension):
    """drf-spectacular's pydantic extension, with a request's schema in validation mode.

    The contrib extension renders serialization mode, which would describe the checked
    values (tuples, datetimes) rather than what a client may send.
    """

    target_class = "api.requests.RequestModel"
    priority = 1

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = openapi30(self.target.model_json_schema(
            ref_template="#/components/schemas/{model}", mode="validation"))
        for name, sub in schema.pop("$defs", {}).items():
            auto_schema.registry.register_on_missing(ResolvedComponent(
                name=name, type=ResolvedComponent.SCHEMA, object=name, schema=sub))
        return schema


def openapi30(node: Any) -> Any:
    """A JSON Schema (2020-12, pydantic's) in OpenAPI 3.0's dialect: nullable, enum, items."""
    if isinstance(node, list):
        return [openapi30(n) for n in node]
    if not isinstance(node, dict):
        return node
    # A default of a checked value (a sort order, a FieldSpec) is not what is sent: dropped.
    node = {k: openapi30(v) for k, v in node.items() if k != "title"
            and not (k == "default" and isinstance(v, list | dict))}
    options = node.get("anyOf", [])
    if {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        node.pop("anyOf")
        node.update(rest[0] if len(rest) == 1 and "$ref" not in rest[0] else {"anyOf": rest})
        node["nullable"] = True
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "prefixItems" in node:  # a tuple: n items of one type (a box's numbers)
        items = node.pop("prefixItems")
        node.update(items=items[0], minItems=len(items), maxItems=len(items))
    return node

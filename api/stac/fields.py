"""The STAC fields extension: which parts of each Item to return.

- no fields, or an empty one: the whole Item (GET) / the default set (empty POST object);
- include given: only those paths; exclude given alone: everything but those paths;
  include empty or null with exclude: the default set less the excluded paths;
- a path in both lists is included; a more specific include beats a broader exclude.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from api.exceptions import QueryError

DEFAULT_SET = ["type", "stac_version", "id", "geometry", "bbox", "links", "assets",
               "collection", "properties.datetime"]
# Kept whatever include says: without them the answer is no longer a STAC Item.
ALWAYS = ["type", "stac_version", "id", "collection"]
MAX_PATHS = 50


@dataclass(frozen=True)
class FieldSpec:
    """include None: absent (everything); include []: the default set."""

    include: list[str] | None = None
    exclude: tuple[str, ...] = ()
    active: bool = False


def _paths(items: Any, name: str) -> list[str]:
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise QueryError(f"fields.{name} must be an array of strings")
    if len(items) > MAX_PATHS:
        raise QueryError(f"fields.{name} lists more than {MAX_PATHS} paths")
    return [i.strip() for i in items if i.strip()]


def parse_fields_get(raw: str | None) -> FieldSpec:
    """'id,+bbox,-geometry' (an empty value means the default set)."""
    if raw is None:
        return FieldSpec()
    include, exclude = [], []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if part.startswith("-"):
            exclude.append(part[1:])
        else:
            include.append(part.lstrip("+"))
    if len(include) + len(exclude) > MAX_PATHS:
        raise QueryError(f"fields lists more than {MAX_PATHS} paths")
    if not include and not exclude:
        return FieldSpec(include=[], active=True)
    return FieldSpec(include=include or None, exclude=tuple(exclude), active=True)


def parse_fields_post(raw: Any) -> FieldSpec:
    """{"include": [...], "exclude": [...]}."""
    if raw is None:
        return FieldSpec()
    if not isinstance(raw, dict) or set(raw) - {"include", "exclude"}:
        raise QueryError('fields must be an object with "include" and/or "exclude" arrays')
    include = _paths(raw.get("include"), "include")
    exclude = _paths(raw.get("exclude"), "exclude")
    if "include" not in raw and exclude:
        return FieldSpec(include=None, exclude=tuple(exclude), active=True)
    return FieldSpec(include=include, exclude=tuple(exclude), active=True)


def _get(item: dict, path: str) -> tuple[bool, Any]:
    node: Any = item
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _put(out: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    node = out
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = copy.deepcopy(value) if isinstance(value, dict) else value


def _drop(item: dict, path: str) -> None:
    parts = path.split(".")
    node: Any = item
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(parts[-1], None)


def apply(item: dict[str, Any], spec: FieldSpec) -> dict[str, Any]:
    """Return the item reduced to the requested fields."""
    if not spec.active:
        return item
    include = spec.include or []
    if spec.include is None:
        out = item
    else:
        out = {}
        for path in ALWAYS + (include or DEFAULT_SET):
            found, value = _get(item, path)
            if found:
                _put(out, path, value)
    for path in spec.exclude:
        # An explicit include wins over an exclude of the same or a broader path.
        if path in include or any(k.startswith(path + ".") for k in include):
            continue
        _drop(out, path)
    return out

"""The project's URL routes as written, for tests that walk every route."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver


def all_routes() -> list[str]:
    """Every URL pattern of the project joined to its prefixes, still holding its regexes."""
    routes: list[str] = []

    def walk(patterns: list, prefix: str) -> None:
        for p in patterns:
            route = str(p.pattern).lstrip("^").rstrip("$")
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + route)
            elif isinstance(p, URLPattern):
                routes.append(prefix + route)

    walk(get_resolver().url_patterns, "/")
    return routes

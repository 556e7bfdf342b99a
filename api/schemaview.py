"""/api/schema/: drf-spectacular's view, generating one schema at a time per process.

drf-spectacular (0.30) loads its extensions' target classes lazily and not thread-
safely: two first requests in two gunicorn threads raced in
`OpenApiGeneratorExtension._load_class` (one set `target_class` to None while the
other still used it) and one answered 500. The schema is rarely asked for, so the
generation is serialised.
"""

from __future__ import annotations

import threading
from typing import Any

from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request
from rest_framework.response import Response

_GENERATING = threading.Lock()


class SchemaView(SpectacularAPIView):
    """SpectacularAPIView with schema generation under a process-wide lock."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The OpenAPI schema, as SpectacularAPIView renders it."""
        with _GENERATING:
            return super().get(request, *args, **kwargs)

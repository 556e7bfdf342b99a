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

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from drf_spectacular.views import SpectacularAPIView

_GENERATING = threading.Lock()


class SchemaView(SpectacularAPIView):
    """SpectacularAPIView with schema generation under a process-wide lock."""

    # dispatch, not get: SpectacularAPIView.get carries the schema of this endpoint
    # itself (@extend_schema), which an override of get would lose.
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """The OpenAPI schema, as SpectacularAPIView answers it."""
        with _GENERATING:
            return super().dispatch(request, *args, **kwargs)

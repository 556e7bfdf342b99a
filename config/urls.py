"""URL map: the map page at /, REST at /api/v1/, the schema, and the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from api.schemaview import SchemaView
from api.subsets.views import SubsetListNoSlashView

urlpatterns = [
    path("", include("web.urls")),
    # POST /api/v1/subsets (no slash) must reach the view: a redirect would drop the body.
    path("api/v1/subsets", SubsetListNoSlashView.as_view(), name="subsets-noslash"),
    path("api/v1/subsets/", include("api.subsets.urls")),
    path("api/v1/", include("api.urls")),
    path("stac/", include("api.stac.urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # Swagger UI's init script as a file of its own (?script), not inline: the CSP allows
    # no inline script. Swagger UI itself is vendored (SPECTACULAR_SETTINGS).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

# JSON errors on /api/ and /stac/ for what no DRF view answers (api/exceptions.py).
handler400 = "api.exceptions.bad_request"
handler404 = "api.exceptions.page_not_found"
handler500 = "api.exceptions.server_error"

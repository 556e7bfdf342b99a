"""URLs under /api/v1/."""

from __future__ import annotations

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from api import exportviews, regions, views

app_name = "api"
router = DefaultRouter()
router.register("collections", views.CollectionViewSet, basename="collection")
router.register("swaths", views.SwathViewSet, basename="swath")
router.register("regions", regions.RegionViewSet, basename="region")
router.register("ingest-runs", views.IngestRunViewSet, basename="ingest-run")
router.register("products", views.ProductViewSet, basename="product")
urlpatterns = [
    # The download URL without its trailing slash too: clients (curl -O, STAC asset
    # hrefs) should not need to follow a redirect first.
    re_path(r"^swaths/(?P<uuid>[0-9a-fA-F-]{32,36})/download$",
            views.SwathViewSet.as_view({"get": "download"}, schema=None),
            name="swath-download-noslash"),
    # Exports (api.exports) list this download URL: wget and curl -O save a file under
    # its URL's last segment, the file's name.
    re_path(r"^swaths/(?P<uuid>[0-9a-fA-F-]{32,36})/download/(?P<filename>[^/]+)$",
            exportviews.NamedDownloadView.as_view(), name="swath-download-named"),
    re_path(r"^swaths/export$", exportviews.SwathExportView.as_view(), name="swath-export"),
    # The quicklook's canonical URL (a STAC asset href) has no slash; the action's own
    # settings (JSON errors whatever the Accept header) apply here too.
    re_path(r"^swaths/(?P<uuid>[0-9a-fA-F-]{32,36})/quicklook\.png$",
            views.SwathViewSet.as_view({"get": "quicklook"},
                                       **{**views.SwathViewSet.quicklook.kwargs, "schema": None}),
            name="swath-quicklook-noslash"),
    re_path(r"^swaths/(?P<uuid>[0-9a-fA-F-]{32,36})/references\.json$",
            views.SwathViewSet.as_view({"get": "references"},
                                       **{**views.SwathViewSet.references.kwargs, "schema": None}),
            name="swath-references-noslash"),
    *router.urls,
]

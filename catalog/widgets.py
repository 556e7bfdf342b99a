"""The admin's map widget for geometries, offline and without inline scripts.

Django's OpenLayersWidget loads OpenLayers from a CDN, draws a remote tile layer and
starts itself with an inline script: none of that works on an offline machine or under
the Content-Security-Policy (web/middleware.py). This one uses the OpenLayers build
web/build.sh vendors, the offline Natural Earth land polygons of the map page as its
base layer, and a static script that reads its options from a JSON data block.
"""

from __future__ import annotations

from typing import Any

from django.contrib.gis.forms.widgets import OpenLayersWidget
from django.templatetags.static import static
from django.utils.html import json_script


class OfflineMapWidget(OpenLayersWidget):
    """Django's MapWidget (gis/js/OLMapWidget.js) over an offline base map."""

    template_name = "catalog/admin/map_widget.html"

    class Media:
        extend = False  # not the parent's CDN files
        css = {"all": ("vendor/ol/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol/ol.js", "gis/js/OLMapWidget.js", "catalog/admin/map_widget.js")

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        options = {"geom_name": context["geom_type"], "id": context["id"],
                   "map_id": f"{context['id']}_map", "map_srid": self.map_srid,
                   "name": context["name"], "module": context["module"],
                   "world": static("vendor/world/land-50m.geojson")}
        context["options_json"] = json_script(options, f"{context['id']}_options")
        return context

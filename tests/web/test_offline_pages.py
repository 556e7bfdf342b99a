"""/api/docs/ and the admin's map widget work offline and under the Content-Security-Policy.

Real headless Chromium against the live server; every request to another origin is
aborted (these machines have no network), and the `page` fixture fails the test on a
JavaScript error or a CSP violation.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import MultiPolygon, Polygon

from catalog.models import Region
from tests.support.liveserver import LiveServer

pytestmark = pytest.mark.browser


def offline(page, server: LiveServer) -> list[str]:  # type: ignore[no-untyped-def]
    """Abort every request that leaves the server; return the list of those asked for."""
    asked: list[str] = []

    def route(r) -> None:  # type: ignore[no-untyped-def]
        url = r.request.url
        if url.startswith((server.url, "data:")):
            r.continue_()
        else:
            asked.append(url)
            r.abort()

    page.route("**/*", route)
    return asked


def test_the_api_docs_page_shows_every_operation_offline(
        page, web_server: LiveServer, shot) -> None:  # type: ignore[no-untyped-def]
    asked = offline(page, web_server)
    page.goto(f"{web_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=30_000)
    paths = page.eval_on_selector_all(".opblock-summary-path", "ps => ps.map(p => p.textContent)")
    assert "/api/v1/subsets/" in paths and "/stac/search" in paths
    shot(page, "api-docs")
    assert asked == []


def test_the_admin_edits_a_region_on_an_offline_map(
        page, web_server: LiveServer, signed_in, shot) -> None:  # type: ignore[no-untyped-def]
    region = Region.objects.create(
        slug="aral", name="Aral", geometry=MultiPolygon(Polygon.from_bbox((70, 42, 80, 48)),
                                                         srid=4326))
    asked = offline(page, web_server)
    user = signed_in(page, web_server, "manager")
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    page.goto(f"{web_server.url}/admin/catalog/region/{region.pk}/change/")
    page.wait_for_selector("#id_geometry_map canvas")
    # MapWidget read the region into its feature layer, and the base layer came from the
    # vendored Natural Earth land (the map page's own), not from a tile server.
    page.wait_for_function("window.geodjango_geometry && "
                           "window.geodjango_geometry.featureCollection.getLength() === 1")
    page.wait_for_function("window.geodjango_geometry.options.base_layer.getSource()"
                           ".getFeatures().length > 0")
    shot(page, "admin-region")
    assert asked == []

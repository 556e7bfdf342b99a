"""Spatial and time queries over swaths, portable between PostGIS and SpatiaLite."""

from __future__ import annotations

from datetime import datetime

from django.contrib.gis.db import models
from django.contrib.gis.geos import GEOSGeometry
from django.db.models import Q

from catalog.geometry import as_multipolygon, bbox_geometry, circle_geometry


class SwathQuerySet(models.QuerySet):
    """Chainable filters: `Swath.objects.verified().intersecting(g).between(t0, t1)`."""

    def verified(self) -> SwathQuerySet:
        return self.filter(state="VERIFIED")

    def intersecting(self, geom: GEOSGeometry) -> SwathQuerySet:
        """Swaths whose footprint intersects an area (split at +-180 like footprints)."""
        return self.filter(footprint__intersects=as_multipolygon(geom))

    def in_bbox(self, west: float, south: float, east: float, north: float) -> SwathQuerySet:
        """Swaths over a bbox; west > east crosses the antimeridian."""
        return self.filter(footprint__intersects=bbox_geometry(west, south, east, north))

    def near(self, lon: float, lat: float, radius_km: float) -> SwathQuerySet:
        """Swaths within radius_km of a point, measured on the sphere."""
        return self.filter(footprint__intersects=circle_geometry(lon, lat, radius_km))

    def in_region(self, slug: str) -> SwathQuerySet:
        """Swaths over a named Region."""
        # By name, not by import: catalog.models imports this module.
        region_model = self.model._meta.apps.get_model("catalog", "Region")
        region = region_model.objects.only("geometry").get(slug=slug)
        return self.filter(footprint__intersects=region.geometry)

    def between(self, start: datetime | None, end: datetime | None) -> SwathQuerySet:
        """Swaths whose [start_time, end_time] overlaps [start, end]; None is open."""
        q = Q()
        if end is not None:
            q &= Q(start_time__lte=end)
        if start is not None:
            q &= Q(end_time__gte=start)
        return self.filter(q)


class ProductQuerySet(models.QuerySet):
    """Products are private: `Product.objects.visible_to(request.user)`."""

    def visible_to(self, user: object) -> ProductQuerySet:
        """The user's own products; every product for staff; none for anonymous callers."""
        if user is None or not getattr(user, "is_authenticated", False):
            return self.none()
        if getattr(user, "is_staff", False):
            return self
        return self.filter(owner_id=user.pk)  # type: ignore[attr-defined]

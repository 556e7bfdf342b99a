"""Catalog rows for the map tests: consecutive 5-minute granules along one synthetic orbit.

The orbit is ingest.orbit's (the one ingest.synth writes files from), so the footprints
cross the antimeridian and pass over the poles as real MODIS granules do. Only the swath
outline is computed, and each ring is unwrapped, closed along a pole it winds round and
cut at +-180, as stored footprints are; the few rings that come out invalid near a pole
get the ingest footprint of a coarse pixel grid instead (ingest.footprint, ~30 ms each).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import shapely
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.utils import timezone
from shapely.geometry import Polygon, box

from catalog.models import Collection, Swath, SwathState
from ingest.footprint import footprint
from ingest.orbit import Orbit, pixel_xyz, xyz_to_latlon

GRANULE = timedelta(minutes=5)
EDGE_POINTS = 17


@dataclass(frozen=True)
class Granule:
    start: datetime
    orbit: int
    direction: str
    footprint: MultiPolygon


def _cut(lon: np.ndarray, lat: np.ndarray) -> MultiPolygon:
    """A lon/lat ring as a MultiPolygon cut at +-180, closed along a pole it winds round."""
    lonu = np.degrees(np.unwrap(np.radians(np.append(lon, lon[0]))))
    pts = list(zip(lonu.tolist(), np.append(lat, lat[0]).tolist(), strict=True))
    if abs(lonu[-1] - lonu[0]) > 180:
        pole = 90.0 if float(np.mean(lat)) > 0 else -90.0
        pts += [(float(lonu[-1]), pole), (float(lonu[0]), pole)]
    poly = Polygon(pts)
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
    west, _, east, _ = poly.bounds
    pieces = []
    for k in range(int(np.floor((west + 180) / 360)), int(np.ceil((east + 180) / 360))):
        part = poly.intersection(box(-180 + 360 * k, -90, 180 + 360 * k, 90))
        part = shapely.transform(part, lambda xy, s=-360 * k: xy + [s, 0])
        pieces += [g for g in shapely.get_parts(part) if g.geom_type == "Polygon" and g.area > 0]
    return GEOSGeometry(shapely.MultiPolygon(pieces).wkb_hex, srid=4326)


def _exact(orbit: Orbit, s: float) -> MultiPolygon:
    """The ingest footprint of a coarse pixel grid: slower, right near the poles."""
    lines = orbit.scan_lines(np.linspace(s, s + GRANULE.total_seconds(), 24))
    lat, lon = xyz_to_latlon(*pixel_xyz(lines.nadir, lines.right, orbit.pixel_angles(12)))
    geom = footprint([(np.ma.asarray(lon), np.ma.asarray(lat), "swath2d")]).geometry
    return GEOSGeometry(geom.wkb_hex, srid=4326)


def granules(count: int, start: datetime, seed: int = 0) -> list[Granule]:
    """`count` consecutive granules from `start` along the orbit the seed picks."""
    orbit = Orbit.from_seed(seed)
    across = orbit.pixel_angles(5)
    out = []
    for k in range(count):
        t0 = start + k * GRANULE
        s = orbit.seconds(t0)
        lines = orbit.scan_lines(np.linspace(s, s + GRANULE.total_seconds(), EDGE_POINTS))
        lat, lon = xyz_to_latlon(*pixel_xyz(lines.nadir, lines.right, across))
        # first scan line, right edge, last scan line backwards, left edge backwards
        ring_lon = np.concatenate([lon[0, :-1], lon[:-1, -1], lon[-1, :0:-1], lon[:0:-1, 0]])
        ring_lat = np.concatenate([lat[0, :-1], lat[:-1, -1], lat[-1, :0:-1], lat[:0:-1, 0]])
        fp = _cut(ring_lon, ring_lat)
        if not fp.valid:
            fp = _exact(orbit, s)
        mid = s + GRANULE.total_seconds() / 2
        out.append(Granule(
            start=t0, orbit=orbit.orbit_number(mid),
            direction="Ascending" if orbit.is_ascending(mid) else "Descending",
            footprint=fp,
        ))
    return out


def load(collection: Collection, items: list[Granule]) -> list[Swath]:
    """Insert VERIFIED swath rows for the granules, in one bulk insert."""
    now = timezone.now()
    rows = [
        Swath(
            collection=collection,
            granule_id=f"TEST_MODIS_A.{g.start:%Y%m%dT%H%M%S}.L2",
            filename=f"TEST_MODIS_A.{g.start:%Y%m%dT%H%M%S}.L2.nc",
            format="netcdf4", platform="Aqua", instrument="MODIS",
            orbit=g.orbit, orbit_direction=g.direction,
            start_time=g.start, end_time=g.start + GRANULE,
            footprint=g.footprint, size=40_000_000 + i,
            sha256=hashlib.sha256(f"{collection.slug}/{g.start.isoformat()}".encode()).hexdigest(),
            state=SwathState.VERIFIED, verified_at=now,
        )
        for i, g in enumerate(items)
    ]
    return Swath.objects.bulk_create(rows)

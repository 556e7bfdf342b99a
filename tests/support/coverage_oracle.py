"""A pixel-exact oracle of per-region valid fractions, and random regions over a swath.

Independent of ingest/coverage.py and ingest/validdata.py: the variables (and their
latitude/longitude) named by a swath's ``geolocation["coverage"]`` are read with
netCDF4's own mask-and-scale (h5py, with the CF attributes applied by hand, for files
netCDF4 cannot open), every value of every pixel counts, and a region holds the pixels
whose centre ``shapely.contains_xy`` finds inside it (a pixel with a profile counts the
valid share of its values). Shared by the accuracy test
(tests/ingest/test_coverage_accuracy.py) and benchmarks/coverage_accuracy.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import netCDF4  # before h5py: HDF5 filter plugins
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class Pixels:
    """Every geolocated pixel of a swath's main variable: centre, values, valid values."""

    lon: np.ndarray  # -180..180
    lat: np.ndarray
    valid: np.ndarray  # valid share of each pixel's values (1 or 0, or a profile's share)

    def fraction(self, region: BaseGeometry) -> tuple[float, int]:
        """Return (valid pixels, pixels) whose centre lies in the region."""
        inside = shapely.contains_xy(region, self.lon, self.lat)
        return float(self.valid[inside].sum()), int(inside.sum())


def _read_nc(path: Path, var: str) -> np.ma.MaskedArray:
    with netCDF4.Dataset(path) as ds:
        v = ds[var]
        v.set_auto_maskandscale(True)
        return np.ma.masked_invalid(np.ma.asarray(v[...], dtype=np.float64))


def _read_h5(path: Path, var: str) -> np.ma.MaskedArray:
    with h5py.File(path) as fh:
        ds = fh[var]
        raw = ds[...]
        attrs = {k: ds.attrs[k] for k in ds.attrs}
    bad = ~np.isfinite(raw.astype(np.float64))
    for key in ("_FillValue", "missing_value", "MissingValue"):
        if key in attrs:
            bad |= raw == np.asarray(attrs[key]).astype(raw.dtype)
    if "valid_min" in attrs:
        bad |= raw < np.asarray(attrs["valid_min"]).reshape(-1)[0]
    if "valid_max" in attrs:
        bad |= raw > np.asarray(attrs["valid_max"]).reshape(-1)[0]
    values = raw.astype(np.float64) * float(attrs.get("scale_factor", 1.0)) + float(
        attrs.get("add_offset", 0.0))
    return np.ma.MaskedArray(values, mask=bad)


def _read(path: Path, var: str) -> np.ma.MaskedArray:
    try:
        return _read_nc(path, var)
    except (OSError, KeyError, IndexError, RuntimeError, AttributeError):
        return _read_h5(path, var)


def read_pixels(path: Path, members: list[dict[str, str]]) -> Pixels:
    """Read each {variable, lat, lon} of a coverage's account into one set of pixels."""
    lons, lats, valid = [], [], []
    for member in members:
        lat = _read(path, member["lat"])
        lon = _read(path, member["lon"])
        data = _read(path, member["variable"])
        grid = tuple(n for n in lat.shape if n != 1)
        if lat.ndim == 1 and lon.ndim == 1 and member.get("kind") == "grid":
            lon, lat = np.ma.MaskedArray(np.meshgrid(lon, lat)[0]), np.ma.MaskedArray(
                np.meshgrid(lon, lat)[1])
            grid = lat.shape
        lat = lat.reshape(grid)
        lon = lon.reshape(grid)
        data = data.reshape(grid + (-1,))
        located = ~(np.ma.getmaskarray(lat) | np.ma.getmaskarray(lon))
        located &= np.abs(lat.filled(np.nan)) <= 90
        good = (~np.ma.getmaskarray(data)).mean(axis=-1)
        lons.append(((lon.filled(0.0)[located] + 180.0) % 360.0) - 180.0)
        lats.append(lat.filled(0.0)[located])
        valid.append(good[located].astype(np.float64))
    return Pixels(np.concatenate(lons), np.concatenate(lats), np.concatenate(valid))


def _wrapped(geom: BaseGeometry) -> BaseGeometry:
    """A lon/lat shape that may reach past +-180, cut there and brought back in range."""
    world = box(-180.0, -90.0, 180.0, 90.0)
    pieces = [shapely.affinity.translate(geom, shift).intersection(world)
              for shift in (-360.0, 0.0, 360.0)]
    polys = [p for piece in pieces for p in getattr(piece, "geoms", [piece])
             if isinstance(p, Polygon) and p.area > 0]
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def random_regions(pixels: Pixels, count: int, rng: np.random.Generator,
                   sizes: tuple[float, float] = (2.0, 20.0)) -> list[BaseGeometry]:
    """Boxes and star-shaped polygons of `sizes` degrees, each holding a pixel of the swath.

    Each region holds its anchor pixel, so it overlaps the swath's data (a region beside a
    track, holding none of its pixels, is not drawn). Anchors are random pixels, plus the
    swath's most poleward pixel and its pixel nearest +-180 (a fifth of the regions then
    reach towards a pole or cross the antimeridian).
    """
    n = len(pixels.lon)
    special = [int(np.argmax(np.abs(pixels.lat))), int(np.argmax(np.abs(pixels.lon)))]
    regions = []
    for i in range(count):
        at = special[i % 2] if i % 10 in (0, 1) else int(rng.integers(n))
        x, y = float(pixels.lon[at]), float(pixels.lat[at])
        width, height = rng.uniform(*sizes, size=2)
        if i % 2 == 0:
            west = x - rng.uniform(0.0, width)
            south = y - rng.uniform(0.0, height)
            shape: BaseGeometry = box(west, south, west + width, south + height)
        else:
            # star-shaped around the anchor, so the anchor pixel is inside; short of a pole
            k = int(rng.integers(5, 10))
            angles = (np.arange(k) + rng.uniform(0.0, 1.0, k)) * 2 * np.pi / k  # gaps < pi
            radius = rng.uniform(0.3, 1.0, k)
            reach = min(height / 2, 90.0 - abs(y))
            shape = Polygon(np.column_stack((x + radius * np.cos(angles) * width / 2,
                                             y + radius * np.sin(angles) * reach)))
        shape = shapely.make_valid(shape).intersection(box(-540.0, -90.0, 540.0, 90.0))
        if shape.area > 0:
            regions.append(_wrapped(shape))
    return regions

"""Per-region valid-data coverage: valid-pixel counts of a swath per H3 cell. No Django here.

At ingest, :func:`measure` bins the pixel centres of the swath's main variable into H3
cells and counts, per cell, all pixels and the valid ones. The result, a :class:`Coverage`,
is stored beside the footprint as a small versioned blob (:meth:`Coverage.encode`). At
search time :func:`region_weights` says how much of each cell a region covers (cached per
region) and :func:`region_fraction` estimates the region's valid fraction as the
area-weighted ratio of valid to all pixels. Pixels are assumed to spread evenly over the
cell's occupied children: each cell also records which of its seven children (one
resolution finer) hold a pixel, and a cell the region only partly covers weighs the part of
those children inside it. A track or a swath edge crossing a cell then counts only where it
lies, not over the whole cell.

Blob format, version 1 (little-endian; 8 + 8 bytes per cell):

====== ======= ==============================================================
offset type    meaning
====== ======= ==============================================================
0      u8      format version (1)
1      u8      H3 resolution of every cell (0..8)
2      i8      exponent e: a cell's pixel count is its float16 times 2**e
3      u8      reserved, 0
4      u32     n, the number of cells
8      u32 x n cells, sorted and unique, each packed to its base cell and digits
..     u8 x n  valid fraction of each cell, round(255 * valid / total)
..     u8 x n  occupied children: bit k set when child k (digit k one resolution finer)
               holds a pixel; 127 when unknown
..     f16 x n pixel count of each cell, divided by 2**e
====== ======= ==============================================================

An H3 cell index at resolution r holds constant mode and resolution bits and 15 - r unused
digits that are all ones, so its base cell (7 bits) and r digits (3 bits each) restore it
losslessly: 19 bits at resolution 4. Packing keeps the sort order.
"""

from __future__ import annotations

import functools
import itertools
import math
import struct
from dataclasses import dataclass
from typing import Any

import h3
import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

VERSION = 1
MIN_RESOLUTION, MAX_RESOLUTION = 3, 4
# A finer resolution while the swath touches at most this many of its cells: a few KB.
MAX_FINE_CELLS = 1000
# Pixels binned per swath at most: h3 places one point in ~0.5 us, so ~1 s. A regular
# stride keeps the sample spread evenly over the swath; only fractions are stored.
MAX_POINTS = 2_000_000
_HEADER = struct.Struct("<BBbBI")
_BASE_CELLS = 122
_CODEC_MAX_RESOLUTION = 8  # 7 + 3 * 8 = 31 bits: the packed cell fits a u32
ALL_CHILDREN = 0x7F


@dataclass(frozen=True)
class Coverage:
    """Valid and total pixel counts of one swath per H3 cell at one resolution."""

    resolution: int  # 3 or 4
    cells: np.ndarray  # uint64 H3 cell indexes, sorted, unique
    valid: np.ndarray  # float64 valid-pixel counts per cell (as decoded)
    total: np.ndarray  # float64 pixel counts per cell (as decoded)
    # uint8 per cell: bit k set when its child k holds a pixel; None: unknown (all may)
    occupied: np.ndarray | None = None

    def encode(self) -> bytes:
        """Return the compact binary form (format version in the first byte)."""
        n = len(self.cells)
        if not 0 <= self.resolution <= _CODEC_MAX_RESOLUTION:
            raise ValueError(f"coverage resolution {self.resolution} is outside "
                             f"0..{_CODEC_MAX_RESOLUTION}")
        total = np.asarray(self.total, dtype=np.float64)
        valid = np.asarray(self.valid, dtype=np.float64)
        if not (len(valid) == len(total) == n):
            raise ValueError(f"coverage arrays differ in length: {n} cells, {len(valid)} valid, "
                             f"{len(total)} total")
        if n and not (np.all(np.isfinite(total)) and total.min() > 0):
            raise ValueError("coverage pixel counts must be finite and positive")
        top = float(total.max()) if n else 1.0
        exponent = math.ceil(math.log2(top)) - 15  # counts / 2**e in (16384, 32768]
        frac = np.clip(np.round(255.0 * valid / np.where(total > 0, total, 1.0)), 0, 255)
        occupied = (np.full(n, ALL_CHILDREN, dtype=np.uint8) if self.occupied is None
                    else np.asarray(self.occupied, dtype=np.uint8) & ALL_CHILDREN)
        if len(occupied) != n:
            raise ValueError(f"coverage has {n} cells but {len(occupied)} occupancy masks")
        return b"".join((
            _HEADER.pack(VERSION, self.resolution, exponent, 0, n),
            _pack_cells(np.asarray(self.cells, dtype=np.uint64), self.resolution).tobytes(),
            frac.astype(np.uint8).tobytes(),
            occupied.tobytes(),
            (total / 2.0**exponent).astype("<f2").tobytes(),
        ))

    @classmethod
    def decode(cls, blob: bytes) -> Coverage:
        """Return the coverage a blob holds; raises ValueError naming what is wrong."""
        blob = bytes(blob)
        if len(blob) < _HEADER.size:
            raise ValueError(f"coverage blob is {len(blob)} bytes, shorter than its "
                             f"{_HEADER.size}-byte header")
        version, res, exponent, reserved, n = _HEADER.unpack_from(blob)
        if version != VERSION:
            raise ValueError(f"coverage blob has format version {version}; this code reads "
                             f"version {VERSION}")
        if res > _CODEC_MAX_RESOLUTION:
            raise ValueError(f"coverage blob has resolution {res}, outside "
                             f"0..{_CODEC_MAX_RESOLUTION}")
        if reserved:
            raise ValueError(f"coverage blob has reserved byte {reserved}, not 0")
        expected = _HEADER.size + 8 * n
        if len(blob) != expected:
            raise ValueError(f"coverage blob is {len(blob)} bytes; its header says {n} cells, "
                             f"which take {expected}")
        at = _HEADER.size
        packed = np.frombuffer(blob, dtype="<u4", count=n, offset=at)
        frac = np.frombuffer(blob, dtype=np.uint8, count=n, offset=at + 4 * n)
        occupied = np.frombuffer(blob, dtype=np.uint8, count=n, offset=at + 5 * n)
        scaled = np.frombuffer(blob, dtype="<f2", count=n, offset=at + 6 * n)
        if n > 1 and not np.all(np.diff(packed.astype(np.int64)) > 0):
            raise ValueError("coverage blob cells are not sorted and unique")
        _check_packed(packed, res)
        if np.any(occupied > ALL_CHILDREN) or (n and np.any(occupied == 0)):
            raise ValueError("coverage blob has an occupancy mask outside 1..127")
        total = scaled.astype(np.float64) * 2.0**exponent
        if not (np.all(np.isfinite(total)) and np.all(total > 0)):
            raise ValueError("coverage blob has a pixel count that is not finite and positive")
        valid = frac.astype(np.float64) / 255.0 * total
        return cls(res, _unpack_cells(packed, res), valid, total, occupied.copy())


def _pack_cells(cells: np.ndarray, res: int) -> np.ndarray:
    """Base cell and the first `res` digits of each cell, as u32."""
    shift = np.uint64(3 * (15 - res))
    mask = np.uint64((1 << (7 + 3 * res)) - 1)
    return ((cells >> shift) & mask).astype("<u4")


def _unpack_cells(packed: np.ndarray, res: int) -> np.ndarray:
    """Full 64-bit H3 cell indexes from packed cells at resolution `res`."""
    tail = 3 * (15 - res)
    head = np.uint64((1 << 59) | (res << 52) | ((1 << tail) - 1))
    return (packed.astype(np.uint64) << np.uint64(tail)) | head


def _check_packed(packed: np.ndarray, res: int) -> None:
    """Raise ValueError when a packed cell has no such base cell or an unused digit 7."""
    values = packed.astype(np.uint64)
    if np.any((values >> np.uint64(3 * res)) >= _BASE_CELLS):
        raise ValueError(f"coverage blob has a cell with a base cell past {_BASE_CELLS - 1}")
    for digit in range(res):
        if np.any(((values >> np.uint64(3 * digit)) & np.uint64(7)) == 7):
            raise ValueError("coverage blob has a cell with an invalid digit (7)")


def _parents(cells: np.ndarray, res: int, to: int) -> np.ndarray:
    """The parents at resolution `to` of uint64 cells at `res` (bit arithmetic, vectorised)."""
    return _unpack_cells(_pack_cells(cells, res) >> np.uint32(3 * (res - to)), to)


def _stride(shape: tuple[int, ...], limit: int) -> tuple[slice, ...]:
    """A regular stride on every axis leaving at most about `limit` elements."""
    size = int(np.prod(shape)) if shape else 1
    if size <= limit or not shape:
        return tuple(slice(None) for _ in shape)
    step = math.ceil((size / limit) ** (1.0 / len(shape)))
    return tuple(slice(None, None, step) for _ in shape)


def sample_stride(shape: tuple[int, ...], limit: int = MAX_POINTS) -> tuple[slice, ...]:
    """Return the slices a caller may read instead of the whole field (what measure bins)."""
    return _stride(shape, limit)


def measure(lon: np.ndarray, lat: np.ndarray, valid: np.ndarray,
            max_points: int | None = MAX_POINTS) -> Coverage | None:
    """Return per-cell pixel counts of a field from its pixel centres and valid mask.

    Arrays share one shape; `valid` is a mask, or each pixel's valid share in [0, 1] (the
    valid fraction of a profile's levels). None when no pixel has a finite latitude and
    longitude. Past `max_points` pixels a regular stride samples the field (None: never).
    """
    lon, lat, valid = np.asarray(lon), np.asarray(lat), np.asarray(valid)
    if not (lon.shape == lat.shape == valid.shape):
        raise ValueError(f"lon {lon.shape}, lat {lat.shape} and valid {valid.shape} differ "
                         "in shape")
    cut = _stride(lon.shape, max_points) if max_points else tuple(slice(None) for _ in lon.shape)
    lon = np.asarray(lon[cut], dtype=np.float64).ravel()
    lat = np.asarray(lat[cut], dtype=np.float64).ravel()
    good = np.clip(np.nan_to_num(np.asarray(valid[cut], dtype=np.float64).ravel()), 0.0, 1.0)
    located = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90.0)
    if not located.any():
        return None
    lon, lat, good = lon[located], lat[located], good[located]
    lon = (lon + 180.0) % 360.0 - 180.0
    to_cell = h3.api.basic_int.latlng_to_cell
    finest = MAX_RESOLUTION + 1  # the children of the finest cells kept
    points = np.fromiter((to_cell(y, x, finest) for y, x in zip(lat.tolist(), lon.tolist(),
                                                                 strict=True)),
                         dtype=np.uint64, count=len(lat))
    children, inverse = np.unique(points, return_inverse=True)
    res = MAX_RESOLUTION
    while True:
        parents = _parents(children, res + 1, res)
        cells, parent_of = np.unique(parents, return_inverse=True)
        if len(cells) <= MAX_FINE_CELLS or res == MIN_RESOLUTION:
            break
        res -= 1
        children, inverse = cells, parent_of[inverse]
    # children: distinct cells at res + 1 holding points; parent_of: each one's cell
    cell_of = parent_of[inverse]
    total = np.bincount(cell_of, minlength=len(cells)).astype(np.float64)
    count = np.bincount(cell_of, weights=good, minlength=len(cells))
    digit = (_pack_cells(children, res + 1) & np.uint32(7)).astype(np.uint8)
    occupied = np.zeros(len(cells), dtype=np.uint8)
    np.bitwise_or.at(occupied, parent_of, np.left_shift(np.uint8(1), digit))
    return Coverage(res, cells, count, total, occupied)


def whole_fraction(cov: Coverage) -> float | None:
    """Return the valid fraction over the whole swath; None when it has no pixel."""
    total = float(np.sum(cov.total))
    return float(np.sum(cov.valid)) / total if total > 0 else None


def region_fraction(cov: Coverage, weights: dict[int, float]) -> float | None:
    """Return sum(w*valid)/sum(w*total) over the swath's cells in the region, or None.

    `weights` come from region_weights at the coverage's resolution. A cell the region
    only partly covers weighs the mean weight of its occupied children (region_weights
    gives them), when the weights hold any of them. None when the swath has no pixel in
    the region.
    """
    if not weights or len(cov.cells) == 0:
        return None
    table = _table(weights, cov.resolution)
    at = np.searchsorted(cov.cells, table.keys)
    inside = at < len(cov.cells)
    hit = np.zeros(len(table.keys), dtype=bool)
    hit[inside] = cov.cells[at[inside]] == table.keys[inside]
    if not hit.any():
        return None
    w, at, kids = table.w[hit], at[hit], table.kids[hit]
    if cov.occupied is not None:
        # A partly covered cell with children in the weights weighs the mean weight of
        # its occupied children (a child the weights lack counts 0); else its own.
        partial = (w < 1.0) & ~np.isnan(kids).all(axis=1)
        bits = ((cov.occupied[at[partial], None] >> np.arange(7, dtype=np.uint8)) & 1) == 1
        count = bits.sum(axis=1)
        mean = np.where(bits, np.nan_to_num(kids[partial]), 0.0).sum(axis=1) / np.maximum(count, 1)
        w = w.copy()
        w[partial] = np.where(count > 0, mean, w[partial])
    denominator = float(np.dot(w, cov.total[at]))
    return float(np.dot(w, cov.valid[at])) / denominator if denominator > 0 else None


class RegionWeights(dict[int, float]):
    """region_weights' answer: the weights, and the arrays region_fraction reads from
    them, built on first use, so that a search scoring many swaths builds them once."""

    tables: dict[int, _Table]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.tables = {}


@dataclass(frozen=True)
class _Table:
    keys: np.ndarray  # uint64 cells of the weights, sorted
    w: np.ndarray  # their weights
    kids: np.ndarray  # (n, 7): the weights of each key's children at res + 1; NaN if absent


def _table(weights: dict[int, float], res: int) -> _Table:
    cached = weights.tables.get(res) if isinstance(weights, RegionWeights) else None
    if cached is not None:
        return cached
    keys = np.array(sorted(weights), dtype=np.uint64)
    w = np.array([weights[int(k)] for k in keys.tolist()], dtype=np.float64)
    kids = np.full((len(keys), 7), np.nan)
    at_res = ((keys >> np.uint64(52)) & np.uint64(15)) == res
    if res < 15 and at_res.any():
        packed = _pack_cells(keys[at_res], res).astype(np.uint32) << np.uint32(3)
        children = _unpack_cells(packed[:, None] | np.arange(7, dtype=np.uint32), res + 1)
        where = np.searchsorted(keys, children)
        found = where < len(keys)
        found[found] = keys[where[found]] == children[found]
        kids[at_res] = np.where(found, w[np.minimum(where, len(keys) - 1)], np.nan)
    table = _Table(keys, w, kids)
    if isinstance(weights, RegionWeights):
        weights.tables[res] = table
    return table


def region_weights(region: BaseGeometry, resolution: int) -> RegionWeights:
    """Return {cell: fraction of the cell's area inside the region} for cells it touches.

    Cells the region only partly covers come with their children (resolution + 1) that
    it touches, which region_fraction uses. `region` is lon/lat (a MultiPolygon split at
    +-180 crosses the antimeridian). Cached per (region, resolution); the caller gets its
    own copy.
    """
    if not 0 <= resolution <= 15:
        raise ValueError(f"H3 resolution must be 0..15, got {resolution}")
    return RegionWeights(_weights(shapely.to_wkb(region), resolution))


@functools.lru_cache(maxsize=128)
def _weights(wkb: bytes, resolution: int) -> dict[int, float]:
    region = shapely.from_wkb(wkb)
    if region.is_empty or region.area == 0:
        return {}
    touching, inside = _touching_cells(region, resolution)
    edge = sorted(touching - inside)
    weights = dict.fromkeys(inside, 1.0)
    if not edge:
        return weights
    children = h3.api.basic_int.cell_to_children
    cells = edge + [kid for cell in edge for kid in children(cell, resolution + 1)]
    fraction = _inside_fraction(_cell_polygons(cells), region)
    weights.update((c, f) for c, f in zip(cells, fraction.tolist(), strict=True) if f > 0)
    return weights


def _inside_fraction(shapes: np.ndarray, region: BaseGeometry) -> np.ndarray:
    """Share of each shape's lon/lat area inside the region, in 0..1.

    Copies of the region a turn east and west meet the part of a cell unwrapped past
    +-180. Rectangles (the usual search box, or its halves at the antimeridian) are clipped
    by coordinates; other regions are intersected only where a shape crosses their edge.
    """
    parts = _polygons(region)
    inside = np.zeros(len(shapes))
    if all(_is_rectangle(p) for p in parts):
        bounds = shapely.bounds(shapes)
        for part in parts:
            west, south, east, north = part.bounds
            for shift, near in ((0.0, slice(None)), (-360.0, bounds[:, 0] < -180.0),
                                (360.0, bounds[:, 2] > 180.0)):
                clipped = shapely.clip_by_rect(shapes[near], west + shift, south, east + shift,
                                               north)
                inside[near] += shapely.area(clipped)
    else:
        wide = shapely.union_all([region, affinity.translate(region, 360.0),
                                  affinity.translate(region, -360.0)])
        shapely.prepare(wide)
        bad = ~shapely.is_valid(shapes)
        if bad.any():  # a sliver outline near a pole: its area stands, its shape is mended
            shapes = shapes.copy()
            shapes[bad] = shapely.make_valid(shapes[bad])
        whole = shapely.contains_properly(wide, shapes)
        cut = shapely.intersects(wide, shapes) & ~whole
        inside[whole] = shapely.area(shapes[whole])
        inside[cut] = shapely.area(shapely.intersection(shapes[cut], wide))
    return np.asarray(np.clip(inside / shapely.area(shapes), 0.0, 1.0))


def _is_rectangle(poly: Polygon) -> bool:
    """True for an axis-aligned rectangle (its area fills its bounding box)."""
    west, south, east, north = poly.bounds
    return not poly.interiors and math.isclose(poly.area, (east - west) * (north - south),
                                               rel_tol=1e-12)


# Regions are cut into strips at most this wide before h3 fills them: h3 takes a polygon
# edge spanning more than 180 degrees of longitude for one crossing the antimeridian.
_STRIP_DEG = 90.0


def _touching_cells(region: BaseGeometry, resolution: int) -> tuple[set[int], set[int]]:
    """Cells that overlap the region and cells wholly inside it (h3's containment modes).

    h3_shape_to_cells_experimental is experimental in h3-py; requirements.txt pins h3.
    """
    touching: set[int] = set()
    inside: set[int] = set()
    fill = h3.api.basic_int.h3shape_to_cells_experimental
    for west in np.arange(-180.0, 180.0, _STRIP_DEG):
        piece = region.intersection(box(west, -90.0, west + _STRIP_DEG, 90.0))
        for poly in _polygons(piece):
            shape = h3.LatLngPoly([(y, x) for x, y in poly.exterior.coords[:-1]],
                                  *[[(y, x) for x, y in ring.coords[:-1]]
                                    for ring in poly.interiors])
            touching.update(fill(shape, resolution, contain="overlap"))
            inside.update(fill(shape, resolution, contain="full"))
    return touching, inside


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    """The polygons with area in a geometry (intersections may add lines and points)."""
    if isinstance(geom, Polygon):
        return [geom] if geom.area > 0 else []
    if isinstance(geom, MultiPolygon) or hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in _polygons(g)]
    return []


def _cell_polygons(cells: list[int]) -> np.ndarray:
    """Cell outlines in lon/lat, unwrapped across +-180 and closed over a pole they hold."""
    boundary = h3.api.basic_int.cell_to_boundary
    rings = [boundary(c) for c in cells]
    counts = np.fromiter((len(r) for r in rings), dtype=np.intp, count=len(rings))
    flat = np.fromiter(itertools.chain.from_iterable(itertools.chain.from_iterable(rings)),
                       dtype=np.float64, count=2 * int(counts.sum())).reshape(-1, 2)
    lat, lon = flat[:, 0], flat[:, 1]
    first = np.repeat(np.cumsum(counts) - counts, counts)
    # Unwrapped towards the ring's first vertex: a cell spans far less than 180 degrees,
    # save the two that hold a pole, which are closed over it below.
    lon = lon[first] + (lon - lon[first] + 180.0) % 360.0 - 180.0
    shapes = shapely.polygons(shapely.linearrings(np.column_stack((lon, lat)),
                                                  indices=np.repeat(np.arange(len(rings)),
                                                                    counts)))
    for i, cell in enumerate(cells):
        pole = _POLAR_CELLS.get(cell)
        if pole is not None:
            shapes[i] = _polar_polygon(rings[i], pole)
    return np.asarray(shapes, dtype=object)


# The one cell at each resolution that holds each pole.
_POLAR_CELLS = {h3.api.basic_int.latlng_to_cell(pole, 0.0, res): pole
                for res in range(16) for pole in (90.0, -90.0)}


def _polar_polygon(ring: tuple[tuple[float, float], ...], pole: float) -> Polygon:
    """The outline of a cell holding a pole: its ring unwrapped once round, closed at it."""
    lats = [p[0] for p in ring]
    lons = [ring[0][1]]
    for _, lon in ring[1:]:
        lons.append(lons[-1] + (lon - lons[-1] + 180.0) % 360.0 - 180.0)
    end = lons[-1] + (ring[0][1] - lons[-1] + 180.0) % 360.0 - 180.0
    xs = [*lons, end, end, lons[0]]
    ys = [*lats, lats[0], pole, pole]
    return Polygon(list(zip(xs, ys, strict=True)))

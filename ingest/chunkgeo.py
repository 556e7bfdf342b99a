"""Per-chunk geolocation bounds: where on Earth each chunk of a swath's latitude/longitude lies.

Built once from the file (at ingest, kept in the chunk index document under
``["swathstore"]["geo"]``), so the subset kernel can read only the geolocation chunks whose
box meets a region instead of searching the whole arrays. No Django: the kernel and the MPI
ranks read it too.

Which pairs: every latitude/longitude pair the readers choose (``ingest.geoselect``: the
footprint's pairs, then the others, which the kernel also cuts), decoded as the kernel decodes
them (``ingest.geoloc.read_lonlat``: CF mask and scale, fill, NaN and out-of-range points
invalid). Grids (1-D lat(y), lon(x)) and single points are left out: the kernel reads them
whole, they are small.

Format (JSON), version 1::

    {"version": 1,
     "pairs": [{"lat": "/navigation_data/latitude", "lon": "/navigation_data/longitude",
                "shape": [6750, 9644],       # core shape: lat's axes longer than 1
                "block": [250, 1929],        # core block shape (below)
                "boxes": [[w, s, e, n], null, ...]}]}

- ``block``: the latitude array's chunk shape on the core axes; for a contiguous array,
  blocks of whole rows (``ROW_BLOCK_PIXELS`` pixels or so), which a ranged read fetches
  alone just the same. The longitude array is read over the same blocks.
- ``boxes``: one per block of the block grid, in C (row-major) order over the grid, as
  zarr numbers chunk keys ``i.j``; the last block of an axis may be short. ``null``: the
  block has no valid pixel.
- ``[w, s, e, n]`` in degrees, longitudes in [-180, 180]: the smallest longitude arc
  holding every valid pixel centre of the block (to within ``ARC_BIN_DEG``), rounded
  outwards to ``DIGITS`` decimals. ``w > e`` means the arc crosses the antimeridian (a
  block with pixels at 179.9 and -179.9 is [179.9, s, -179.9, n], not the whole globe). A
  block whose valid pixels ring a pole (the longitudes along its edge turn through 360
  degrees) is [-180, s, 180, 90] (north) or [-180, -90, 180, n] (south).

Every valid pixel of a block lies inside its box, so a region no box meets holds no pixel
of the pair, and reading only the blocks whose box meets the region finds every pixel in it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from ingest.geoloc import (
    GeoPair,
    VarRef,
    core_shape,
    h5_attrs,
    iter_variables,
    pair_kind,
    read_lonlat,
)
from ingest.geoselect import select_geolocation

VERSION = 1
DIGITS = 5  # about 1 m: rounding outwards keeps every pixel inside its box
ARC_BIN_DEG = 1.0  # longitude bins of the arc search (see _lon_arc)
ROW_BLOCK_PIXELS = 1 << 18  # a block of a contiguous array: about this many pixels
SLAB_PIXELS = 1 << 22  # pixels read and decoded at once while bounding
MAX_BLOCKS = 200_000  # beyond this the document would grow past what it saves


def chunk_geo_bounds(handle: Any, pairs: Iterable[tuple[str, str]] | None = None,
                     ) -> dict[str, Any] | None:
    """Return the per-block bounds of an open h5py.File's geolocation (format above);
    None when it has no pair to bound (no geolocation, or only grids and points).

    ``pairs``: the (lat, lon) paths to bound when the caller already chose them (the
    inspected metadata's ``geolocation`` account: its pairs and those set aside); listing
    every variable to choose them again took 1.5 s of ATL07's 1.6 s.
    """
    chosen = named_pairs(handle, pairs) if pairs is not None else select_geolocation(
        iter_variables(handle)).ordered()
    entries = []
    seen: set[tuple[str, str]] = set()
    for pair in chosen:
        key = (pair.lat.path, pair.lon.path)
        if pair.kind == "grid" or pair.size <= 1 or key in seen:
            continue
        seen.add(key)
        entry = _pair_bounds(handle, pair)
        if entry is not None:
            entries.append(entry)
    return {"version": VERSION, "pairs": entries} if entries else None


def named_pairs(handle: Any, paths: Iterable[tuple[str, str]]) -> list[GeoPair]:
    """Return the GeoPairs of (lat, lon) paths of an open h5py.File, each variable reading
    its whole array; a path that is not a dataset, or a pair that does not fit, is skipped."""
    import h5py

    out = []
    for lat_path, lon_path in paths:
        lat, lon = handle.get(lat_path), handle.get(lon_path)
        if not (isinstance(lat, h5py.Dataset) and isinstance(lon, h5py.Dataset)):
            continue
        refs = [VarRef(path, tuple(ds.shape), str(ds.dtype), h5_attrs(ds), (), _reader(ds))
                for path, ds in ((lat_path, lat), (lon_path, lon))]
        kind = pair_kind(*refs)
        if kind is not None:
            out.append(GeoPair(refs[0], refs[1], kind))
    return out


def _reader(ds: Any) -> Callable[[], np.ndarray]:
    return lambda: np.asarray(ds[...])


def _pair_bounds(handle: Any, pair: GeoPair) -> dict[str, Any] | None:
    lat_ds, lon_ds = handle[pair.lat.path], handle[pair.lon.path]
    if lat_ds.shape != lon_ds.shape and core_shape(pair.lat) != core_shape(pair.lon):
        return None
    axes = tuple(a for a, n in enumerate(lat_ds.shape) if n != 1) or (len(lat_ds.shape) - 1,)
    shape = tuple(int(lat_ds.shape[a]) for a in axes)
    block = core_block(lat_ds.chunks, axes, shape)
    grid = tuple(math.ceil(n / b) for n, b in zip(shape, block, strict=True))
    if math.prod(grid) > MAX_BLOCKS:
        return None
    lon_axes = tuple(a for a, n in enumerate(lon_ds.shape) if n != 1) or (lon_ds.ndim - 1,)
    boxes: list[list[float] | None] = []
    # Read slabs of whole block rows (one HDF5 call each, not one per chunk), decode them
    # once, then bound each block of the slab.
    row_pixels = block[0] * (math.prod(shape[1:]) or 1)
    rows_per_slab = max(1, SLAB_PIXELS // max(row_pixels, 1))
    for r0 in range(0, grid[0], rows_per_slab):
        r1 = min(grid[0], r0 + rows_per_slab)
        slab = (slice(r0 * block[0], min(r1 * block[0], shape[0])),
                *(slice(0, n) for n in shape[1:]))
        lat = np.asarray(lat_ds[_full(slab, axes, lat_ds.ndim)])
        lon = np.asarray(lon_ds[_full(slab, lon_axes, lon_ds.ndim)])
        lon_d, lat_d, valid = _decode(pair, lat, lon)
        for index in np.ndindex(r1 - r0, *grid[1:]):
            local = tuple(slice(i * b, (i + 1) * b) for i, b in zip(index, block, strict=True))
            boxes.append(block_box(lon_d[local], lat_d[local], valid[local]))
    return {"lat": pair.lat.path, "lon": pair.lon.path, "shape": list(shape),
            "block": list(block), "boxes": boxes}


def _full(core: tuple[slice, ...], axes: Sequence[int], ndim: int) -> tuple[slice, ...]:
    sel = [slice(None)] * ndim
    for axis, s in zip(axes, core, strict=True):
        sel[axis] = s
    return tuple(sel)


def core_block(chunks: tuple[int, ...] | None, axes: Sequence[int],
               shape: tuple[int, ...]) -> tuple[int, ...]:
    """Return the block shape on the core axes: the chunks', or rows of a contiguous array."""
    if chunks is not None:
        return tuple(int(chunks[a]) for a in axes)
    row = math.prod(shape[1:]) or 1
    return (max(1, min(shape[0], ROW_BLOCK_PIXELS // row)), *shape[1:])


def _decode(pair: GeoPair, lat: np.ndarray, lon: np.ndarray,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (lon, lat, valid) of a slab's core block, valid as ingest.geoloc decodes it."""
    fast = _decode_float(pair, lat, lon)
    if fast is not None:
        return fast

    def ref(var: VarRef, data: np.ndarray) -> VarRef:
        return VarRef(var.path, data.shape, var.dtype, var.attrs, var.dims, lambda: data,
                      var.dim_keys)

    lo, la = read_lonlat(GeoPair(ref(pair.lat, lat), ref(pair.lon, lon), pair.kind))
    shape = core_shape(ref(pair.lat, lat))
    valid = ~np.ma.getmaskarray(lo) & ~np.ma.getmaskarray(la)
    return (np.asarray(lo).reshape(shape), np.asarray(la).reshape(shape),
            valid.reshape(shape))


PACKING = ("scale_factor", "add_offset", "_Unsigned")


def _decode_float(pair: GeoPair, lat: np.ndarray, lon: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The usual case, float lat/lon stored unpacked, without float64 copies: the same
    values, and every pixel read_lonlat keeps kept (limits are compared a float32 step
    wider, so at worst a pixel on a limit is kept too and its box is that much larger).
    None for packed or integer variables (read_lonlat decodes them)."""
    if lat.dtype.kind != "f" or lon.dtype.kind != "f" or lat.shape != lon.shape:
        return None
    if any(k in v.attrs for v in (pair.lat, pair.lon) for k in PACKING):
        return None
    shape = core_shape(VarRef(pair.lat.path, lat.shape, "", {}, (), lambda: lat))
    valid = np.ones(lat.shape, dtype=bool)
    for data, var, (lo, hi) in ((lat, pair.lat, (-90.0, 90.0)), (lon, pair.lon, (-180.0, 360.0))):
        attrs = var.attrs
        if "valid_range" in attrs and np.asarray(attrs["valid_range"]).size >= 2:
            vr = np.asarray(attrs["valid_range"]).reshape(-1)
            lo, hi = max(lo, float(vr[0])), min(hi, float(vr[1]))
        if "valid_min" in attrs:
            lo = max(lo, float(np.asarray(attrs["valid_min"]).reshape(-1)[0]))
        if "valid_max" in attrs:
            hi = min(hi, float(np.asarray(attrs["valid_max"]).reshape(-1)[0]))
        lo32 = np.nextafter(data.dtype.type(lo), data.dtype.type(-np.inf))
        hi32 = np.nextafter(data.dtype.type(hi), data.dtype.type(np.inf))
        # Finite limits leave NaN and infinities out too.
        with np.errstate(invalid="ignore"):
            valid &= data >= lo32
            valid &= data <= hi32
        for key in ("_FillValue", "missing_value", "MissingValue"):
            for fill in np.asarray(attrs.get(key, [])).reshape(-1):
                value = np.asarray(fill).astype(data.dtype)
                if lo32 <= value <= hi32:  # a fill outside the limits is already out
                    valid &= data != value
    return lon.reshape(shape), lat.reshape(shape), valid.reshape(shape)


def block_box(lon: np.ndarray, lat: np.ndarray, valid: np.ndarray) -> list[float] | None:
    """Return [w, s, e, n] of the valid pixels of one block (format above); None if none."""
    if valid.all():  # the usual block: no copies of the valid pixels
        lat_v, lon_v = lat, lon
    elif valid.any():
        lat_v, lon_v = lat[valid], lon[valid]
    else:
        return None
    south, north = float(lat_v.min()), float(lat_v.max())
    lo, hi = float(lon_v.min()), float(lon_v.max())
    if lo < -180.0 or hi >= 180.0:
        lon_v = _wrap(lon_v)
        lo, hi = float(lon_v.min()), float(lon_v.max())
    if hi - lo < 180.0:
        # The gap left out is over 180 degrees, so it is the widest: the smallest arc.
        return [_down(lo), _down(south), _up(hi), _up(north)]
    # Only a block spanning half the globe or more can ring a pole.
    pole = _ringed_pole(lon, lat, valid)
    if pole > 0:
        return [-180.0, _down(south), 180.0, 90.0]
    if pole < 0:
        return [-180.0, -90.0, 180.0, _up(north)]
    west, east = _lon_arc(lon_v.ravel())
    return [max(-180.0, _down(west)), _down(south), min(180.0, _up(east)), _up(north)]


def _wrap(lon: np.ndarray) -> np.ndarray:
    """Longitudes in [-180, 180) (as subset.region wraps them before testing)."""
    lon = np.asarray(lon, dtype=np.float64)
    return np.where((lon >= -180.0) & (lon < 180.0), lon, (lon + 180.0) % 360.0 - 180.0)


def _down(v: float) -> float:
    r = math.floor(v * 10**DIGITS) / 10**DIGITS
    return float(r if r <= v else r - 10.0**-DIGITS)  # never above v, whatever the rounding


def _up(v: float) -> float:
    r = math.ceil(v * 10**DIGITS) / 10**DIGITS
    return float(r if r >= v else r + 10.0**-DIGITS)


def _lon_arc(lon: np.ndarray) -> tuple[float, float]:
    """Return (west, east) of a short arc holding every longitude (wrapped); west > east
    across the antimeridian.

    The widest run of empty ``ARC_BIN_DEG`` bins is left out: exact end points, and an arc
    at most two bins longer than the smallest one (a gap inside a bin is not seen).
    """
    nbins = int(round(360.0 / ARC_BIN_DEG))
    idx = np.clip(((lon + 180.0) / ARC_BIN_DEG).astype(np.intp), 0, nbins - 1)
    used = np.bincount(idx, minlength=nbins) > 0
    if used.all():
        return -180.0, 180.0
    # The widest circular run of empty bins: start after an occupied bin.
    occupied = np.nonzero(used)[0]
    nxt = np.roll(occupied, -1)
    gaps = (nxt - occupied - 1) % nbins
    if len(occupied) == 1:
        gaps[:] = nbins - 1
    k = int(np.argmax(gaps))
    first_bin, last_bin = int(nxt[k]), int(occupied[k])  # the arc runs first_bin..last_bin
    west = float(lon[idx == first_bin].min())
    east = float(lon[idx == last_bin].max())
    return west, east  # west > east when first_bin > last_bin: across the antimeridian


def _ringed_pole(lon: np.ndarray, lat: np.ndarray, valid: np.ndarray) -> int:
    """Return 1 (north) or -1 (south) when the block's edge pixels wind round a pole, else 0."""
    if lon.ndim != 2 or min(lon.shape) < 2:
        return 0
    rows, cols = lon.shape
    # The edge, once round: top row, right column, bottom row back, left column back up.
    ii = np.concatenate([np.zeros(cols, np.intp), np.arange(1, rows),
                         np.full(cols - 1, rows - 1), np.arange(rows - 2, 0, -1)])
    jj = np.concatenate([np.arange(cols), np.full(rows - 1, cols - 1),
                         np.arange(cols - 2, -1, -1), np.zeros(rows - 2, np.intp)])
    keep = valid[ii, jj]
    if keep.sum() < 3:
        return 0
    ring = np.asarray(lon, dtype=np.float64)[ii[keep], jj[keep]]
    steps = np.diff(np.r_[ring, ring[:1]])
    steps = (steps + 180.0) % 360.0 - 180.0
    if abs(float(steps.sum())) < 180.0:
        return 0
    return 1 if float(np.asarray(lat)[valid].mean()) > 0 else -1


@dataclass
class PairBounds:
    """The bounds of one pair, as arrays: ``boxes`` (n, 4) with NaN rows for empty blocks."""

    lat: str
    lon: str
    shape: tuple[int, ...]
    block: tuple[int, ...]
    boxes: np.ndarray

    @property
    def grid(self) -> tuple[int, ...]:
        """Return the number of blocks along each core axis."""
        return tuple(math.ceil(n / b) for n, b in zip(self.shape, self.block, strict=True))

    def meeting(self, area: BaseGeometry) -> list[tuple[int, ...]]:
        """Return the block indices (C order) whose box meets ``area`` (lon/lat, edges
        straight, longitudes in [-180, 180], cut at the antimeridian), boundaries included."""
        full = np.isfinite(self.boxes).all(axis=1)
        ids = np.nonzero(full)[0]
        if not len(ids):
            return []
        w, s, e, n = (self.boxes[ids, k] for k in range(4))
        # A crossing box is two pieces; a piece reaching -180 also touches +180 (a pixel at
        # 180 is wrapped to -180, and a region piece ending at 180 holds it).
        cross = w > e
        west_edge = cross | (w <= -180.0)
        pieces = [
            (ids, w, s, np.where(cross, 180.0, e), n),
            (ids[cross], np.full(int(cross.sum()), -180.0), s[cross], e[cross], n[cross]),
            (ids[west_edge], np.full(int(west_edge.sum()), 180.0 - 1e-9), s[west_edge],
             np.full(int(west_edge.sum()), 180.0), n[west_edge]),
        ]
        hit = np.zeros(len(self.boxes), dtype=bool)
        for pid, pw, ps, pe, pn in pieces:
            if len(pid):
                hit[pid[shapely.intersects(shapely.box(pw, ps, pe, pn), area)]] = True
        grid = self.grid
        return [tuple(int(v) for v in np.unravel_index(i, grid)) for i in np.nonzero(hit)[0]]


def read_bounds(doc: Mapping[str, Any] | None) -> dict[tuple[str, str], PairBounds]:
    """Return {(lat path, lon path): PairBounds} from the JSON above (empty for None);
    raises ValueError naming what is wrong in a malformed document."""
    if not doc:
        return {}
    if doc.get("version") != VERSION:
        raise ValueError(f"chunk geolocation bounds: version {doc.get('version')!r}, "
                         f"expected {VERSION}")
    out: dict[tuple[str, str], PairBounds] = {}
    for k, entry in enumerate(doc.get("pairs", [])):
        try:
            shape = tuple(int(v) for v in entry["shape"])
            block = tuple(int(v) for v in entry["block"])
            raw = entry["boxes"]
            boxes = np.array([b if b is not None else [np.nan] * 4 for b in raw],
                             dtype=np.float64).reshape(len(raw), 4)
            bounds = PairBounds(str(entry["lat"]), str(entry["lon"]), shape, block, boxes)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"chunk geolocation bounds: pair {k} is malformed ({e})") from e
        if (len(shape) != len(block) or min(block, default=0) < 1
                or math.prod(bounds.grid) != len(boxes)):
            raise ValueError(f"chunk geolocation bounds: pair {k} ({bounds.lat}) has "
                             f"{len(boxes)} boxes for shape {shape} in blocks {block}")
        out[(bounds.lat, bounds.lon)] = bounds
    return out

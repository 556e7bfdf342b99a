"""Which pixels of a swath fall in a region: the exact mask and its minimal index window.

Geolocation is found and decoded by ``ingest.geoloc`` (the readers' own code). On a
chunked swath the geolocation is read chunk by chunk, and whole blocks of chunks are
skipped without being read when a bound proves they cannot reach the region: every pixel
lies within ``s * (index distance)`` of a pixel already read, where ``s`` is the largest
step between neighbouring pixels seen so far times a safety factor (swath geolocation is
continuous; the probes include both swath edges, where pixels are largest). So an
archived object is read for its metadata, a few probe chunks and the window itself.

With the swath's per-chunk geolocation bounds (ingest.chunkgeo, from its chunk index)
there is no search: the blocks whose box meets the region are read, all at once, and
every pixel in the region is in one of them, so the window is the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ingest.chunkgeo import PairBounds
from ingest.geoloc import GeoPair, VarRef, read_lonlat
from subset.region import Region
from subset.source import Dim, Var, prefetch

SAFETY = 1.25  # the step bound is this times the largest neighbour step measured
STRIDE = 4  # sampling of a fully valid chunk for its caps
SUB_BLOCK = 64  # pixels a side of the caps that bound a chunk's distance to the region
MIN_CHUNKS_TO_PRUNE = 16  # below this, all geolocation is read at once
KEEP_BYTES = 512 * 2**20  # stored lat/lon kept from the search for the window
Sel = tuple[slice, ...]
TimeMask = Callable[[Sel], np.ndarray]


@dataclass
class Geo:
    """One geolocation pair: its variables, core axes (length > 1) and core dimensions."""

    pair: GeoPair
    lat: Var
    lon: Var
    axes: tuple[int, ...]  # axes of lat that are not length 1
    dims: tuple[Dim, ...]  # the swath dimensions (grid: lat dim, lon dim)
    # One of the pairs the footprint is made of (ingest.geoselect), not a summary or a
    # coarser twin: only these decide whether the swath has data in a region.
    primary: bool = True
    chunks: tuple[int, ...] | None = None  # core chunk shape while chunks are kept
    # Stored lat/lon of chunks read by the search, so the window is not read twice.
    kept: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict,
                                                                      repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """Return the core shape (grid: (ny, nx))."""
        if self.pair.kind == "grid":
            return (self.lat.shape[0], self.lon.shape[0])
        return tuple(self.lat.shape[a] for a in self.axes)

    def read(self, core: Sel) -> tuple[np.ma.MaskedArray, np.ma.MaskedArray]:
        """Return (lon, lat) masked arrays of a core-index block, decoded as ingest does."""
        if self.pair.kind == "grid":
            lat = self.lat.read((core[0],))
            lon = self.lon.read((core[1],))
            pair = GeoPair(_ref(self.lat, lat), _ref(self.lon, lon), "grid")
            return read_lonlat(pair)
        return self.decode(*self.read_raw(core))

    def decode(self, lat: np.ndarray, lon: np.ndarray,
               ) -> tuple[np.ma.MaskedArray, np.ma.MaskedArray]:
        """Return (lon, lat) masked arrays of stored lat/lon of a core block (not a grid)."""
        lo, la = read_lonlat(GeoPair(_ref(self.lat, lat), _ref(self.lon, lon), self.pair.kind))
        return lo.reshape(lat.shape), la.reshape(lat.shape)

    def read_raw(self, core: Sel) -> tuple[np.ndarray, np.ndarray]:
        """Return stored (lat, lon) of a core block, from chunks kept by the search if any."""
        shape = tuple(len(range(*s.indices(n))) for s, n in zip(core, self.shape, strict=True))
        if not self.kept or self.chunks is None:
            self.prefetch([core])
            full = self.full_sel(core)
            return (self.lat.read(full).reshape(shape), self.lon.read(full).reshape(shape))
        out_lat = np.empty(shape, dtype=self.lat.dtype)
        out_lon = np.empty(shape, dtype=self.lon.dtype)
        ranges = [range(s.start // c, -(-s.stop // c)) for s, c in zip(core, self.chunks,
                                                                         strict=True)]
        pieces = []
        for index in np.ndindex(*(len(r) for r in ranges)):
            key = tuple(r[i] for r, i in zip(ranges, index, strict=True))
            piece = tuple(slice(max(s.start, k * c), min(s.stop, (k + 1) * c))
                          for s, k, c in zip(core, key, self.chunks, strict=True))
            pieces.append((key, piece))
        self.prefetch([piece for key, piece in pieces if key not in self.kept])
        for key, piece in pieces:
            dst = tuple(slice(p.start - s.start, p.stop - s.start) for p, s in zip(piece, core,
                                                                                   strict=True))
            if key in self.kept:
                lat_c, lon_c = self.kept[key]
                src = tuple(slice(p.start - k * c, p.stop - k * c)
                            for p, k, c in zip(piece, key, self.chunks, strict=True))
                out_lat[dst], out_lon[dst] = lat_c[src], lon_c[src]
            else:
                full = self.full_sel(piece)
                pshape = out_lat[dst].shape
                out_lat[dst] = self.lat.read(full).reshape(pshape)
                out_lon[dst] = self.lon.read(full).reshape(pshape)
        return out_lat, out_lon

    def prefetch(self, cores: list[Sel]) -> None:
        """Start fetching, as one batch, the stored lat/lon chunks of core blocks."""
        if self.pair.kind != "grid" and cores:
            fulls = [self.full_sel(core) for core in cores]
            prefetch([(v, full) for full in fulls for v in (self.lat, self.lon)])

    def full_sel(self, core: Sel) -> Sel:
        """Return a selection over all axes of lat/lon from one over the core axes."""
        sel = [slice(None)] * len(self.lat.shape)
        for axis, s in zip(self.axes, core, strict=True):
            sel[axis] = s
        return tuple(sel)


def _ref(var: Var, data: np.ndarray) -> VarRef:
    ref = var.ref()
    return VarRef(ref.path, data.shape, ref.dtype, ref.attrs, ref.dims, lambda: data,
                  ref.dim_keys)


@dataclass
class Window:
    """The selected pixels of one geolocation pair: index slices per swath dim and the mask."""

    geo: Geo
    slices: tuple[slice, ...]
    mask: np.ndarray  # bool over the window: pixel valid, in the region, in the time window
    lon: np.ndarray = field(repr=False)  # float64 window lon/lat (NaN where invalid)
    lat: np.ndarray = field(repr=False)
    lat_raw: np.ndarray | None = field(default=None, repr=False)  # stored values, window
    lon_raw: np.ndarray | None = field(default=None, repr=False)
    chunks_read: int = 0
    chunks_total: int = 0

    @property
    def n_selected(self) -> int:
        """Return the number of selected pixels."""
        return int(self.mask.sum())

    def dim_slices(self) -> dict[str, slice]:
        """Return {dimension key: slice} for the swath dimensions."""
        return {d.key: s for d, s in zip(self.geo.dims, self.slices, strict=True)}


def find_window(geo: Geo, region: Region, time_mask: TimeMask | None = None,
                strategy: str = "auto", bounds: PairBounds | None = None) -> Window | None:
    """Return the minimal window of pixels in the region (and time window), or None if none.

    ``strategy`` 'full' reads all geolocation; 'auto' prunes by chunk on chunked swaths:
    with ``bounds`` (the pair's per-block boxes, ingest.chunkgeo) it reads only the blocks
    whose box meets the region, else it searches (_ChunkSearch).
    """
    shape = geo.shape
    if any(n == 0 for n in shape):
        return None
    chunks = _core_chunks(geo)
    n_chunks = math.prod(math.ceil(n / c) for n, c in zip(shape, chunks, strict=True))
    whole: tuple[np.ndarray, np.ndarray] | None = None
    if bounds is not None and strategy == "auto" and geo.pair.kind != "grid":
        box, read, total = _bounded(geo, region, bounds, time_mask)
    elif strategy == "full" or n_chunks < MIN_CHUNKS_TO_PRUNE or geo.pair.kind == "grid":
        core = tuple(slice(0, n) for n in shape)
        stored = math.prod(shape) * (geo.lat.dtype.itemsize + geo.lon.dtype.itemsize)
        if geo.pair.kind != "grid" and stored <= KEEP_BYTES:
            # Keep the stored values for the window below: reading them a second time
            # was a second pass over the store (the block cache rarely still holds them).
            whole = geo.read_raw(core)
            box = _hits(geo, region, core, time_mask, geo.decode(*whole))
        else:
            box = _hits(geo, region, core, time_mask)
        read, total = 1, 1
    else:
        geo.chunks = chunks
        search = _ChunkSearch(geo, region, chunks, time_mask)
        box = search.run()
        read, total = len(search.cache), n_chunks
    if box is None:
        geo.kept.clear()
        return None
    core = tuple(slice(lo, hi) for lo, hi in box)
    lat_raw: np.ndarray | None
    lon_raw: np.ndarray | None
    lat_raw, lon_raw = (a[core] for a in whole) if whole is not None else geo.read_raw(core)
    geo.kept.clear()
    pair = GeoPair(_ref(geo.lat, lat_raw), _ref(geo.lon, lon_raw), geo.pair.kind)
    if geo.pair.kind == "grid":
        lon, lat = geo.read(core)
        lat_raw = lon_raw = None
    else:
        lon, lat = (a.reshape(lat_raw.shape) for a in read_lonlat(pair))
    mask = _mask(lon, lat, region, core, time_mask)
    if not mask.any():
        return None
    # Shrink to the exact bounds of the mask (the chunk search already gives them).
    idx = [np.nonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != k)))[0]
           for k in range(mask.ndim)]
    inner = tuple(slice(int(i[0]), int(i[-1]) + 1) for i in idx)
    slices = tuple(slice(c.start + s.start, c.start + s.stop) for c, s in zip(core, inner,
                                                                              strict=True))
    return Window(geo, slices, mask[inner], lon.filled(np.nan)[inner],
                  lat.filled(np.nan)[inner],
                  lat_raw[inner] if lat_raw is not None else None,
                  lon_raw[inner] if lon_raw is not None else None, read, total)


def _bounded(geo: Geo, region: Region, bounds: PairBounds, time_mask: TimeMask | None,
             ) -> tuple[list[tuple[int, int]] | None, int, int]:
    """Return (selected box, blocks read, blocks) reading only the geolocation blocks whose
    box (ingest.chunkgeo) meets the region: every pixel in the region lies in one of them.
    The blocks read are kept for the window (up to KEEP_BYTES)."""
    geo.chunks = bounds.block
    total = math.prod(bounds.grid)
    indices = bounds.meeting(region.geometry)
    cores = [tuple(slice(i * b, min((i + 1) * b, n))
                   for i, b, n in zip(index, bounds.block, bounds.shape, strict=True))
             for index in indices]
    geo.prefetch(cores)  # all in flight at once: no probe decides what comes next
    boxes = []
    kept = 0
    for index, core in zip(indices, cores, strict=True):
        lat_raw, lon_raw = geo.read_raw(core)
        if kept < KEEP_BYTES:
            geo.kept[index] = (lat_raw, lon_raw)
            kept += lat_raw.nbytes + lon_raw.nbytes
        hit = _hits(geo, region, core, time_mask, geo.decode(lat_raw, lon_raw))
        if hit:
            boxes.append(hit)
    if not boxes:
        return None, len(indices), total
    return ([(min(b[k][0] for b in boxes), max(b[k][1] for b in boxes))
             for k in range(len(bounds.shape))], len(indices), total)


def _xyz32(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Return float32 unit vectors (..., 3): half the cost of float64, ample for bounds."""
    lam = np.radians(lon.astype(np.float32))
    phi = np.radians(lat.astype(np.float32))
    cphi = np.cos(phi)
    return np.stack([cphi * np.cos(lam), cphi * np.sin(lam), np.sin(phi)], axis=-1)


def _sample(n: int) -> np.ndarray:
    """Return every STRIDE-th index of 0..n-1, the last one included."""
    return np.unique(np.r_[np.arange(0, n, STRIDE), n - 1])


def _sub_caps(xyz: np.ndarray, valid: np.ndarray,
              margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Return (centres (K, 3) float64, radii (K,)) of caps holding the valid pixels of a chunk.

    The chunk is cut into blocks of about SUB_BLOCK pixels a side, so each cap is small
    and the distance bound tight, however wide the chunk. ``margin`` (radians) grows the
    radii when ``xyz`` is a sample of the chunk (every STRIDE pixels): the distance from
    any pixel to the nearest sampled one.
    """
    if xyz.ndim == 2:  # a 1-D track
        xyz, valid = xyz[:, None, :], valid[:, None]
    h, w = valid.shape
    block = max(2, SUB_BLOCK // STRIDE) if margin else SUB_BLOCK
    bh, bw = min(h, block), min(w, block)
    nh, nw = -(-h // bh), -(-w // bw)
    pad = ((0, nh * bh - h), (0, nw * bw - w))
    v = np.pad(valid, pad).reshape(nh, bh, nw, bw)
    p = np.pad(xyz, (*pad, (0, 0))).reshape(nh, bh, nw, bw, 3)
    p = np.where(v[..., None], p, np.float32(0))
    sums = p.sum(axis=(1, 3), dtype=np.float64)  # (nh, nw, 3)
    norms = np.linalg.norm(sums, axis=-1, keepdims=True)
    ok = (norms[..., 0] > 1e-9) & v.any(axis=(1, 3))
    centres = np.where(ok[..., None], sums / np.maximum(norms, 1e-12), 0.0)
    dots = np.einsum("ipjqk,ijk->ipjq", p, centres.astype(np.float32))
    dots = np.where(v, dots, np.float32(2.0)).min(axis=(1, 3))
    radii = np.arccos(np.clip(dots, -1.0, 1.0)) + 1e-5 + margin  # float32 dots: outside
    return centres[ok], radii[ok]


def _core_chunks(geo: Geo) -> tuple[int, ...]:
    if geo.pair.kind == "grid" or geo.lat.chunks is None:
        return geo.shape
    return tuple(geo.lat.chunks[a] for a in geo.axes)


def _mask(lon: np.ma.MaskedArray, lat: np.ma.MaskedArray, region: Region, core: Sel,
          time_mask: TimeMask | None) -> np.ndarray:
    valid = ~np.ma.getmaskarray(lon) & ~np.ma.getmaskarray(lat)
    inside: np.ndarray = valid & region.contains(lon.filled(np.nan), lat.filled(np.nan))
    if time_mask is not None and inside.any():
        inside &= np.broadcast_to(time_mask(core), inside.shape)
    return inside


def _hits(geo: Geo, region: Region, core: Sel, time_mask: TimeMask | None,
          data: tuple[np.ma.MaskedArray, np.ma.MaskedArray] | None = None,
          ) -> list[tuple[int, int]] | None:
    """Return [(start, stop)] per core axis bounding the selected pixels of a block."""
    lon, lat = data if data is not None else geo.read(core)
    mask = _mask(lon, lat, region, core, time_mask)
    if not mask.any():
        return None
    out = []
    for k, s in enumerate(core):
        rows = np.nonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != k)))[0]
        out.append((s.start + int(rows[0]), s.start + int(rows[-1]) + 1))
    return out


@dataclass
class _Chunk:
    centre: np.ndarray | None  # unit vector of the cap centre (None: no valid pixel)
    radius: float
    full: bool  # every pixel has valid geolocation
    box: list[tuple[int, int]] | None  # selected pixels of this chunk


class _ChunkSearch:
    """Bisection along track over rows of chunks, with a Lipschitz bound on unread chunks.

    A block of chunk rows is skipped when some chunk already read is farther from the
    region than any pixel of the block can be from it: (rows apart x along-track step +
    columns apart x cross-track step) x SAFETY, counted to the chunk's nearest edge when
    all its pixels are valid (to its far edge otherwise). The probe is the middle chunk row
    read whole, so the steps are measured at both swath edges, where pixels are largest.
    """

    def __init__(self, geo: Geo, region: Region, chunks: tuple[int, ...],
                 time_mask: TimeMask | None) -> None:
        self.geo, self.region, self.chunks, self.time_mask = geo, region, chunks, time_mask
        self.shape = geo.shape
        self.grid = tuple(math.ceil(n / c) for n, c in zip(self.shape, chunks, strict=True))
        self.cache: dict[tuple[int, ...], _Chunk] = {}
        self.steps = np.zeros(len(self.shape))  # largest neighbour step per axis (radians)
        self.boxes: list[list[tuple[int, int]]] = []
        self._dist: dict[tuple[int, ...], float] = {}
        self._kept_bytes = 0
        self._probing = False

    def run(self) -> list[tuple[int, int]] | None:
        rows = self.grid[0]
        self._probing = True  # the first row: steps measured at full resolution
        self._read_row(rows // 2)
        self._probing = False
        self._visit(0, rows // 2)
        self._visit(rows // 2 + 1, rows)
        if not self.boxes:
            return None
        return [(min(b[k][0] for b in self.boxes), max(b[k][1] for b in self.boxes))
                for k in range(len(self.shape))]

    def _cols(self) -> range:
        return range(self.grid[1]) if len(self.grid) > 1 else range(1)

    def _index(self, row: int, col: int) -> tuple[int, ...]:
        return (row, col) if len(self.grid) > 1 else (row,)

    def _read_row(self, row: int) -> None:
        todo = [col for col in self._cols()
                if not self._excluded(self._block(row, row + 1, col, col + 1))]
        # The whole row's chunks in flight at once; one that reading its neighbours then
        # excludes was fetched for nothing, a few MB at most, against a round trip each.
        self.geo.prefetch([self._core(self._index(row, col)) for col in todo
                           if self._index(row, col) not in self.cache])
        for col in todo:
            if not self._excluded(self._block(row, row + 1, col, col + 1)):
                self._read(self._index(row, col))

    def _block(self, r0: int, r1: int, c0: int, c1: int) -> tuple[tuple[int, int], ...]:
        return ((r0, r1), (c0, c1)) if len(self.grid) > 1 else ((r0, r1),)

    def _visit(self, r0: int, r1: int) -> None:
        if r0 >= r1:
            return
        if self._excluded(self._block(r0, r1, 0, len(self._cols()))):
            return
        mid = (r0 + r1 - 1) // 2
        self._read_row(mid)
        self._visit(r0, mid)
        self._visit(mid + 1, r1)

    def _core(self, index: tuple[int, ...]) -> Sel:
        return tuple(slice(i * c, min((i + 1) * c, n))
                     for i, c, n in zip(index, self.chunks, self.shape, strict=True))

    def _read(self, index: tuple[int, ...]) -> _Chunk:
        if index in self.cache:
            return self.cache[index]
        core = self._core(index)
        lat_raw, lon_raw = self.geo.read_raw(core)
        if self._kept_bytes < KEEP_BYTES:
            self.geo.kept[index] = (lat_raw, lon_raw)
            self._kept_bytes += lat_raw.nbytes + lon_raw.nbytes
        pair = GeoPair(_ref(self.geo.lat, lat_raw), _ref(self.geo.lon, lon_raw),
                       self.geo.pair.kind)
        lon, lat = (a.reshape(lat_raw.shape) for a in read_lonlat(pair))
        valid = ~np.ma.getmaskarray(lon) & ~np.ma.getmaskarray(lat)
        chunk = _Chunk(None, 0.0, bool(valid.all()), None)
        sampled = chunk.full and not self._probing and min(valid.shape) > 2 * STRIDE
        if sampled:  # every STRIDE-th pixel: 1/16 of the work, the bound kept by a margin
            grid = np.ix_(*(_sample(n) for n in valid.shape))
            xyz = _xyz32(np.asarray(lon)[grid], np.asarray(lat)[grid])
            gaps = [np.diff(_sample(n)) for n in valid.shape]
            self._measure_steps(xyz, np.ones(xyz.shape[:-1], dtype=bool), gaps)
            margin = float(sum((STRIDE // 2) * st for st in self.steps) * SAFETY)
            cap_valid = np.ones(xyz.shape[:-1], dtype=bool)
        else:
            xyz = _xyz32(lon.filled(0.0), lat.filled(0.0))
            self._measure_steps(xyz, valid, None)
            margin, cap_valid = 0.0, valid
        if valid.any():
            centres, radii = _sub_caps(xyz, cap_valid, margin)
            if len(centres):
                chunk.centre, chunk.radius = centres[0], float(radii.max())
                dist = self.region.distance_lower_bound(centres) - radii
                self._dist[index] = float(dist.min())
            chunk.box = _hits(self.geo, self.region, core, self.time_mask, (lon, lat))
        if chunk.box:
            self.boxes.append(chunk.box)
        self.cache[index] = chunk
        return chunk

    def _measure_steps(self, xyz: np.ndarray, valid: np.ndarray,
                       gaps: list[np.ndarray] | None) -> None:
        """Raise the per-axis step bounds to the largest neighbour step in ``xyz``.

        With ``gaps`` (index distances between sampled pixels) a step is the chord between
        samples divided by their distance in pixels.
        """
        nd = valid.ndim
        for axis in range(nd):
            lo = tuple(slice(0, -1) if a == axis else slice(None) for a in range(nd))
            hi = tuple(slice(1, None) if a == axis else slice(None) for a in range(nd))
            both = valid[lo] & valid[hi]
            if not both.any():
                continue
            diff = xyz[lo] - xyz[hi]
            chord = np.sqrt(np.einsum("...k,...k->...", diff, diff))
            if gaps is not None:
                shape = [1] * nd
                shape[axis] = -1
                chord = chord / gaps[axis].reshape(shape)
            top = float(chord[both].max())
            # chord -> angle, plus float32 rounding (a few 1e-7 of a unit vector).
            self.steps[axis] = max(self.steps[axis], 2 * math.asin(min(1.0, top / 2)) + 1e-6)

    def _excluded(self, block: tuple[tuple[int, int], ...]) -> bool:
        """Return True if some read chunk proves no pixel of the block is in the region."""
        step = self.steps * SAFETY
        for index, dist in self._dist.items():
            if dist <= 0:
                continue
            full = self.cache[index].full
            reach = 0.0
            for k, (lo, hi) in enumerate(block):
                c = self.chunks[k]
                p0, p1 = lo * c, min(hi * c, self.shape[k]) - 1  # block pixels on axis k
                q0 = index[k] * c
                q1 = min(q0 + c, self.shape[k]) - 1
                # To the chunk's nearest pixel if all are valid, else to any of them.
                gap = max(0, q0 - p0, p1 - q1) if full else max(abs(p1 - q0), abs(q1 - p0))
                reach += step[k] * gap
            if dist > reach + 1e-9:
                return True
        return False

"""Footprints from the data: outlines of valid pixels, split at the antimeridian, poles closed.

Shared with the subset kernel and MPI workers: no Django. The swath is cut into pieces small
enough to be nearly convex; each piece's outline is the convex hull of its valid pixel centres
in a gnomonic projection centred on the piece (great circles are straight lines there, so the
hull is the spherical convex hull), grown by half a pixel. A piece whose hull is much larger
than the area its pixels cover (fill gaps, ASCAT's nadir gap) is split again. Each outline is
turned into lon/lat polygons: longitudes unwrapped along the ring, rings around a pole closed
along +-90, then cut at +-180 and shifted back. 1-D tracks are buffered into thin strips.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from eo.geometry import polygons as _polygons
from eo.geometry import ring_to_lonlat

EARTH_RADIUS_KM = 6371.0088
KM = 1.0 / EARTH_RADIUS_KM  # one kilometre as an angle in radians
CHUNK_ANGLE = np.radians(10.0)  # along-track length of a swath piece before any split
MAX_PIECE_ANGLE = np.radians(40.0)  # gnomonic distortion stays small inside this radius
SPLIT_RATIO = 1.25  # hull area / covered area above which a piece is split
MAX_DEPTH = 7
MIN_MARGIN_KM, MAX_MARGIN_KM = 1.0, 50.0
MIN_HALF_WIDTH_KM, MAX_HALF_WIDTH_KM = 2.0, 50.0
DEFAULT_TOLERANCE_DEG = 0.05
WORLD = box(-180.0, -90.0, 180.0, 90.0)


@dataclass
class Footprint:
    """A footprint and the numbers behind it."""

    geometry: MultiPolygon | None
    n_valid: int
    margin_km: float  # half-pixel margin (swaths) or half-width (tracks) actually used
    kinds: tuple[str, ...]


def lonlat_to_xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Return unit vectors (..., 3) for longitudes/latitudes in degrees.

    float32 input stays float32: most granules store geolocation that way, and float32's
    1e-7 precision is well under a metre, far below any footprint margin, at half the
    cost of the conversion that dominates a footprint's CPU time (3 M pixels a granule).
    """
    both32 = np.asarray(lon).dtype == np.float32 and np.asarray(lat).dtype == np.float32
    dtype = np.float32 if both32 else np.float64
    # A multiply by pi/180 in the working dtype: np.radians costs as much as a sine here.
    lam = np.multiply(lon, dtype(np.pi / 180.0), dtype=dtype)
    phi = np.multiply(lat, dtype(np.pi / 180.0), dtype=dtype)
    out = np.empty(np.shape(lam) + (3,), dtype)
    np.cos(lam, out=out[..., 0])
    np.sin(lam, out=out[..., 1])
    np.sin(phi, out=out[..., 2])
    cos_phi = np.cos(phi)
    out[..., 0] *= cos_phi
    out[..., 1] *= cos_phi
    return out


def xyz_to_lonlat(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (lon, lat) in degrees for unit vectors (..., 3)."""
    lon = np.degrees(np.arctan2(xyz[..., 1], xyz[..., 0]))
    lat = np.degrees(np.arcsin(np.clip(xyz[..., 2], -1.0, 1.0)))
    return lon, lat


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the great-circle angle (radians) between unit vectors, elementwise."""
    # Written out per component: np.cross, np.linalg.norm and sums over a last axis of 3
    # cost several times as much, in the same operations and order.
    (a0, a1, a2), (b0, b1, b2) = np.moveaxis(a, -1, 0), np.moveaxis(b, -1, 0)
    cross = np.sqrt((a1 * b2 - a2 * b1) ** 2 + (a2 * b0 - a0 * b2) ** 2
                    + (a0 * b1 - a1 * b0) ** 2)
    return np.arctan2(cross, a0 * b0 + a1 * b1 + a2 * b2)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the cross product of two 3-vectors (np.cross's axis handling costs more)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]])


class Gnomonic:
    """Gnomonic projection centred on a unit vector (radius 1)."""

    def __init__(self, center: np.ndarray) -> None:
        self.center = center / np.linalg.norm(center)
        ref = np.array([0.0, 0.0, 1.0]) if abs(self.center[2]) < 0.9 else np.array([1.0, 0, 0])
        east = _cross(ref, self.center)
        self.east = east / np.linalg.norm(east)
        self.north = _cross(self.center, self.east)

    @classmethod
    def around(cls, points: np.ndarray, sample: np.ndarray | None = None) -> Gnomonic | None:
        """Return a projection centred on the points, or None if they spread too far.

        The centre is the mean of `sample` (default: the points), any central point will
        do; every point must lie within MAX_PIECE_ANGLE of it.
        """
        mean = (points if sample is None else sample).mean(axis=0, dtype=np.float64)
        if np.linalg.norm(mean) < 1e-6:
            return None
        proj = cls(mean)
        if np.min(points @ proj.center) < np.cos(MAX_PIECE_ANGLE):
            return None
        return proj

    def forward(self, xyz: np.ndarray) -> np.ndarray:
        """Return projected (x, y) for unit vectors on the near hemisphere, in xyz's dtype."""
        # Axes cast to float32 for float32 points: else numpy converts every point to float64.
        center, east, north = (v.astype(xyz.dtype, copy=False)
                               for v in (self.center, self.east, self.north))
        d = xyz @ center
        return np.stack([(xyz @ east) / d, (xyz @ north) / d], axis=-1)

    def inverse(self, xy: np.ndarray) -> np.ndarray:
        """Return unit vectors for projected (x, y)."""
        v = (self.center + xy[..., :1] * self.east + xy[..., 1:2] * self.north)
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _projected_to_lonlat(proj: Gnomonic, shape: BaseGeometry, near_pole: bool) -> list[Polygon]:
    """Return lon/lat polygons for a projected polygon, densified along great circles."""
    step = np.radians(0.05 if near_pole else 0.5)
    out: list[Polygon] = []
    for poly in _polygons(shape):
        ring = np.asarray(shapely.segmentize(poly.exterior, step).coords)
        lon, lat = xyz_to_lonlat(proj.inverse(ring))
        out.extend(ring_to_lonlat(lon, lat))
    return out


def _near_pole(abs_z_max: float, margin: float) -> bool:
    """Return True if points whose largest |z| is abs_z_max come within 15 degrees (plus the
    margin) of a pole: their outline is then densified more finely."""
    return bool(abs_z_max > np.cos(np.radians(15.0) + margin))


class _Grid:
    """A block of a swath's float32 lon/lat; unit vectors are computed for the pixels asked for.

    A block that is not split needs vectors only for its outline and a few strided samples:
    computing them for every pixel (four float32 sines and cosines each) cost a third of a
    large granule's footprint. A block that is split computes them all once, and its parts
    share them.
    """

    def __init__(self, lon: np.ndarray, lat: np.ndarray, xyz: np.ndarray | None = None) -> None:
        self.lon, self.lat, self._xyz = lon, lat, xyz

    def __getitem__(self, window: tuple[slice, slice]) -> _Grid:
        """Return the sub-block in a (rows, columns) window, sharing any vectors computed."""
        xyz = None if self._xyz is None else self._xyz[window]
        return _Grid(self.lon[window], self.lat[window], xyz)

    def xyz(self, index: object = Ellipsis) -> np.ndarray:
        """Return unit vectors for the pixels at an index (all of them, kept, by default)."""
        if self._xyz is None and index is Ellipsis:
            self._xyz = lonlat_to_xyz(self.lon, self.lat)
        if self._xyz is not None:
            return self._xyz[index]
        return lonlat_to_xyz(self.lon[index], self.lat[index])

    def abs_z_max(self, valid: np.ndarray) -> float:
        """Return the largest |z| of the valid pixels, from their latitudes (no vectors)."""
        return float(np.sin(np.radians(np.max(np.abs(self.lat), where=valid, initial=0.0))))


def _step_lengths(xy: np.ndarray, valid: np.ndarray, axis: int) -> np.ndarray:
    """Return per-pixel distance to the nearer valid neighbour along an axis (NaN if none)."""
    a = np.moveaxis(xy, axis, 0)
    v = np.moveaxis(valid, axis, 0)
    # seg[i] is the step from i-1 to i, NaN-padded at both ends: pixel i's steps are i and i+1.
    seg = np.full((v.shape[0] + 1,) + v.shape[1:], np.nan, dtype=xy.dtype)
    if a.shape[0] >= 2:
        d = a[1:] - a[:-1]
        inner = seg[1:-1]
        np.hypot(d[..., 0], d[..., 1], out=inner)
        inner[~(v[1:] & v[:-1])] = np.nan
    return np.moveaxis(np.fmin(seg[1:], seg[:-1]), 0, axis)


def _covered_area(xy: np.ndarray, valid: np.ndarray) -> float:
    """Return the area the valid pixels cover, from their spacing to valid neighbours."""
    rows = _step_lengths(xy, valid, 0)[valid]
    cols = _step_lengths(xy, valid, 1)[valid]
    lone_rows, lone_cols = np.isnan(rows), np.isnan(cols)
    if lone_rows.all() and lone_cols.all():
        return 0.0
    # A pixel with no valid neighbour along an axis is as long as its typical neighbours
    # (along the other axis if this one has no steps at all). Most blocks have no such
    # pixel, and then no median to take.
    if lone_rows.any() or lone_cols.any():
        known_rows, known_cols = rows[~lone_rows], cols[~lone_cols]
        typical_row = np.median(known_rows if known_rows.size else known_cols)
        typical_col = np.median(known_cols if known_cols.size else known_rows)
        rows = np.where(lone_rows, typical_row, rows)
        cols = np.where(lone_cols, typical_col, cols)
    return float(np.sum(rows * cols))


def _sampled_covered_area(proj: Gnomonic, grid: _Grid, valid: np.ndarray) -> float:
    """Return _covered_area from every s-th row and column (about 200k pixels at most).

    It only decides whether a piece is split (hull area against SPLIT_RATIO x covered
    area); each sampled pixel stands for an s x s block, since its steps to the next
    sampled neighbours are s pixels long. Projecting and differencing every pixel of a
    3.3 Mpixel granule cost more than the rest of the footprint.
    """
    s = max(1, int(np.sqrt(valid.size / 200_000)))
    if s > 1 and min(valid.shape) < 4 * s:
        s = 1
    sample = grid if s == 1 else grid[::s, ::s]  # s == 1: vectors kept should the block split
    # Invalid pixels project to finite garbage; _covered_area ignores them.
    return _covered_area(proj.forward(sample.xyz()), valid[::s, ::s])


def _swath_pieces(grid: _Grid, valid: np.ndarray, margin: float, depth: int = 0) -> list:
    """Return lon/lat polygons for one block of a swath, splitting it where needed."""
    if not valid.any():
        return []
    # The hull of a grid region is the hull of its outline: per-row and per-column
    # extreme pixels hold every hull vertex, at a few thousand points instead of millions.
    edge = grid.xyz(_outline(valid))
    proj = Gnomonic.around(edge, _central_sample(grid, valid))
    nrows, ncols = valid.shape
    can_split = depth < MAX_DEPTH and (nrows > 2 or ncols > 2)
    if proj is not None:
        hull = _convex_hull(proj.forward(edge))
        if not can_split or hull.area <= SPLIT_RATIO * _sampled_covered_area(proj, grid, valid):
            return _projected_to_lonlat(proj, hull.buffer(margin, quad_segs=3),
                                        _near_pole(grid.abs_z_max(valid), margin))
    if not can_split:
        # Too spread for one projection and too small to split: one buffered point each.
        one = np.ones((1, 1), bool)
        return [p for i, j in zip(*np.nonzero(valid), strict=True)
                for p in _swath_pieces(grid[i:i + 1, j:j + 1], one, margin, MAX_DEPTH)]
    halves = _split(grid.xyz(), valid)
    return [p for h in halves for p in _swath_pieces(grid[h], valid[h], margin, depth + 1)]


def _convex_hull(xy: np.ndarray) -> BaseGeometry:
    """Return the convex hull of projected points (a line or a point if they are degenerate).

    Taken of a line through the points: the same hull, without the MultiPoint's one GEOS
    point per input, which cost seven times as much.
    """
    return (Point(xy[0]) if len(xy) == 1 else LineString(xy)).convex_hull


def _central_sample(grid: _Grid, valid: np.ndarray) -> np.ndarray | None:
    """Return the valid pixels of every s-th row and column (about 10k), None if there are none.

    Their mean centres a piece's projection. Any central point will do: the hull is the
    spherical convex hull whatever the centre (only the half-pixel buffer is in projected
    units). Gnomonic.around then checks the outline pixels alone against MAX_PIECE_ANGLE,
    which covers every pixel: the pixels lie in the outline's hull, and the angle from the
    centre, arctan of the distance from the projection's origin (a convex function), is
    largest at a hull vertex. Gathering every valid pixel to average them cost more than
    the rest of a piece.
    """
    s = max(1, int(np.sqrt(valid.size / 10_000)))
    window = (slice(s // 2, None, s), slice(s // 2, None, s))  # centred, not biased to row 0
    sample = grid[window].xyz(valid[window])
    return sample if len(sample) else None


def _outline(valid: np.ndarray) -> np.ndarray:
    """Return a mask of each row's and each column's first and last valid pixel."""
    out = np.zeros_like(valid)
    for v, o in ((valid, out), (valid.T, out.T)):  # out.T is a view: writes land in out
        rows = np.flatnonzero(v.any(axis=1))
        if rows.size:
            v_rows = v if rows.size == len(v) else v[rows]  # no copy when every row has data
            o[rows, v_rows.argmax(axis=1)] = True
            o[rows, v.shape[1] - 1 - v_rows[:, ::-1].argmax(axis=1)] = True
    return out


def _gaps(xyz: np.ndarray, valid: np.ndarray, axis: int) -> np.ndarray:
    """Return the median distance between consecutive rows (axis 0) or columns (axis 1)."""
    a, b = np.moveaxis(xyz, axis, 0), np.moveaxis(valid, axis, 0)
    if a.shape[0] < 2:
        return np.zeros(0)
    d = np.where(b[1:] & b[:-1], angle_between(a[1:], a[:-1]), np.nan)
    return _row_nanmedians(d.reshape(d.shape[0], -1))


def _row_nanmedians(d: np.ndarray) -> np.ndarray:
    """Return each row's median ignoring NaNs (NaN for a row of NaNs), as np.nanmedian.

    Sorting puts the NaNs last, so the middle of a row's n values is at (n - 1) // 2 and
    n // 2. np.nanmedian(d, axis=1) goes through masked arrays for short rows and a Python
    loop for long ones: ten times slower, and splitting calls it for every block.
    """
    s = np.sort(d, axis=1)
    n = np.count_nonzero(~np.isnan(d), axis=1)
    rows = np.arange(len(s))
    low = s[rows, np.maximum(n - 1, 0) // 2]
    high = s[rows, np.minimum(n // 2, s.shape[1] - 1)]
    return (low + high) / 2


def _split(xyz: np.ndarray, valid: np.ndarray) -> list[tuple[slice, slice]]:
    """Return two index windows splitting a block: at a clear gap if one exists, else halved.

    A gap (ASCAT's nadir gap between its two swaths) is cut without overlap; a plain halving
    shares the middle row/column so that no sliver opens between the halves.
    """
    nrows, ncols = valid.shape
    gaps = [_gaps(xyz, valid, 0), _gaps(xyz, valid, 1)]
    for axis in (1, 0):
        g = gaps[axis]
        if g.size >= 2 and np.isfinite(g).any():
            j = int(np.nanargmax(g))
            if g[j] > 2.5 * np.nanmedian(g):
                cut = [(slice(0, j + 1), slice(None)), (slice(j + 1, None), slice(None))]
                return cut if axis == 0 else [(w[1], w[0]) for w in cut]
    along = np.nanmedian(gaps[0]) if np.isfinite(gaps[0]).any() else 0.0
    across = np.nanmedian(gaps[1]) if np.isfinite(gaps[1]).any() else 0.0
    if nrows > 2 and (nrows * along >= ncols * across or ncols <= 2):
        m = nrows // 2
        return [(slice(0, m + 1), slice(None)), (slice(m, None), slice(None))]
    m = ncols // 2
    return [(slice(None), slice(0, m + 1)), (slice(None), slice(m, None))]


def _row_runs(valid_rows: np.ndarray) -> list[tuple[int, int]]:
    """Return [start, stop) runs of rows that hold any valid pixel."""
    idx = np.flatnonzero(valid_rows)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    stops = np.concatenate([idx[breaks] + 1, [idx[-1] + 1]])
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _median_step(grid: _Grid, valid: np.ndarray, axis: int) -> float:
    # A median needs a sample, not every pixel: thin the other axis to ~250k steps.
    stride = max(1, valid.size // 250_000)
    thin = slice(None, None, stride)
    window = (slice(None), thin) if axis == 0 else (thin, slice(None))
    if stride <= 2:
        grid.xyz()  # two samples at stride 2 hold every pixel: compute all, kept for the blocks
    a = np.moveaxis(grid[window].xyz(), axis, 0)
    b = np.moveaxis(valid[window], axis, 0)
    if a.shape[0] < 2:
        return float("nan")
    # The chord grows with the angle, so the median step is the median chord's angle:
    # a subtraction per step instead of angle_between's cross product and arctangent.
    d = a[1:] - a[:-1]
    chords = np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2)[b[1:] & b[:-1]]
    return float(2.0 * np.arcsin(np.median(chords) / 2.0)) if chords.size else float("nan")


def _is_track_like(grid: _Grid, valid: np.ndarray, along: float) -> bool:
    """Return True when rows are short bursts along the track (Jason-1 20 Hz), not scans."""
    rows = np.flatnonzero(valid.any(axis=1))
    first = valid[rows].argmax(axis=1)
    last = valid.shape[1] - 1 - valid[rows][:, ::-1].argmax(axis=1)
    width = np.median(angle_between(grid.xyz((rows, first)), grid.xyz((rows, last))))
    return not np.isfinite(along) or width < 3.0 * along


def swath_polygons(lon: np.ndarray, lat: np.ndarray, valid: np.ndarray) -> tuple[list, float]:
    """Return (lon/lat polygons, margin in km) covering a 2-D swath's valid pixels."""
    # float32 is plenty for a footprint (see lonlat_to_xyz) and halves its main cost.
    # Invalid pixels (NaN or fill, which may overflow float32) are put at (0, 0): every
    # step below masks them out.
    with np.errstate(over="ignore"):
        lon32, lat32 = lon.astype(np.float32), lat.astype(np.float32)
    np.copyto(lon32, 0.0, where=~valid)
    np.copyto(lat32, 0.0, where=~valid)
    grid = _Grid(lon32, lat32)
    along = _median_step(grid, valid, 0)
    if _is_track_like(grid, valid, along):
        return track_polygons(lon[valid], lat[valid])
    across = _median_step(grid, valid, 1)
    spacing = np.nanmax([along, across])
    margin = float(np.clip(0.5 * spacing, MIN_MARGIN_KM * KM, MAX_MARGIN_KM * KM))
    rows_per_chunk = max(2, int(CHUNK_ANGLE / along)) if np.isfinite(along) and along > 0 else 64
    pieces: list[Polygon] = []
    for start, stop in _row_runs(valid.any(axis=1)):
        for r0 in range(start, stop, rows_per_chunk):
            r1 = min(stop, r0 + rows_per_chunk + 1)  # chunks share one row
            pieces.extend(_swath_pieces(grid[r0:r1, :], valid[r0:r1], margin))
    return pieces, margin / KM


def track_polygons(lon: np.ndarray, lat: np.ndarray,
                   half_width_km: float | None = None) -> tuple[list, float]:
    """Return (lon/lat polygons, half-width in km) of a 1-D track buffered into a strip.

    The default half-width is half the median along-track spacing, so that neighbouring
    samples' strips touch, but at least 2 km (an altimeter/lidar footprint and
    geolocation error) and at most 50 km (so sparse limb profiles do not become bands).
    """
    xyz = lonlat_to_xyz(lon, lat)
    steps = angle_between(xyz[1:], xyz[:-1]) if len(xyz) > 1 else np.zeros(0)
    median = float(np.median(steps)) if steps.size else 0.0
    if half_width_km is None:
        half_width_km = float(np.clip(0.5 * median / KM, MIN_HALF_WIDTH_KM, MAX_HALF_WIDTH_KM))
    width = half_width_km * KM
    cuts = _track_cuts(steps, gap=max(10.0 * median, 4.0 * width))
    pieces: list[Polygon] = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        start = abs(a) - 1 if a < 0 else abs(a)  # chunks share a point unless split at a gap
        chunk = xyz[start:abs(b)]
        proj = Gnomonic.around(chunk)
        if proj is None:
            continue
        xy = proj.forward(chunk)
        # Simplifying first keeps GEOS's buffer fast on dense photon tracks; every sample stays
        # within width/10 of the simplified line, hence well inside the strip. Plain
        # Douglas-Peucker: a line that crosses itself buffers just as well, and topology
        # preservation cost more than the buffer.
        line = (Point(xy[0]) if len(xy) == 1
                else LineString(xy).simplify(width / 10.0, preserve_topology=False))
        pieces.extend(_projected_to_lonlat(proj, line.buffer(width, quad_segs=4),
                                           _near_pole(np.max(np.abs(chunk[:, 2])), width)))
    return pieces, half_width_km


def _track_cuts(steps: np.ndarray, gap: float) -> list[int]:
    """Return the sample indices where a track's chunks start, then the track's length.

    A step longer than `gap` starts a new chunk at its end (a positive index); otherwise a
    chunk ends at the first step that takes it past CHUNK_ANGLE (a negative index: the next
    chunk shares that step's first sample, keeping the strip continuous). Cumulative sums
    find each cut in one search, instead of a Python loop over every step (Jason-1's 20 Hz
    track has 45k).
    """
    travelled = np.cumsum(steps)
    gaps = np.flatnonzero(steps > gap)
    n = len(steps)  # step k joins samples k and k + 1
    cuts = [0]
    start = 0  # the current chunk's first step
    while True:
        before = travelled[start - 1] if start else 0.0
        far = int(np.searchsorted(travelled, before + CHUNK_ANGLE, side="right"))
        g = int(np.searchsorted(gaps, start))
        jump = int(gaps[g]) if g < gaps.size else n
        if min(far, jump) >= n:
            break
        cuts.append(jump + 1 if jump <= far else -(far + 1))  # a gap wins a tie
        start = min(far, jump) + 1
    cuts.append(n + 1)
    return cuts


def finish(pieces: Iterable[Polygon], tolerance_deg: float) -> MultiPolygon | None:
    """Return the union of lon/lat pieces, simplified and valid, as a MultiPolygon."""
    pieces = [p for p in pieces if not p.is_empty]
    if not pieces:
        return None
    merged = shapely.union_all(pieces).intersection(WORLD)
    simple = merged.simplify(tolerance_deg, preserve_topology=True)
    if not simple.is_valid:
        simple = shapely.make_valid(simple)  # last resort: simplify keeps validity normally
    polys = _polygons(simple)
    if not polys:
        return None
    return MultiPolygon([orient(p) for p in polys])


def _same_points(a: tuple, b: tuple) -> bool:
    """Return True if two (lon, lat, valid, kind, ...) tuples hold the same points alike."""
    return (a[3] == b[3] and a[2].shape == b[2].shape and np.array_equal(a[2], b[2])
            and np.array_equal(a[0], b[0], equal_nan=True)
            and np.array_equal(a[1], b[1], equal_nan=True))


def footprint(arrays: Iterable[tuple[np.ndarray, np.ndarray, str]],
              tolerance_deg: float = DEFAULT_TOLERANCE_DEG) -> Footprint:
    """Return the footprint of several (lon, lat, kind) arrays (masked; kind 'swath2d'/'track1d').

    All pairs are unioned (ATL07 beams, GPM FS+HS). The simplification tolerance is capped at
    a quarter of the smallest margin so simplifying cannot cut into the pixels.
    """
    pieces: list[Polygon] = []
    margins: list[float] = []
    kinds: list[str] = []
    done: list[tuple[np.ndarray, np.ndarray, np.ndarray, str, float]] = []
    n_valid = 0
    for lon, lat, kind in arrays:
        valid = ~(np.ma.getmaskarray(lon) | np.ma.getmaskarray(lat))
        # No copy of float64 input: swaths are converted to float32 anyway.
        lon_d = np.ma.getdata(lon).astype(np.float64, copy=False)
        lat_d = np.ma.getdata(lat).astype(np.float64, copy=False)
        count = int(valid.sum())
        if count == 0:
            continue
        n_valid += count
        kinds.append(kind)
        # Swaths may share their geolocation (MLS's CO and CO-APriori): the same pieces again
        # would leave the union as it is, at twice its cost.
        twin = next((d[4] for d in done if _same_points(d, (lon_d, lat_d, valid, kind))), None)
        if twin is not None:
            margins.append(twin)
            continue
        if kind == "track1d" or lon_d.ndim == 1:
            got, margin = track_polygons(lon_d.ravel()[valid.ravel()], lat_d.ravel()[valid.ravel()])
        else:
            flat = (lon_d.reshape(lon_d.shape[0], -1), lat_d.reshape(lat_d.shape[0], -1),
                    valid.reshape(valid.shape[0], -1))
            got, margin = swath_polygons(*flat)
        pieces.extend(got)
        margins.append(margin)
        done.append((lon_d, lat_d, valid, kind, margin))
    if not pieces:
        return Footprint(None, n_valid, 0.0, tuple(kinds))
    margin_km = min(margins)
    tolerance = min(tolerance_deg, np.degrees(margin_km * KM) / 4.0)
    return Footprint(finish(pieces, tolerance), n_valid, margin_km, tuple(kinds))

"""Circular sun-synchronous polar orbit and a MODIS-like cross-track scanner, on a sphere.

Also the swath coverage (bounds, antimeridian, poles) and seeded smooth fields on the
sphere. Pure numpy, no Django: the synthetic swath generator (`ingest.synth`) uses it to
place pixels and fill them, and tests use it to check the geometry of the files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

MU_KM3_S2 = 398600.4418  # Earth's gravitational parameter (WGS84)
EQUATORIAL_RADIUS_KM = 6378.137  # orbit radius is measured from here, as altitudes usually are
MEAN_RADIUS_KM = 6371.0088  # the sphere the ground geometry is drawn on
SIDEREAL_DAY_S = 86164.0905
TROPICAL_YEAR_S = 365.2422 * 86400.0
EARTH_RATE = 2.0 * math.pi / SIDEREAL_DAY_S  # rad/s
SUN_SYNC_NODE_RATE = 2.0 * math.pi / TROPICAL_YEAR_S  # rad/s eastward: follows the mean sun
COARSE = 16  # smooth fields are evaluated every COARSE lines/pixels, then interpolated
MISSION_EPOCH = datetime(2002, 5, 4, tzinfo=UTC)  # about Aqua's launch: realistic orbit numbers
REFERENCE_START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ScanLines:
    """Per-scan-line state: time, nadir unit vector and the unit vector to the right of track."""

    t: np.ndarray  # seconds since the orbit epoch, shape (n,)
    nadir: np.ndarray  # shape (n, 3), Earth-fixed unit vectors
    right: np.ndarray  # shape (n, 3), unit vectors perpendicular to the ground track


@dataclass(frozen=True)
class Orbit:
    """A circular sun-synchronous orbit and its scanner; times are seconds since the epoch."""

    epoch: datetime  # an ascending-node crossing: orbit numbers count from here
    inclination_deg: float = 98.2
    altitude_km: float = 705.0
    ltan_hours: float = 13.5  # mean local time of the ascending node (Aqua: 13:30)
    swath_width_km: float = 2330.0  # MODIS: +-55 deg scan from 705 km

    @classmethod
    def from_seed(cls, seed: int) -> Orbit:
        """Return the orbit whose epoch (hence phase and node longitude) the seed picks."""
        # The seed picks where the satellite is at REFERENCE_START (the default start):
        # somewhere in the first quarter orbit after an ascending node. From there the
        # first hour always crosses the antimeridian and passes over the North Pole.
        rng = np.random.default_rng([seed, 0x0eb17])
        period = cls(epoch=MISSION_EPOCH).period_s
        orbits = math.floor((REFERENCE_START - MISSION_EPOCH).total_seconds() / period)
        back = (orbits + rng.uniform(0.0, 0.25)) * period
        return cls(epoch=REFERENCE_START - timedelta(milliseconds=round(back * 1000)))

    @property
    def period_s(self) -> float:
        """Return the orbital period in seconds (Kepler, no J2)."""
        a = EQUATORIAL_RADIUS_KM + self.altitude_km
        return 2.0 * math.pi * math.sqrt(a**3 / MU_KM3_S2)

    @property
    def node_longitude_deg(self) -> float:
        """Return the Earth-fixed longitude of the ascending node at the epoch."""
        ut_hours = (self.epoch - self.epoch.replace(hour=0, minute=0, second=0, microsecond=0))
        ut = ut_hours.total_seconds() / 3600.0
        # Mean sun: local time = UT + lon/15, so the node sits where local time is the LTAN
        # (wrapped into [-180, 180)).
        return (15.0 * (self.ltan_hours - ut) + 180.0) % 360.0 - 180.0

    @property
    def half_swath_angle(self) -> float:
        """Return the Earth-central angle (rad) from nadir to the swath edge."""
        return self.swath_width_km / 2.0 / MEAN_RADIUS_KM

    @property
    def max_scan_angle(self) -> float:
        """Return the scan (view) angle (rad) at the swath edge, as seen from the satellite."""
        gamma = self.half_swath_angle
        rho = (MEAN_RADIUS_KM + self.altitude_km) / MEAN_RADIUS_KM
        return math.atan2(math.sin(gamma), rho - math.cos(gamma))

    def seconds(self, when: datetime) -> float:
        """Return seconds since the epoch for an aware datetime."""
        return (when - self.epoch).total_seconds()

    def orbit_number(self, t: float) -> int:
        """Return the orbit number at t: orbit 1 starts at the epoch, each at an ascending node."""
        return math.floor(t / self.period_s) + 1

    def argument_of_latitude(self, t: np.ndarray | float) -> np.ndarray:
        """Return the angle (rad, 0..2pi) travelled since the last ascending node."""
        return 2.0 * math.pi * np.mod(np.asarray(t, dtype=np.float64) / self.period_s, 1.0)

    def is_ascending(self, t: float) -> bool:
        """Return whether the sub-satellite latitude increases at t."""
        return bool(math.cos(float(self.argument_of_latitude(t))) >= 0.0)

    def scan_lines(self, t: np.ndarray) -> ScanLines:
        """Return nadir and right-of-track unit vectors (Earth-fixed) for scan-line times t."""
        t = np.asarray(t, dtype=np.float64)
        u = self.argument_of_latitude(t)
        inc = math.radians(self.inclination_deg)
        n = 2.0 * math.pi / self.period_s
        node_rate = SUN_SYNC_NODE_RATE - EARTH_RATE  # node drifts west in the Earth-fixed frame
        lam = math.radians(self.node_longitude_deg) + node_rate * t
        cu, su, cl, sl = np.cos(u), np.sin(u), np.cos(lam), np.sin(lam)
        # Position in the node frame (x to the node, z to the north pole), rotated by lam.
        sx, sy, sz = cu, su * math.cos(inc), su * math.sin(inc)
        rx, ry, rz = cl * sx - sl * sy, sl * sx + cl * sy, sz
        # Earth-fixed velocity: orbital motion plus the frame turning under it.
        dx, dy, dz = -su, cu * math.cos(inc), cu * math.sin(inc)
        vx = n * (cl * dx - sl * dy) - node_rate * ry
        vy = n * (sl * dx + cl * dy) + node_rate * rx
        vz = n * dz
        nadir = np.stack([rx, ry, rz], axis=-1)
        along = np.stack([vx, vy, vz], axis=-1)
        along /= np.linalg.norm(along, axis=-1, keepdims=True)
        right = np.cross(along, nadir)
        return ScanLines(t=t, nadir=nadir, right=right)

    def scan_angles(self, n_pixels: int) -> np.ndarray:
        """Return view angles (rad) of n pixels, left edge to right edge of the swath."""
        if n_pixels < 2:
            raise ValueError(f"a scan line needs at least 2 pixels, got {n_pixels}")
        # Equal steps in scan angle, as a whisk-broom scanner samples: ground pixels grow
        # toward the swath edges (the MODIS bow-tie), and the end pixels sit on the edges.
        return np.linspace(-self.max_scan_angle, self.max_scan_angle, n_pixels)

    def pixel_angles(self, n_pixels: int) -> np.ndarray:
        """Return Earth-central angles (rad) of n pixels, left edge to right edge of the swath."""
        eta = self.scan_angles(n_pixels)
        rho = (MEAN_RADIUS_KM + self.altitude_km) / MEAN_RADIUS_KM
        return np.arcsin(np.clip(rho * np.sin(eta), -1.0, 1.0)) - eta

    def subsatellite(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (lat, lon) in degrees of the sub-satellite points at times t."""
        lines = self.scan_lines(t)
        return xyz_to_latlon(lines.nadir[:, 0], lines.nadir[:, 1], lines.nadir[:, 2])

    def pole_passes(self, t0: float, t1: float) -> list[tuple[float, int]]:
        """Return (time, +1 north / -1 south) of the track's latitude extremes within [t0, t1]."""
        period = self.period_s
        passes = []
        k = math.floor(t0 / period)
        while k * period <= t1:
            for frac, hemi in ((0.25, 1), (0.75, -1)):
                tv = (k + frac) * period
                if t0 <= tv <= t1:
                    passes.append((tv, hemi))
            k += 1
        return passes

    def reaches_pole(self, edge_angle: float) -> bool:
        """Return whether a swath edge_angle (rad) wide off nadir covers the pole at a vertex."""
        inc = self.inclination_deg
        max_lat = 180.0 - inc if inc > 90 else inc
        return math.radians(90.0 - max_lat) < edge_angle


@dataclass(frozen=True)
class Coverage:
    """Bounds of a swath of pixel centres, and whether it crosses +-180 or covers a pole."""

    lat_min: float
    lat_max: float
    lon_min: float  # west bound; greater than lon_max when crossing the antimeridian
    lon_max: float
    crosses_antimeridian: bool
    over_pole: bool


def coverage(orbit: Orbit, t: np.ndarray, angles: np.ndarray) -> Coverage:
    """Return the coverage of scan lines at times t with pixels at Earth-central angles."""
    # Latitude and longitude have no extremes inside a region that holds no pole, so the
    # boundary (first and last line, first and last column) bounds the whole swath.
    lines = orbit.scan_lines(np.asarray(t, dtype=np.float64))
    ends = np.array([0, len(lines.t) - 1])
    x1, y1, z1 = pixel_xyz(lines.nadir[ends], lines.right[ends], angles)
    x2, y2, z2 = pixel_xyz(lines.nadir, lines.right, angles[[0, -1]])
    lat1, lon1 = xyz_to_latlon(x1, y1, z1)
    lat2, lon2 = xyz_to_latlon(x2, y2, z2)
    lat = np.concatenate([lat1.ravel(), lat2.ravel()])
    lon = np.sort(np.concatenate([lon1.ravel(), lon2.ravel()]))
    edge = min(abs(float(angles[0])), abs(float(angles[-1])))
    poles = [h for _, h in orbit.pole_passes(float(t[0]), float(t[-1]))]
    if poles and orbit.reaches_pole(edge):
        north, south = 1 in poles, -1 in poles
        return Coverage(
            lat_min=-90.0 if south else float(lat.min()),
            lat_max=90.0 if north else float(lat.max()),
            lon_min=-180.0, lon_max=180.0, crosses_antimeridian=True, over_pole=True,
        )
    # The longitudes covered form one arc: the complement of the widest gap between them.
    gaps = np.diff(lon, append=lon[0] + 360.0)
    j = int(np.argmax(gaps))
    west, east = float(lon[(j + 1) % len(lon)]), float(lon[j])
    return Coverage(
        lat_min=float(lat.min()), lat_max=float(lat.max()), lon_min=west, lon_max=east,
        crosses_antimeridian=west > east, over_pole=False,
    )


def pixel_xyz(
    nadir: np.ndarray, right: np.ndarray, angles: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return Earth-fixed unit-vector components, shape (lines, pixels), of scan-line pixels."""
    # Great-circle offsets perpendicular to the track: rotate nadir toward `right`.
    c = np.cos(angles)[None, :]
    s = np.sin(angles)[None, :]
    x = nadir[:, 0:1] * c + right[:, 0:1] * s
    y = nadir[:, 1:2] * c + right[:, 1:2] * s
    z = nadir[:, 2:3] * c + right[:, 2:3] * s
    return x, y, z


def xyz_to_latlon(
    x: np.ndarray, y: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return (lat, lon) in degrees, lon in [-180, 180], from unit-vector components."""
    lat = np.degrees(np.arcsin(np.clip(z, -1.0, 1.0)))
    lon = np.degrees(np.arctan2(y, x))
    return lat, lon


@dataclass(frozen=True)
class WaveField:
    """A seeded smooth field on the unit sphere: a sum of plane waves in 3-D."""

    vectors: np.ndarray  # (n, 3) wave vectors, length = wavenumber in rad^-1 of the sphere
    phases: np.ndarray  # (n,)

    @classmethod
    def from_seed(cls, seed: Sequence[int], n: int, wavenumbers: tuple[float, float]) -> WaveField:
        """Return n waves in random directions with wavenumbers in the given range."""
        rng = np.random.default_rng(list(seed))
        v = rng.standard_normal((n, 3))
        v *= rng.uniform(*wavenumbers, (n, 1)) / np.linalg.norm(v, axis=1, keepdims=True)
        return cls(vectors=v, phases=rng.uniform(0.0, 2.0 * math.pi, n))

    def sample(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Return the field (mean 0, variance about 1) on a (lines, pixels) grid of points.

        Plane waves in 3-D have no seam at +-180 and no singularity at the poles. The field
        is smooth, so it is evaluated every COARSE points and interpolated: much cheaper.
        """
        rows, cols = _coarse_index(x.shape[0]), _coarse_index(x.shape[1])
        xc, yc, zc = (a[np.ix_(rows, cols)] for a in (x, y, z))
        acc = np.zeros(xc.shape)
        for (wx, wy, wz), phase in zip(self.vectors, self.phases, strict=True):
            acc += np.sin(wx * xc + wy * yc + wz * zc + phase)
        acc *= math.sqrt(2.0 / len(self.phases))
        return _bilinear(acc.astype(np.float32), rows, cols, x.shape)


def _coarse_index(n: int) -> np.ndarray:
    """Return every COARSE-th index of n, always including the last."""
    idx = np.arange(0, n, COARSE)
    return idx if idx[-1] == n - 1 else np.append(idx, n - 1)


def _bilinear(
    coarse: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray:
    """Return coarse (sampled at rows x cols) interpolated to the full shape."""
    wide = np.empty((len(rows), shape[1]), dtype=np.float32)
    full_cols = np.arange(shape[1])
    for i in range(len(rows)):
        wide[i] = np.interp(full_cols, cols, coarse[i])
    if len(rows) == 1:
        return np.broadcast_to(wide, shape).copy()
    full_rows = np.arange(shape[0])
    j = np.clip(np.searchsorted(rows, full_rows, side="right") - 1, 0, len(rows) - 2)
    w = ((full_rows - rows[j]) / (rows[j + 1] - rows[j])).astype(np.float32)[:, None]
    return wide[j] * (1 - w) + wide[j + 1] * w

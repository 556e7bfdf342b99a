"""Where and when a granule's orbit crosses the equator, from its geolocation alone.

For a granule that neither states its crossing nor reaches the equator. Over a few
minutes a satellite's orbit plane barely moves in inertial space (J2 turns it about
0.07 degree a day at most), so its ground track, with the Earth's turning taken out,
lies on a great circle:

1. the nadir track's geodetic latitudes become geocentric ones (WGS 84), and each
   sample's longitude gains the Earth's rotation since the first sample;
2. the plane through the Earth's centre that best fits those points (least squares,
   SVD) is the orbit plane; its normal, oriented along the motion, gives the ascending
   node's direction and the inclination;
3. the samples' angle along that circle from the node (argument of latitude), fitted
   against time, gives the angular rate; the node in the asked direction nearest the
   granule's middle is reached ``dt`` seconds from the first sample;
4. the node's longitude is its inertial direction less the Earth's rotation over ``dt``.

On the shared granules this lands within 0.004 degree of CryoSat-2's stated ascending
node (a 4-minute Arctic arc 25 minutes after it) and 0.04 degree of Sentinel-6's stated
pass crossing (20 minutes before its arc); ICESat-2's node time within seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

OMEGA_EARTH = 7.2921150e-5  # rad/s, the Earth's sidereal rotation (IERS)
WGS84_E2 = 6.69437999014e-3  # first eccentricity squared
MIN_ARC_DEG = 0.05  # about 5 km: a shorter track does not fix its plane
MAX_OFF_PLANE_DEG = 0.2  # samples farther from the fitted plane: not one orbit's track
# Angular rates of low Earth orbits (periods of 80 minutes to 4 hours), rad/s.
RATE_RANGE = (2 * math.pi / (4 * 3600), 2 * math.pi / (80 * 60))


@dataclass(frozen=True)
class Node:
    """An equator crossing: longitude in -180..180 and seconds from the first sample."""

    longitude: float
    dt_s: float
    inclination_deg: float


def _unit_vectors(lon: np.ndarray, lat: np.ndarray, t: np.ndarray) -> np.ndarray:
    geocentric = np.arctan((1.0 - WGS84_E2) * np.tan(np.radians(lat)))
    lam = np.radians(lon) + OMEGA_EARTH * (t - t[0])  # inertial, frame of the first sample
    return np.stack([np.cos(geocentric) * np.cos(lam), np.cos(geocentric) * np.sin(lam),
                     np.sin(geocentric)], axis=1)


def orbit_node(lon: np.ndarray, lat: np.ndarray, t: np.ndarray, node: str) -> Node | None:
    """The `node` ('ascending' or 'descending') crossing nearest the track, or None.

    lon, lat in degrees (geodetic), t in seconds, one value per along-track sample, in
    time order, no fill. None when the track is too short, not on one great circle, or
    moves at no low-orbit rate.
    """
    lon, lat, t = (np.asarray(a, dtype=float).reshape(-1) for a in (lon, lat, t))
    ok = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(t) & (np.abs(lat) < 90.0)
    lon, lat, t = lon[ok], lat[ok], t[ok]
    if lon.size < 3 or node not in ("ascending", "descending") or t[-1] <= t[0]:
        return None
    v = _unit_vectors(lon, lat, t)
    if math.degrees(math.acos(min(1.0, float(v[0] @ v[-1])))) < MIN_ARC_DEG:
        return None
    normal = np.linalg.svd(v, full_matrices=False)[2][-1]
    if float(np.cross(v[0], v[-1]) @ normal) < 0:
        normal = -normal  # along the motion: the orbit's angular momentum
    if np.degrees(np.max(np.abs(np.arcsin(np.clip(v @ normal, -1, 1))))) > MAX_OFF_PLANE_DEG:
        return None
    ascending = np.cross([0.0, 0.0, 1.0], normal)
    if np.linalg.norm(ascending) < 1e-9:
        return None  # an equatorial orbit has no node
    ascending /= np.linalg.norm(ascending)
    ahead = np.cross(normal, ascending)  # 90 degrees past the node, in the plane
    u = np.unwrap(np.arctan2(v @ ahead, v @ ascending))
    rate, u0 = np.polyfit(t - t[0], u, 1)
    if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        return None
    target = 0.0 if node == "ascending" else math.pi
    middle = u0 + rate * (t[-1] - t[0]) / 2.0
    u_node = target + 2.0 * math.pi * round((middle - target) / (2.0 * math.pi))
    dt = (u_node - u0) / rate
    direction = math.atan2(ascending[1], ascending[0]) + (0.0 if node == "ascending"
                                                         else math.pi)
    longitude = math.degrees(direction - OMEGA_EARTH * dt)
    return Node(round((longitude + 180.0) % 360.0 - 180.0, 4), float(dt),
                math.degrees(math.acos(float(np.clip(normal[2], -1, 1)))))

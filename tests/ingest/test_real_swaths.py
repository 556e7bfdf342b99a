"""One test per real granule in ../shared/data/swaths: times, footprint containment and area.

Expected values are computed here independently of ingest/: lat/lon/time are read with
netCDF4's own mask-and-scale (h5py for ATL03 and MLS) from the variable paths the README
names, times decoded by hand, and the area the pixels cover estimated by counting occupied
cells of equal-area (Lambert azimuthal) grids.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import h5py
import netCDF4  # before h5py: HDF5 filter plugins
import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import box

from ingest.readers import read_metadata

SWATHS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "swaths"
FILES = sorted(p.name for p in SWATHS.glob("*") if p.name != "README.md")
GEOD = pyproj.Geod(ellps="WGS84")
TOLERANCE = timedelta(seconds=1.5)
GPS_MINUS_UTC_2019_ON = 18  # leap seconds since 1980 valid for 2017..now
TAI_MINUS_UTC_2017_ON = 37


def _nc(path: Path, var: str) -> np.ma.MaskedArray:
    with netCDF4.Dataset(path) as ds:
        return np.ma.masked_invalid(ds[var][...].astype("f8"))


def _h5(path: Path, var: str, fill: float | None = None) -> np.ma.MaskedArray:
    with h5py.File(path) as fh:
        data = fh[var][...].astype("f8")
    return np.ma.masked_values(data, fill) if fill is not None else np.ma.masked_invalid(data)


def _since(epoch: datetime, values: np.ma.MaskedArray, scale: float = 1.0) -> tuple:
    v = np.ma.compressed(values)
    return (epoch + timedelta(seconds=float(v.min()) * scale),
            epoch + timedelta(seconds=float(v.max()) * scale))


def _cf(path: Path, var: str) -> tuple:
    with netCDF4.Dataset(path) as ds:
        v = ds[var]
        data = np.ma.compressed(v[...])
        lo, hi = netCDF4.num2date([data.min(), data.max()], v.units,
                                  only_use_cftime_datetimes=False)
    return lo.replace(tzinfo=UTC), hi.replace(tzinfo=UTC)


def _ref_plus_offset(path: Path, group: str, offset: str, scale: float) -> tuple:
    with netCDF4.Dataset(path) as ds:
        g = ds[group] if group != "/" else ds
        ref = netCDF4.num2date(g["time"][0], g["time"].units,
                               only_use_cftime_datetimes=False).replace(tzinfo=UTC)
        off = np.ma.compressed(g[offset][...])
    return ref + timedelta(seconds=float(off.min()) * scale), ref + timedelta(
        seconds=float(off.max()) * scale)


def _union(*ranges: tuple) -> tuple:
    return min(r[0] for r in ranges), max(r[1] for r in ranges)


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


ATL07_BEAMS = ["gt1l", "gt1r", "gt2l", "gt3l", "gt3r"]
# The GHRSST-format SST swaths: 2-D /lat and /lon; pixel times are /time plus sst_dtime.
GHRSST_SWATH: dict[str, Any] = dict(
    geo=[("/lat", "/lon")], kind="swath",
    times=lambda p: _ref_plus_offset(p, "/", "sst_dtime", 1.0))
# file -> (geolocation [(lat, lon)], kind, expected-times function, known (earliest, latest))
CASES: dict[str, dict[str, Any]] = {
    "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc": dict(
        geo=[("/lat", "/lon")], kind="swath",
        times=lambda p: _cf(p, "time"),
        known=("2015-07-02 08:40", "2015-07-02 10:25")),
    "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc": dict(
        geo=[("/lat_20hz", "/lon_20hz")], kind="track",
        times=lambda p: _union(_cf(p, "time_20hz"), _cf(p, "time")),
        known=("2002-01-15 06:07", "2002-01-15 07:04")),
    "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc": dict(
        geo=[("/data_01/latitude", "/data_01/longitude")], kind="track",
        times=lambda p: _cf(p, "data_01/time"),
        known=("2021-04-03 00:40:50", "2021-04-03 00:51")),
    "MLS-Aura_L2GP-CO_v05-01-c01_2021d043.he5": dict(
        geo=[("/HDFEOS/SWATHS/CO/Geolocation Fields/Latitude",
              "/HDFEOS/SWATHS/CO/Geolocation Fields/Longitude")], kind="track", h5fill=-999.99,
        times=lambda p: _since(datetime(1993, 1, 1, tzinfo=UTC) - timedelta(seconds=10),
                               _h5(p, "/HDFEOS/SWATHS/CO/Geolocation Fields/Time", -999.99)),
        known=("2021-02-12 00:00", "2021-02-13 00:00"), multi_orbit=True),
    "test_var_subsetting_tropomi_S5P_OFFL_L2__CH4____20190319T110835_20190319T125006_07407_01_"
    "010202_20190325T125810_subset.nc4": dict(
        geo=[("/PRODUCT/latitude", "/PRODUCT/longitude")], kind="swath",
        times=lambda p: _ref_plus_offset(p, "PRODUCT", "delta_time", 1e-3),
        known=("2019-03-19 11:30", "2019-03-19 12:29")),
    "GPM_test_file.HDF5": dict(
        geo=[("/FS/Latitude", "/FS/Longitude"), ("/HS/Latitude", "/HS/Longitude")], kind="swath",
        times=lambda p: _union(*(
            _since(datetime(1980, 1, 6, tzinfo=UTC) - timedelta(seconds=GPS_MINUS_UTC_2019_ON),
                   _nc(p, f"{s}/navigation/timeMidScan")) for s in ("FS", "HS"))),
        known=("2021-02-20 09:35:41", "2021-02-20 11:08:17")),
    "processed_ATL07-01_20190222003738_08490201_003_02.h5": dict(
        geo=[(f"/{b}/sea_ice_segments/latitude", f"/{b}/sea_ice_segments/longitude")
             for b in ATL07_BEAMS], kind="track",
        times=lambda p: _union(*(_since(datetime(2018, 1, 1, tzinfo=UTC),
                                        _nc(p, f"{b}/sea_ice_segments/delta_time"))
                                 for b in ATL07_BEAMS)),
        known=("2019-02-22 00:37:38", "2019-02-22 02:11:55")),
    "CS_LTA__SIR_SAR_2__20191005T151255_20191005T151621_E001.nc": dict(
        geo=[("/lat_poca_20_ku", "/lon_poca_20_ku")], kind="track",
        times=lambda p: tuple(t - timedelta(seconds=TAI_MINUS_UTC_2017_ON)
                              for t in _cf(p, "time_20_ku")),
        known=("2019-10-05 15:12:55", "2019-10-05 15:16:22")),
    "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc": dict(
        **GHRSST_SWATH,
        known=("2019-08-05 20:37:02", "2019-08-05 20:38:27")),
    "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc": dict(
        **GHRSST_SWATH,
        known=("2019-08-21 17:00", "2019-08-21 20:00")),
    "SS_MODIS_A-JPL-L2P-v2014.0.nc": dict(
        **GHRSST_SWATH,
        known=("2019-08-05 06:50", "2019-08-05 07:05")),
    "ascat_20211220_231800_metopb_48038_eps_o_250_3202_ovw.l2.nc4": dict(
        geo=[], kind="empty", times=None,
        known=("2021-12-20 23:18:00", "2021-12-21 00:59:56")),
    "ATL03_gt1l.h5": dict(
        geo=[("/gt1l/heights/lat_ph", "/gt1l/heights/lon_ph")], kind="track", h5fill=None,
        times=lambda p: _since(datetime(2018, 1, 1, tzinfo=UTC),
                               _h5(p, "/gt1l/heights/delta_time")),
        known=("2018-10-14 00:24:45", "2018-10-14 00:29:54")),
}


def _points(path: Path, case: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (lon, lat) of the valid points of each geolocation pair, lon in -180..180."""
    out = []
    for lat_path, lon_path in case["geo"]:
        if "h5fill" in case:
            lat, lon = _h5(path, lat_path, case["h5fill"]), _h5(path, lon_path, case["h5fill"])
        else:
            lat, lon = _nc(path, lat_path.lstrip("/")), _nc(path, lon_path.lstrip("/"))
        lat, lon = np.squeeze(lat), np.squeeze(lon)
        ok = ~(np.ma.getmaskarray(lat) | np.ma.getmaskarray(lon))
        ok &= (np.abs(lat.filled(0)) <= 90) & (lon.filled(0) >= -180) & (lon.filled(0) <= 360)
        lon_n = (lon.filled(0) + 180.0) % 360.0 - 180.0
        out.append((np.where(ok, lon_n, np.nan), np.where(ok, lat.filled(np.nan), np.nan)))
    return out


def _area_km2(geom: shapely.Geometry) -> float:
    """Return the geodesic area, summed over 10-degree tiles (no ring spans the globe)."""
    total = 0.0
    for x in range(-180, 180, 10):
        for y in range(-90, 90, 10):
            part = geom.intersection(box(x, y, x + 10, y + 10))
            for poly in getattr(part, "geoms", [part]):
                if poly.geom_type != "Polygon" or poly.is_empty:
                    continue
                total += abs(GEOD.polygon_area_perimeter(*poly.exterior.xy)[0])
                total -= sum(abs(GEOD.polygon_area_perimeter(*r.xy)[0]) for r in poly.interiors)
    return total / 1e6


def _covered_km2(lon: np.ndarray, lat: np.ndarray, cell_km: float) -> float:
    """Return the area of equal-area grid cells holding a point, over six LAEA faces."""
    faces = [(90, 0), (-90, 0), (0, 0), (0, 90), (0, 180), (0, -90)]
    lam, phi = np.radians(lon), np.radians(lat)
    xyz = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], -1)
    centres = np.array([[np.cos(np.radians(a)) * np.cos(np.radians(b)),
                         np.cos(np.radians(a)) * np.sin(np.radians(b)), np.sin(np.radians(a))]
                        for a, b in faces])
    face = np.argmax(xyz @ centres.T, axis=1)
    cells = 0
    for i, (a, b) in enumerate(faces):
        sel = face == i
        if not sel.any():
            continue
        t = pyproj.Transformer.from_crs(
            "EPSG:4326", f"+proj=laea +lat_0={a} +lon_0={b} +R=6371008.8 +units=km",
            always_xy=True)
        x, y = t.transform(lon[sel], lat[sel])
        cells += len(np.unique(np.floor(np.stack([x, y], 1) / cell_km).astype(np.int64), axis=0))
    return cells * cell_km**2


def _pixel_spacing_km(lon: np.ndarray, lat: np.ndarray) -> float:
    """Return the larger of the median along-track and across-track neighbour distances."""
    spacings = []
    for axis in (0, 1):
        a = np.moveaxis(lon, axis, 0)
        b = np.moveaxis(lat, axis, 0)
        d = GEOD.inv(a[1:].ravel(), b[1:].ravel(), a[:-1].ravel(), b[:-1].ravel())[2] / 1000
        spacings.append(np.nanmedian(d))
    return float(max(spacings))


def test_the_glob_finds_all_thirteen_granules() -> None:
    assert len(FILES) == 13, FILES
    assert set(FILES) == set(CASES)




@pytest.mark.parametrize("name", FILES, ids=FILES)
def test_real_granule(name: str) -> None:
    path = SWATHS / name
    case = CASES[name]
    meta = read_metadata(path)
    known_lo, known_hi = _dt(case["known"][0]), _dt(case["known"][1])
    assert meta.start_time is not None and meta.end_time is not None
    assert meta.start_time.tzinfo is not None
    assert known_lo <= meta.start_time <= meta.end_time <= known_hi
    assert meta.to_json()

    if case["kind"] == "empty":
        assert meta.is_empty and meta.footprint is None and meta.n_valid_points == 0
        assert meta.time_source == "attribute fallback"
        return

    assert meta.time_source == "data"
    lo, hi = case["times"](path)
    assert abs(meta.start_time - lo) <= TOLERANCE, (meta.start_time, lo)
    assert abs(meta.end_time - hi) <= TOLERANCE, (meta.end_time, hi)

    fp = meta.footprint
    assert fp is not None and fp.geom_type == "MultiPolygon" and fp.is_valid
    assert not meta.is_empty
    minx, miny, maxx, maxy = fp.bounds
    assert minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90
    for poly in fp.geoms:
        pminx, pminy, pmaxx, pmaxy = poly.bounds
        # A part may span all longitudes only around a pole (a cap closed through it, or a
        # swath curving round it within a degree) or when the file holds many orbits.
        around_pole = pmaxy >= 89.0 or pminy <= -89.0
        if pmaxx - pminx > 180:
            assert around_pole or case.get("multi_orbit"), f"{poly.bounds} spans the globe"

    pairs = _points(path, case)
    lon = np.concatenate([p[0].ravel() for p in pairs])
    lat = np.concatenate([p[1].ravel() for p in pairs])
    keep = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[keep], lat[keep]
    assert meta.n_valid_points >= len(lon) > 0
    shapely.prepare(fp)
    inside = shapely.covers(fp, shapely.points(lon, lat))
    assert inside.mean() >= 0.995, f"only {inside.mean():.4%} of valid points inside"

    area = _area_km2(fp)
    if case["kind"] == "swath":
        spacing = np.nanmedian([_pixel_spacing_km(*p) for p in pairs])
        covered = _covered_km2(lon, lat, 2.0 * spacing)
    else:
        half_width = meta.geolocation["margin_km"]
        assert 2.0 <= half_width <= 50.0
        covered = 0.0
        for plon, plat in pairs:
            plon, plat = plon.ravel(), plat.ravel()
            ok = np.isfinite(plon)
            plon, plat = plon[ok], plat[ok]
            length = GEOD.inv(plon[:-1], plat[:-1], plon[1:], plat[1:])[2].sum() / 1000
            covered += 2 * half_width * length + np.pi * half_width**2
    assert area <= 1.5 * covered, f"footprint {area:.0f} km2 vs pixels {covered:.0f} km2"

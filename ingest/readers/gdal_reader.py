"""GDAL fallback reader: anything GDAL opens that carries swath geolocation (e.g. HDF4).

Geolocation comes from the GEOLOCATION metadata domain (X_DATASET/Y_DATASET) or from
latitude/longitude subdatasets. Times come from the data's attributes only (GDAL exposes
no variable units reliably across drivers), so time_source is 'attribute fallback'.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from eo.attributes import flatten_attrs
from ingest.footprint import footprint
from ingest.metadata import SwathMetadata, json_safe
from ingest.readers.base import NoGeolocationError, Reader, ReadError
from ingest.readers.build import (
    GRANULE_KEYS,
    first_text,
    granule_stem,
    identity_fields,
)
from ingest.timeparse import attribute_time_range

LAT_SUB = re.compile(r"(^|[/:_ ])lat(itude)?$", re.I)
LON_SUB = re.compile(r"(^|[/:_ ])lon(gitude)?$", re.I)


def _open(path: str) -> Any:
    from osgeo import gdal

    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        return gdal.Open(str(path))
    except RuntimeError:  # when some other code turned gdal.UseExceptions() on
        return None
    finally:
        gdal.PopErrorHandler()


def _read_band(path: str, band_no: int = 1) -> np.ma.MaskedArray:
    """Return one band as float64, nodata/NaN masked and scale/offset applied."""
    ds = _open(path)  # keep the dataset bound: GDAL 3.6 frees it under the band otherwise
    if ds is None:
        raise OSError(f"GDAL cannot open {path}")
    band = ds.GetRasterBand(band_no)
    data = band.ReadAsArray().astype(np.float64)
    bad = ~np.isfinite(data)
    nodata = band.GetNoDataValue()
    if nodata is not None:
        bad |= data == nodata
    data = data * (band.GetScale() or 1.0) + (band.GetOffset() or 0.0)
    del band, ds
    return np.ma.MaskedArray(data, mask=bad)


def _geolocation_sources(ds: Any) -> tuple[str, int, str, int] | None:
    """Return (lon dataset, band, lat dataset, band) from GEOLOCATION metadata or subdatasets."""
    geo = ds.GetMetadata("GEOLOCATION") or {}
    if geo.get("X_DATASET") and geo.get("Y_DATASET"):
        return (geo["X_DATASET"], int(geo.get("X_BAND", 1)), geo["Y_DATASET"],
                int(geo.get("Y_BAND", 1)))
    subs = ds.GetMetadata("SUBDATASETS") or {}
    names = [v for k, v in subs.items() if k.endswith("_NAME")]
    lat = next((n for n in names if LAT_SUB.search(n.rsplit(":", 1)[-1].strip('"'))), None)
    lon = next((n for n in names if LON_SUB.search(n.rsplit(":", 1)[-1].strip('"'))), None)
    if lat and lon:
        return lon, 1, lat, 1
    return None


class GDALReader(Reader):
    """Last-resort reader for formats only GDAL understands."""

    name = "gdal"

    def can_open(self, path: str | Path) -> bool:
        """Return True if GDAL opens the file and finds geolocation in it."""
        try:
            import osgeo.gdal  # noqa: F401
        except ImportError:
            return False
        ds = _open(str(path))
        return ds is not None and _geolocation_sources(ds) is not None

    def read(self, path: str | Path, hints: dict | None = None) -> SwathMetadata:
        """Return metadata with a data footprint and attribute times."""
        ds = _open(str(path))
        if ds is None:
            raise ReadError(path, "GDAL cannot open the file")
        sources = _geolocation_sources(ds)
        if sources is None:
            raise NoGeolocationError(path, "GDAL finds no GEOLOCATION or lat/lon subdatasets")
        # Driver prefixes dropped: 'NC_GLOBAL#title' -> 'title'.
        attrs = {key.split("#", 1)[-1]: value for key, value in (ds.GetMetadata() or {}).items()}
        try:
            lon = _read_band(sources[0], sources[1])
            lat = _read_band(sources[2], sources[3])
        except (OSError, RuntimeError, AttributeError) as e:
            raise ReadError(path, f"GDAL cannot read the geolocation ({e})") from e
        if lon.shape != lat.shape:
            raise NoGeolocationError(path, f"lat {lat.shape} and lon {lon.shape} differ")
        bad = lon.mask | lat.mask | (np.abs(lat.filled(0)) > 90) | (lon.filled(0) < -180) | (
            lon.filled(0) > 360)
        lon, lat = np.ma.MaskedArray(lon.data, bad), np.ma.MaskedArray(lat.data, bad)
        kind = "swath2d" if lat.ndim == 2 and min(lat.shape) > 1 else "track1d"
        fp = footprint([(lon, lat, kind)])
        flat = flatten_attrs(attrs)
        times = attribute_time_range(flat)
        granule_id = first_text(flat, GRANULE_KEYS) or granule_stem(path)
        subs = ds.GetMetadata("SUBDATASETS") or {}
        return SwathMetadata(
            path=str(path), format="gdal",
            start_time=times.start if times else None, end_time=times.end if times else None,
            time_source=times.source if times else None,
            footprint=fp.geometry, is_empty=fp.geometry is None, n_valid_points=fp.n_valid,
            geolocation={"lat": sources[2], "lon": sources[0],
                         "time": times.variable if times else None, "shape": list(lat.shape),
                         "kind": kind, "margin_km": round(fp.margin_km, 3),
                         "rule": "gdal geolocation",
                         "pairs": [{"lat": sources[2], "lon": sources[0],
                                    "shape": list(lat.shape), "kind": kind}],
                         "set_aside": [], "warnings": [], "notes": []},
            granule_id=granule_id,
            **identity_fields(path, flat, [], granule_id),
            variables={name: {"shape": None, "dtype": None, "units": None,
                              "long_name": subs.get(key.replace("_NAME", "_DESC"), "")}
                       for key, name in subs.items() if key.endswith("_NAME")},
            global_attrs=json_safe(attrs),
        )

"""Quicklooks: a small PNG of a swath's main variable, made at ingest. No Django here.

`render_quicklook(path)` picks the main 2-D variable (ingest.mainvar's rule: a known
geophysical name first, else the largest numeric variable that is no coordinate, flag or
quality field), reads
it in blocks of rows (memory bounded by a block, whatever the file size), averages it
down to at most `max_size` pixels on the long side, turns north up and west left when
latitude and longitude say which way the rows and columns run, and colours it with a
viridis ramp between the 2nd and 98th percentiles (log10 for chlorophyll). Missing
pixels are transparent. The PNG carries the variable, its units and the colour range
as text chunks.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass

import netCDF4
import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ingest.mainvar import is_data_variable, rank

MAX_SIZE = 512
MIN_SIDE = 24  # narrower fields are tracks with a few samples per record, not images
BLOCK_BYTES = 64 << 20  # rows read at once: bounded memory for any file size
# viridis at ten stops (matplotlib's), interpolated to 256 entries
_VIRIDIS = np.array([
    (68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
    (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37),
], dtype=np.float64)
_LUT = np.stack([np.interp(np.linspace(0.0, 1.0, 256), np.linspace(0.0, 1.0, len(_VIRIDIS)), c)
                 for c in _VIRIDIS.T], axis=1).astype(np.uint8)


class QuicklookError(ValueError):
    """No quicklook can be made of the file; the message says why."""


class NothingToDraw(QuicklookError):
    """The file opens but holds no 2-D field with a valid value: not a fault, just no image."""


@dataclass(frozen=True)
class _Choice:
    path: str  # group path and name, e.g. /geophysical_data/sst
    shape: tuple[int, int]  # the two spatial dimensions


def _variables(group: netCDF4.Group, prefix: str = "") -> list[tuple[str, netCDF4.Variable]]:
    out = [(f"{prefix}/{name}", var) for name, var in group.variables.items()]
    for name, sub in group.groups.items():
        out.extend(_variables(sub, f"{prefix}/{name}"))
    return out


def _spatial_shape(var: netCDF4.Variable) -> tuple[int, int] | None:
    """The two trailing dimensions once leading length-1 dimensions are dropped, else None."""
    shape = [n for n in var.shape]
    while len(shape) > 2 and shape[0] == 1:
        shape.pop(0)
    if len(shape) != 2 or min(shape) < MIN_SIDE:
        return None
    return shape[0], shape[1]


def _eligible(name: str, var: netCDF4.Variable) -> bool:
    attrs = var.ncattrs()
    standard = str(var.getncattr("standard_name")) if "standard_name" in attrs else ""
    return (is_data_variable(var.name, getattr(var.dtype, "kind", ""), attrs, var.dimensions,
                             standard)
            and _spatial_shape(var) is not None)


def choose_variable(ds: netCDF4.Dataset) -> _Choice:
    """Return the variable a quicklook shows; raises QuicklookError when there is none."""
    candidates = [_Choice(p, _spatial_shape(v) or (0, 0)) for p, v in _variables(ds)
                  if _eligible(p, v)]
    if not candidates:
        raise NothingToDraw("no 2-D numeric variable to show (only coordinates, flags or "
                            "1-D data)")

    def key(choice: _Choice) -> tuple[int, int]:
        return rank(choice.path.rsplit("/", 1)[-1], choice.shape[0] * choice.shape[1])

    return min(candidates, key=key)


def _read_2d(var: netCDF4.Variable, r0: int, r1: int) -> np.ndarray:
    """Rows r0:r1 of the variable's 2-D field as float64 with NaN for missing values."""
    lead = var.ndim - 2
    data = var[(0,) * lead + (slice(r0, r1), slice(None))]
    return np.ma.masked_invalid(np.ma.asarray(data, dtype=np.float64)).filled(np.nan)


def _binned(var: netCDF4.Variable, shape: tuple[int, int], factor: int) -> np.ndarray:
    """Mean of each factor x factor box (NaN where a box holds no value), read in row blocks."""
    rows, cols = shape
    out_rows, out_cols = math.ceil(rows / factor), math.ceil(cols / factor)
    out = np.full((out_rows, out_cols), np.nan)
    row_bytes = cols * 8
    per_block = max(1, BLOCK_BYTES // (row_bytes * factor)) * factor
    pad_cols = out_cols * factor - cols
    for r0 in range(0, rows, per_block):
        block = _read_2d(var, r0, min(rows, r0 + per_block))
        pad_rows = -block.shape[0] % factor
        if pad_rows or pad_cols:
            block = np.pad(block, ((0, pad_rows), (0, pad_cols)), constant_values=np.nan)
        boxes = block.reshape(block.shape[0] // factor, factor, out_cols, factor)
        counts = np.isfinite(boxes).sum(axis=(1, 3))
        sums = np.nansum(boxes, axis=(1, 3))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        o0 = r0 // factor
        out[o0:o0 + mean.shape[0]] = mean
    return out


def _geolocation(ds: netCDF4.Dataset, shape: tuple[int, int]) -> tuple[object, object] | None:
    """Latitude and longitude variables of the same 2-D shape, if the file has them."""
    lat = lon = None
    for _, var in _variables(ds):
        if _spatial_shape(var) != shape:
            continue
        standard = str(var.getncattr("standard_name")) if "standard_name" in var.ncattrs() else ""
        name = var.name.lower()
        if lat is None and (standard == "latitude" or name in ("lat", "latitude")):
            lat = var
        if lon is None and (standard == "longitude" or name in ("lon", "longitude")):
            lon = var
    return (lat, lon) if lat is not None and lon is not None else None


def _value(var: netCDF4.Variable, row: int, col: int) -> float:
    lead = var.ndim - 2
    return float(np.ma.asarray(var[(0,) * lead + (row, col)], dtype=np.float64).filled(np.nan))


def _orient(ds: netCDF4.Dataset, shape: tuple[int, int], image: np.ndarray) -> np.ndarray:
    """Turn the image so that north is up and west is left, judged along its centre lines."""
    geo = _geolocation(ds, shape)
    if geo is None:
        return image
    lat, lon = geo
    rows, cols = shape
    mid_r, mid_c = rows // 2, cols // 2
    first, last = _value(lat, 0, mid_c), _value(lat, rows - 1, mid_c)  # type: ignore[arg-type]
    if math.isfinite(first) and math.isfinite(last) and first < last:
        image = image[::-1]
    west, east = _value(lon, mid_r, 0), _value(lon, mid_r, cols - 1)  # type: ignore[arg-type]
    if math.isfinite(west) and math.isfinite(east) and ((east - west + 540) % 360) - 180 < 0:
        image = image[:, ::-1]
    return image


def _colour(field: np.ndarray, log: bool) -> tuple[np.ndarray, float, float]:
    """RGBA pixels of a field, and the value range mapped to the ends of the ramp."""
    values = field
    if log:
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(field > 0, np.log10(field), np.nan)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise NothingToDraw("the variable holds no valid value")
    lo, hi = (float(v) for v in np.percentile(finite, [2, 98]))
    if hi <= lo:
        hi = lo + 1.0
    scaled = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    index = np.where(np.isfinite(scaled), np.round(scaled * 255), 0).astype(np.uint8)
    rgba = np.zeros(field.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = _LUT[index]
    rgba[..., 3] = np.where(np.isfinite(values), 255, 0)
    if log:
        lo, hi = 10.0**lo, 10.0**hi
    return rgba, lo, hi


@dataclass(frozen=True)
class Quicklook:
    """A rendered quicklook: the PNG and what it shows."""

    png: bytes
    variable: str  # group path and name, e.g. /geophysical_data/sst
    units: str
    width: int
    height: int


def render_quicklook(path: str | os.PathLike[str], variable: str | None = None,
                     max_size: int = MAX_SIZE) -> bytes:
    """Return a PNG of the swath's main variable; see make_quicklook."""
    return make_quicklook(path, variable, max_size).png


def make_quicklook(path: str | os.PathLike[str], variable: str | None = None,
                   max_size: int = MAX_SIZE) -> Quicklook:
    """Draw the swath's main variable (or `variable`, a name or /group/name) as a PNG.

    Raises QuicklookError when netCDF4 cannot open the file or has no such variable, and
    NothingToDraw (a QuicklookError) when it has no 2-D numeric field or no valid value.
    """
    if max_size < 16:
        raise ValueError(f"max_size must be at least 16, got {max_size}")
    with _open(path) as ds:
        if variable is None:
            choice = choose_variable(ds)
        else:
            var = _find(ds, variable)
            shape = _spatial_shape(var)
            if shape is None:
                raise QuicklookError(f"{variable} is not a 2-D field (shape {var.shape})")
            choice = _Choice(f"{var.group().path.rstrip('/')}/{var.name}", shape)
        var = _find(ds, choice.path)
        var.set_auto_maskandscale(True)
        factor = max(1, math.ceil(max(choice.shape) / max_size))
        field = _orient(ds, choice.shape, _binned(var, choice.shape, factor))
        units = str(var.getncattr("units")) if "units" in var.ncattrs() else ""
        log = "chl" in var.name.lower() or units.replace(" ", "") in ("mgm^-3", "mgm-3")
        rgba, lo, hi = _colour(field, log)
    info = PngInfo()
    info.add_text("Title", f"swathstore quicklook of {choice.path}")
    info.add_text("variable", choice.path)
    info.add_text("units", units)
    info.add_text("range", f"{lo:.6g} {hi:.6g}{' log10' if log else ''}")
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG", pnginfo=info)
    height, width = rgba.shape[:2]
    return Quicklook(buf.getvalue(), choice.path, units, width, height)


def _open(path: str | os.PathLike[str]) -> netCDF4.Dataset:
    try:
        return netCDF4.Dataset(os.fspath(path))
    except (OSError, AttributeError, KeyError, RuntimeError, ValueError) as e:
        # netCDF4 refuses HDF4 and some HDF5 layouts (e.g. ATL03) with assorted errors.
        # The name may not be UTF-8 (netCDF4 refuses those too): escape it for the message.
        name = os.fsencode(path).decode("utf-8", "backslashreplace")
        raise QuicklookError(f"netCDF4 cannot open {name}: {e}") from e


def _find(ds: netCDF4.Dataset, name: str) -> netCDF4.Variable:
    """A variable by name (searched in every group) or by /group/path."""
    if "/" in name.strip("/"):
        group: netCDF4.Group = ds
        *groups, leaf = name.strip("/").split("/")
        try:
            for g in groups:
                group = group.groups[g]
            return group.variables[leaf]
        except KeyError as e:
            raise QuicklookError(f"no variable {name} in the file") from e
    for path, var in _variables(ds):
        if path.rsplit("/", 1)[-1] == name.strip("/"):
            return var
    raise QuicklookError(f"no variable {name} in the file")

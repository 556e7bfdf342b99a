"""Find and read swath geolocation (latitude/longitude) in netCDF4 or h5py trees.

Shared with the subset kernel and MPI workers: no Django, no catalog. Everything works on
:class:`VarRef`, a thin adapter over a ``netCDF4.Variable`` or an ``h5py.Dataset``;
:func:`iter_variables` builds them from an open ``netCDF4.Dataset`` or ``h5py.File``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eo.variables import PathNamed

LAT_UNITS = {"degrees_north", "degree_north", "degrees_n", "degree_n", "degreesn", "degreen"}
LON_UNITS = {"degrees_east", "degree_east", "degrees_e", "degree_e", "degreese", "degreee"}
# Names seen in real products; matched case-insensitively after the CF checks.
LAT_NAME = re.compile(r"^(nav_)?lat(itude)?(_[a-z0-9_]+)?$|^reference_photon_lat$", re.I)
LON_NAME = re.compile(r"^(nav_)?lon(gitude)?(_[a-z0-9_]+)?$|^reference_photon_lon$", re.I)
# Cell bounds/corners describe pixel edges, not pixel centres.
EXCLUDED_SUFFIX = re.compile(r"_(bnds|bounds|corners?|err|error|sigma|std|uncertainty)$", re.I)
MAX_ATTR_ARRAY = 64


# HDF5 attributes netCDF-C keeps for itself; netCDF4-python never shows them.
INTERNAL_ATTRS = frozenset({"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME", "_Netcdf4Dimid",
                            "_Netcdf4Coordinates", "_nc3_strict", "_NCProperties",
                            "_IsNetcdf4", "_IsNetcdf4Coordinate", "_SuperblockVersion"})
PURE_DIM = "This is a netCDF dimension but not a netCDF variable"


@dataclass
class VarRef(PathNamed):
    """A variable in an open file: its group path, name, shape, attributes and a reader.

    ``dims`` are the dimension names as netCDF shows them; ``dim_keys`` identify each
    dimension in the whole file (its group path and name, an HDF5 dimension scale's path,
    or a per-group phony dimension), so two variables share a dimension when they share a key.
    """

    path: str
    shape: tuple[int, ...]
    dtype: str
    attrs: dict[str, Any]
    dims: tuple[str, ...]
    _read: Callable[[], np.ndarray] = field(repr=False)
    dim_keys: tuple[str, ...] = ()
    # Reads part of the stored values (an index tuple of ints and slices); None: whole reads.
    _read_part: Callable[[tuple[Any, ...]], np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.dim_keys:
            self.dim_keys = tuple(self.dims)

    @property
    def size(self) -> int:
        """Return the number of elements."""
        return int(np.prod(self.shape)) if self.shape else 1

    def raw(self) -> np.ndarray:
        """Return the stored (packed) values, without masking or scaling."""
        return np.asarray(self._read())

    def raw_part(self, key: tuple[Any, ...]) -> np.ndarray:
        """Return part of the stored (packed) values: only that part is read when it can be."""
        if self._read_part is not None:
            return np.asarray(self._read_part(key))
        return np.asarray(self.raw()[key])

    def attr_str(self, *names: str) -> str:
        """Return the first present attribute among ``names`` as a stripped string ('' if none)."""
        for name in names:
            if name in self.attrs:
                return str(self.attrs[name]).strip()
        return ""


def plain_attr(value: Any) -> Any:
    """Return an attribute value as a plain Python/numpy value (bytes decoded)."""
    if type(value).__name__ == "Empty":  # h5py's null-dataspace attribute: netCDF shows ''
        return ""
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", "replace").rstrip("\x00")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SO" and value.size == 1:
            return plain_attr(value.reshape(-1)[0])
        if value.size == 1:
            return value.reshape(-1)[0]
    return value


def _is_netcdf4(handle: Any) -> bool:
    return hasattr(handle, "groups") and hasattr(handle, "ncattrs")


def iter_variables(handle: Any) -> Iterator[VarRef]:
    """Yield every variable of an open netCDF4.Dataset or h5py.File, depth first."""
    if _is_netcdf4(handle):
        yield from _iter_netcdf4(handle)
    else:
        yield from _iter_h5py(handle)


def _iter_netcdf4(group: Any) -> Iterator[VarRef]:
    prefix = group.path.rstrip("/")
    for name, var in group.variables.items():
        var.set_auto_maskandscale(False)
        attrs = {a: plain_attr(var.getncattr(a)) for a in var.ncattrs()}
        dtype = str(var.dtype) if not isinstance(var.dtype, type) else "str"
        keys = tuple(f"{d.group().path.rstrip('/')}/{d.name}" for d in var.get_dims())
        yield VarRef(f"{prefix}/{name}", tuple(var.shape), dtype, attrs,
                     tuple(var.dimensions), _reader_for(var), keys, _part_reader_for(var))
    for sub in group.groups.values():
        yield from _iter_netcdf4(sub)


def _reader_for(obj: Any) -> Callable[[], np.ndarray]:
    return lambda: obj[...]


def _part_reader_for(obj: Any) -> Callable[[tuple[Any, ...]], np.ndarray]:
    return lambda key: obj[key]


def h5_datasets(handle: Any) -> list[tuple[str, Any]]:
    """Return (path, dataset) for every dataset of an open h5py.File, in visiting order."""
    import h5py

    found: list[tuple[str, Any]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            found.append(("/" + name, obj))

    handle.visititems(visit)
    return found


def is_pure_dimension(ds: Any) -> bool:
    """Return True for a netCDF-4 dimension scale that holds no variable's data."""
    return ds.attrs.get("CLASS") == b"DIMENSION_SCALE" and str(
        plain_attr(ds.attrs.get("NAME", ""))).startswith(PURE_DIM)


def h5_dimensions(datasets: list[tuple[str, Any]]) -> tuple[dict[str, Any],
                                                            dict[str, tuple[str, ...]]]:
    """Return (1-D dimension scales by path, dimension keys by dataset path) as netCDF-C sees
    them: an axis is the scale attached to it (DIMENSION_LIST) when its length fits, else a
    phony dimension of its group and length, ``<group>/phony_dim_<n>``.

    Phony dimensions are numbered as netCDF-C numbers them, so both readings of a file
    name them alike: after the scales, each group's subgroups before its own datasets,
    by name. The subset kernel (subset.source) and the readers both call this, so a
    variable's dimensions, and the geolocation chosen from them, are the same in both.
    """
    scales = {path: ds for path, ds in datasets
              if ds.attrs.get("CLASS") == b"DIMENSION_SCALE" and ds.ndim == 1}
    # Attached scales are matched by HDF5 object identity: asking h5py for a scale's
    # name searches the file for it (2.7 of ATL07's 5.3 s of variable listing).
    scale_ids = {ds.id: path for path, ds in scales.items()}
    phony: dict[tuple[str, int], str] = {}
    keys: dict[str, tuple[str, ...]] = {}

    def netcdf_order(item: tuple[str, Any]) -> tuple:
        parts = item[0].strip("/").split("/")
        return (*((0, part) for part in parts[:-1]), (1, parts[-1]))

    for path, ds in sorted(datasets, key=netcdf_order):
        group = path.rsplit("/", 1)[0] or "/"
        axes = []
        for axis, size in enumerate(ds.shape):
            key = path if path in scales and axis == 0 else None
            if key is None:
                try:
                    attached = [scale_ids.get(s.id) for s in ds.dims[axis].values()]
                except (RuntimeError, OSError, KeyError, ValueError, TypeError):
                    attached = []  # broken references: the axis gets a phony dimension
                key = next((a for a in attached if a is not None), None)
            if key is None or scales[key].shape[0] != size:
                if (group, int(size)) not in phony:
                    number = len(scales) + len(phony)
                    phony[(group, int(size))] = f"{group.rstrip('/')}/phony_dim_{number}"
                key = phony[(group, int(size))]
            axes.append(key)
        keys[path] = tuple(axes)
    return scales, keys


def _iter_h5py(handle: Any) -> Iterator[VarRef]:
    import h5py

    datasets = h5_datasets(handle)
    _, dim_keys = h5_dimensions(datasets)
    found: list[VarRef] = []
    for path, obj in datasets:
        if obj.dtype.kind == "V" and obj.dtype.names or is_pure_dimension(obj):
            continue
        attrs = h5_attrs(obj)
        keys = dim_keys[path]
        # As netCDF shows them: HDF5 strings are NC_STRING ('str'), save NC_CHAR's '|S1'.
        dtype = str(obj.dtype)
        if obj.dtype.kind in "OS" and dtype != "|S1" and h5py.check_string_dtype(obj.dtype):
            dtype = "str"
        found.append(VarRef(path, tuple(obj.shape), dtype, attrs,
                            tuple(k.rsplit("/", 1)[-1] for k in keys), _reader_for(obj), keys,
                            _part_reader_for(obj)))
    yield from found


def global_attrs(handle: Any) -> dict[str, Any]:
    """Return the root attributes of an open netCDF4.Dataset or h5py.File as plain values."""
    if _is_netcdf4(handle):
        return {a: plain_attr(handle.getncattr(a)) for a in handle.ncattrs()}
    return h5_attrs(handle)


def h5_attrs(obj: Any) -> dict[str, Any]:
    """Return an h5py object's attributes as plain values, without HDF5's internal ones."""
    out = {}
    for key in obj.attrs:
        if key in INTERNAL_ATTRS:
            continue
        try:
            out[key] = plain_attr(obj.attrs[key])
        except (OSError, TypeError, ValueError):
            continue  # attributes of exotic HDF5 types are not needed for metadata
    return out


def _packed_limits(attrs: Mapping[str, Any], raw_dtype: np.dtype) -> tuple[float, float]:
    lo, hi = -np.inf, np.inf
    if "valid_range" in attrs:
        vr = np.asarray(attrs["valid_range"]).reshape(-1)
        if vr.size >= 2:
            lo, hi = float(vr[0]), float(vr[1])
    if "valid_min" in attrs:
        lo = float(np.asarray(attrs["valid_min"]).reshape(-1)[0])
    if "valid_max" in attrs:
        hi = float(np.asarray(attrs["valid_max"]).reshape(-1)[0])
    return lo, hi


def mask_and_scale(raw: np.ndarray, attrs: Mapping[str, Any]) -> np.ma.MaskedArray:
    """Return float64 values unpacked with CF rules; fill, missing, NaN and out-of-range masked.

    valid_min/max/range are compared in packed units (CF), except when the variable is an
    integer packed with a float scale and the limits are floats, the common non-CF case of
    limits given in physical units.
    """
    raw = np.asarray(raw)
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"not a numeric variable: dtype {raw.dtype}")
    if str(attrs.get("_Unsigned", "")).lower() == "true" and raw.dtype.kind == "i":
        raw = raw.view(raw.dtype.str.replace("i", "u"))
    invalid = np.zeros(raw.shape, dtype=bool)
    for key in ("_FillValue", "missing_value", "MissingValue"):
        if key in attrs:
            for fill in np.asarray(attrs[key]).reshape(-1):
                invalid |= raw == np.asarray(fill).astype(raw.dtype)
    values = raw.astype(np.float64)
    invalid |= ~np.isfinite(values)
    scale = float(np.asarray(attrs.get("scale_factor", 1.0)).reshape(-1)[0])
    offset = float(np.asarray(attrs.get("add_offset", 0.0)).reshape(-1)[0])
    lo, hi = _packed_limits(attrs, raw.dtype)
    packed = "scale_factor" in attrs or "add_offset" in attrs
    limits_physical = packed and raw.dtype.kind in "iu" and any(
        np.asarray(attrs[k]).dtype.kind == "f" for k in ("valid_min", "valid_max", "valid_range")
        if k in attrs
    )
    if not limits_physical:
        with np.errstate(invalid="ignore"):
            invalid |= (values < lo) | (values > hi)
    values = values * scale + offset
    if limits_physical:
        with np.errstate(invalid="ignore"):
            invalid |= (values < lo) | (values > hi)
    return np.ma.MaskedArray(values, mask=invalid)


def read_masked(var: VarRef) -> np.ma.MaskedArray:
    """Return a variable's values with mask-and-scale applied (see :func:`mask_and_scale`)."""
    return mask_and_scale(var.raw(), var.attrs)


@dataclass
class GeoPair:
    """A matched latitude/longitude pair; ``kind`` is 'swath2d', 'track1d' or 'grid'."""

    lat: VarRef
    lon: VarRef
    kind: str

    @property
    def size(self) -> int:
        """Return the number of geolocated points."""
        return self.lat.size if self.kind != "grid" else self.lat.size * self.lon.size

    def describe(self) -> dict[str, Any]:
        """Return a JSON-safe description (paths, shape, kind)."""
        return {"lat": self.lat.path, "lon": self.lon.path, "shape": list(core_shape(self.lat)),
                "kind": self.kind}


def core_shape(var: VarRef) -> tuple[int, ...]:
    """Return the shape without length-1 dimensions (TROPOMI's leading time=1)."""
    return tuple(n for n in var.shape if n != 1) or var.shape[-1:]


def _units(var: VarRef) -> str:
    return var.attr_str("units", "Units").lower().replace(" ", "_")


def role(var: VarRef) -> str | None:
    """Return 'lat', 'lon' or None for a variable, by CF standard_name, units, then name."""
    if var.dtype.startswith(("str", "|S", "object", "<U")) or EXCLUDED_SUFFIX.search(var.name):
        return None
    standard = var.attr_str("standard_name").lower()
    if standard in ("latitude", "grid_latitude"):
        return "lat"
    if standard in ("longitude", "grid_longitude"):
        return "lon"
    if standard:
        return None  # a different CF quantity (e.g. sea_surface_height): trust it
    units = _units(var)
    if units in LAT_UNITS:
        return "lat"
    if units in LON_UNITS:
        return "lon"
    if units and units not in ("deg", "degree", "degrees", "1"):
        return None
    if LAT_NAME.match(var.name):
        return "lat"
    if LON_NAME.match(var.name):
        return "lon"
    return None


def name_key(name: str, role: str) -> str:
    """Return a name with the lat/lon word replaced, so lat_20hz matches lon_20hz."""
    pattern = r"lat(itude)?" if role == "lat" else r"lon(gitude)?"
    return re.sub(pattern, "@", name.lower(), count=1)


def pair_kind(lat: VarRef, lon: VarRef) -> str | None:
    """Return the GeoPair kind of a latitude and a longitude variable, None if they do not fit."""
    ls, os_ = core_shape(lat), core_shape(lon)
    if lat.shape == lon.shape:
        return "swath2d" if len(ls) >= 2 else "track1d"
    if len(lat.shape) == 1 and len(lon.shape) == 1:
        return "grid"  # lat(y), lon(x): a regular grid
    if ls == os_:
        return "swath2d" if len(ls) >= 2 else "track1d"
    return None


def hinted_pairs(variables: list[VarRef], hints: Mapping[str, Any] | None) -> list[GeoPair]:
    """Return the pairs a collection's hints ``{"lat": [paths], "lon": [paths]}`` name, largest
    first; empty when there are no hints or none of them is in the file."""
    if not (hints and hints.get("lat") and hints.get("lon")):
        return []
    by_path = {v.path: v for v in variables}
    lats, lons = hints["lat"], hints["lon"]
    lats = [lats] if isinstance(lats, str) else lats
    lons = [lons] if isinstance(lons, str) else lons
    pairs = []
    for lat_path, lon_path in zip(lats, lons, strict=False):
        lat, lon = by_path.get(lat_path), by_path.get(lon_path)
        kind = pair_kind(lat, lon) if lat and lon else None
        if kind and lat and lon:
            pairs.append(GeoPair(lat, lon, kind))
    return sorted(pairs, key=lambda p: -p.size)


def find_pairs(variables: list[VarRef], hints: Mapping[str, Any] | None = None) -> list[GeoPair]:
    """Return every lat/lon pair found, largest first (a lat and a lon of one group).

    ``hints`` (from a collection) may give ``{"lat": [paths], "lon": [paths]}``; hinted paths
    are tried first and, when they match, are the only pairs returned. Which of the pairs
    make a footprint is :func:`ingest.geoselect.select_geolocation`'s decision.
    """
    hinted = hinted_pairs(variables, hints)
    if hinted:
        return hinted
    lats = [v for v in variables if role(v) == "lat"]
    lons = [v for v in variables if role(v) == "lon"]
    pairs = []
    used: set[str] = set()
    for lat in lats:
        candidates = [lon for lon in lons if lon.group == lat.group and lon.path not in used]
        named = [lon for lon in candidates
                 if name_key(lon.name, "lon") == name_key(lat.name, "lat")]
        for lon in named + [c for c in candidates if c not in named]:
            kind = pair_kind(lat, lon)
            if kind:
                pairs.append(GeoPair(lat, lon, kind))
                used.add(lon.path)
                break
    return sorted(pairs, key=lambda p: -p.size)


def choose_pairs(pairs: list[GeoPair]) -> list[GeoPair]:
    """Return the pairs to build a footprint from: the largest per group, all groups kept.

    Within one group (Jason-1 1 Hz vs 20 Hz, CryoSat-2 1 Hz vs 20 Hz) the finest sampling
    wins; separate groups (ATL07 beams, GPM FS/HS swaths) all count, since each holds
    different pixels. Single points (orbit-node attributes stored as variables) are dropped
    when real geolocation exists.
    """
    best: dict[str, GeoPair] = {}
    for pair in pairs:
        if pair.lat.group not in best or pair.size > best[pair.lat.group].size:
            best[pair.lat.group] = pair
    chosen = sorted(best.values(), key=lambda p: -p.size)
    if chosen and chosen[0].size > 1:
        chosen = [p for p in chosen if p.size > 1]
    return chosen


def read_lonlat(pair: GeoPair) -> tuple[np.ma.MaskedArray, np.ma.MaskedArray]:
    """Return (lon, lat) masked float64 arrays of the pair's core shape; bad points masked.

    Longitudes stay as stored (0..360 or -180..180); a point is invalid when either
    coordinate is fill/NaN or lat is outside [-90, 90] or lon outside [-180, 360].
    """
    lat_d = read_masked(pair.lat).filled(np.nan)
    lon_d = read_masked(pair.lon).filled(np.nan)
    if pair.kind == "grid":
        lon_d, lat_d = np.meshgrid(lon_d, lat_d)
    else:
        lat_d = lat_d.reshape(core_shape(pair.lat))
        lon_d = lon_d.reshape(lat_d.shape)
    with np.errstate(invalid="ignore"):
        bad = ~((np.abs(lat_d) <= 90.0) & (lon_d >= -180.0) & (lon_d <= 360.0))
    return np.ma.MaskedArray(lon_d, mask=bad), np.ma.MaskedArray(lat_d, mask=bad)


def normalize_lon(lon: np.ndarray) -> np.ndarray:
    """Return longitudes wrapped into [-180, 180) (values already in range are unchanged)."""
    lon = np.asarray(lon, dtype=np.float64)
    return np.where((lon >= -180.0) & (lon < 180.0), lon, (lon + 180.0) % 360.0 - 180.0)

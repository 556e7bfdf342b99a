"""Cut a region out of a swath: the subset kernel (no Django: HPC ranks import it too).

    with open("granule.nc", "rb") as f:               # or store.open_ranged(key)
        result = subset(f, parse_bbox("10,-30,20,-20"), "out.nc", variables=["sst"])

Geolocation is found with ``ingest.geoloc`` and chosen with ``ingest.geoselect`` (the
ingest readers' code), the pixel mask and its minimal window with ``subset.window``; then
only that window of each variable is read and written by ``subset.writer``. Raises
NoDataInRegion when no valid pixel of the geolocation the footprint is made of is in the
region, SubsetTooLarge before writing when the estimate exceeds ``max_bytes``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

import numpy as np

from ingest.chunkgeo import PairBounds, read_bounds
from ingest.geoselect import select_geolocation
from subset import timefilter
from subset.errors import NoDataInRegion, SourceError, SubsetTooLarge, VariableNotFound
from subset.region import Region
from subset.source import Dim, Source, Var, open_source
from subset.window import Geo, Window, find_window
from subset.writer import OutVar, write_netcdf

log = logging.getLogger(__name__)
SOFTWARE = "swathstore-subset 1.0"
# How to open an archived object for subsetting (store.open_ranged): small blocks, because
# what is read by blocks is HDF5 metadata (the chunks come by prefetch), scattered nodes
# of a few KiB: 256 KiB blocks fetched 10 MB of other chunks' bytes around them on the
# 2 GB benchmark swath, 16 KiB blocks 1.8 MB for 14 more requests; 64 MiB cache.
RANGED_BLOCK = 16 * 1024
RANGED_CACHE_BLOCKS = 4096
# A subset file's size beyond its data (netCDF-C 4.9 over HDF5 1.14): the superblock and
# groups, and per variable its object header with attributes and the B-tree node of its
# chunk index: 4.3 to 5.2 KB a variable whatever its size, measured on subsets of real
# granules (so a small subset of a file with many variables is mostly these).
FILE_BYTES = 6 * 1024
VARIABLE_BYTES = 4950


@dataclass
class Plan:
    """What a subset will hold, decided before any data variable is read."""

    windows: list[Window]
    out: list[OutVar]
    estimated_bytes: int
    dropped: list[str] = field(default_factory=list)  # pairs with no pixel in the region

    @property
    def n_selected(self) -> int:
        """Return the number of selected pixels over all geolocation pairs."""
        return sum(w.n_selected for w in self.windows)

    def bounds(self) -> tuple[float, float, float, float]:
        """Return (W, S, E, N) of the selected pixels; W > E across the antimeridian."""
        lats = np.concatenate([w.lat[w.mask] for w in self.windows])
        lons = np.concatenate([w.lon[w.mask] for w in self.windows])
        west, east = lon_bounds(lons)
        return west, float(lats.min()), east, float(lats.max())


@dataclass
class SubsetResult:
    """A written subset: file, size, checksum and what it holds."""

    path: str
    size: int
    sha256: str
    n_selected: int
    bounds: tuple[float, float, float, float]
    variables: list[str]
    windows: list[dict[str, Any]]
    estimated_bytes: int
    seconds: float
    bytes_read: int | None = None


def subset(src: str | os.PathLike[str] | BinaryIO, region: Region,
           out_path: str | os.PathLike[str], *, variables: Sequence[str] | None = None,
           time_range: tuple[datetime | None, datetime | None] | None = None,
           fill_outside: bool = False, provenance: Mapping[str, Any] | None = None,
           max_bytes: int | None = None, hints: Mapping[str, Any] | None = None,
           time_epoch: str | None = None, strategy: str = "auto",
           threads: int | None = None,
           geo_bounds: Mapping[str, Any] | None = None) -> SubsetResult:
    """Write the subset of ``src`` in ``region`` to ``out_path`` and return what it holds.

    ``src``: a local path or a seekable binary file (e.g. archive RangedFile).
    ``variables``: paths or bare names (None: all); geolocation and coordinates come along.
    ``time_range``: keep only pixels whose time is inside (per pixel or per scan line).
    ``fill_outside``: set pixels of the window outside the region to _FillValue.
    ``threads``: chunks compressed at once while writing (None: the cores, at most 4).
    ``geo_bounds``: the swath's per-chunk geolocation bounds (ingest.chunkgeo, from its
    chunk index): only the geolocation chunks whose box meets the region are read. The
    result is the same without them.
    Raises RegionError, VariableNotFound, NoDataInRegion, SubsetTooLarge, SourceError.
    """
    t0 = time.monotonic()
    with open_source(src) as source:
        plan = make_plan(source, region, variables=variables, time_range=time_range,
                         fill_outside=fill_outside, hints=hints, time_epoch=time_epoch,
                         strategy=strategy, geo_bounds=geo_bounds)
        if max_bytes is not None and plan.estimated_bytes > max_bytes:
            raise SubsetTooLarge(plan.estimated_bytes, max_bytes)
        prefetch_windows(source, plan)
        attrs = output_attrs(source, plan, region, variables, provenance or {})
        size = write_netcdf(out_path, source, plan.out, attrs, threads=threads)
    digest = hashlib.sha256()
    with open(out_path, "rb") as f:
        while piece := f.read(1 << 20):
            digest.update(piece)
    return SubsetResult(
        path=os.fspath(out_path), size=size, sha256=digest.hexdigest(),
        n_selected=plan.n_selected, bounds=plan.bounds(),
        variables=[ov.var.path for ov in plan.out],
        windows=[{"lat": w.geo.lat.path, "lon": w.geo.lon.path,
                  "window": [[s.start, s.stop] for s in w.slices],
                  "selected": w.n_selected, "chunks_read": w.chunks_read,
                  "chunks_total": w.chunks_total} for w in plan.windows],
        estimated_bytes=plan.estimated_bytes, seconds=time.monotonic() - t0,
        bytes_read=getattr(src, "bytes_read", None),
    )


def prefetch_windows(source: Source, plan: Plan) -> None:
    """Queue the chunks of every window still to be read, in the order they are written.

    Only a source read through a RangedFile that can prefetch does anything; the
    RangedFile's budget bounds what is held, the rest follows as reads consume it.
    """
    source.drop_prefetched()  # geolocation chunks the search fetched but did not decode
    for ov in plan.out:
        if ov.data is None:
            ov.var.prefetch(ov.sel)


def geolocations(source: Source, hints: Mapping[str, Any] | None = None) -> list[Geo]:
    """Return the swath's geolocation pairs, no two sharing a dimension: first those its
    footprint is made of (``primary``, chosen as ingest chooses them), then the others
    (summaries, coarser twins), whose variables are cut to the region too."""
    selection = select_geolocation(source.refs(), hints)
    primary = {id(p) for p in selection.pairs}
    out: list[Geo] = []
    used: set[str] = set()
    for pair in selection.ordered():
        if pair.size <= 1:
            continue
        lat, lon = source.var(pair.lat.path), source.var(pair.lon.path)
        dims: tuple[Dim, ...]
        if pair.kind == "grid":
            axes: tuple[int, ...] = (0,)
            dims = (lat.dims[0], lon.dims[0])
        else:
            axes = tuple(a for a, n in enumerate(lat.shape) if n != 1) or (len(lat.shape) - 1,)
            dims = tuple(lat.dims[a] for a in axes)
        if used & {d.key for d in dims}:
            continue
        used |= {d.key for d in dims}
        out.append(Geo(pair, lat, lon, axes, dims, primary=id(pair) in primary))
    if not out:
        raise SourceError("no latitude/longitude variables found: the swath cannot be subset")
    if not any(g.primary for g in out):  # the footprint's pairs are single points
        for g in out:
            g.primary = True
    return out


def make_plan(source: Source, region: Region, *, variables: Sequence[str] | None = None,
              time_range: tuple[datetime | None, datetime | None] | None = None,
              fill_outside: bool = False, hints: Mapping[str, Any] | None = None,
              time_epoch: str | None = None, strategy: str = "auto",
              geo_bounds: Mapping[str, Any] | None = None) -> Plan:
    """Return the windows and variables of a subset (reads geolocation only)."""
    wanted = resolve_variables(source, variables) if variables else None
    windows: list[Window] = []
    dropped: list[str] = []
    geos = geolocations(source, hints)
    bounds = usable_bounds(geo_bounds, geos)
    for geo in geos:
        tmask = None
        if time_range and (time_range[0] or time_range[1]):
            tmask = timefilter.build(source, geo, time_range[0], time_range[1], time_epoch)
        window = find_window(geo, region, tmask, strategy, bounds.get(geo.lat.path))
        if window is None:
            dropped.append(geo.lat.path)
        else:
            windows.append(window)
    if not any(w.geo.primary for w in windows):
        # Summary geolocation (a whole-granule quality group) may reach a region the
        # science data do not: the catalog does not find the swath there, nor does this.
        raise NoDataInRegion(f"no valid pixel of the swath is in the region ({region.label})")
    slices: dict[str, slice] = {}
    for w in windows:
        slices.update(w.dim_slices())
    dead = {d.key for geo in geos if geo.lat.path in dropped for d in geo.dims}
    chosen = _closure(source, wanted, windows) if wanted is not None else source.variables
    out = []
    for var in chosen:
        if dead & {d.key for d in var.dims} and not slices.keys() & {d.key for d in var.dims}:
            continue  # data of a beam/swath that has no pixel in the region
        sel = tuple(slices.get(d.key, slice(0, n)) for d, n in zip(var.dims, var.shape,
                                                                    strict=True))
        ov = OutVar(var, sel)
        for w in windows:
            if var is w.geo.lat and w.lat_raw is not None:
                ov.data = w.lat_raw
            elif var is w.geo.lon and w.lon_raw is not None:
                ov.data = w.lon_raw
            keys = [d.key for d in var.dims]
            if all(d.key in keys for d in w.geo.dims) and var not in (w.geo.lat, w.geo.lon):
                if fill_outside and var.kind == "numeric":
                    ov.mask = w.mask
                    ov.mask_axes = tuple(keys.index(d.key) for d in w.geo.dims)
                ov.coordinates = _coordinates(var, w)
        out.append(ov)
    estimate = FILE_BYTES + sum(output_bytes(ov) for ov in out)
    return Plan(windows, out, estimate, dropped)


def usable_bounds(doc: Mapping[str, Any] | None, geos: Sequence[Geo]) -> dict[str, PairBounds]:
    """Return {lat path: PairBounds} of the pairs whose bounds fit the file as opened; a
    document that is malformed or does not fit is logged and left out (the search reads
    the geolocation instead), never an error."""
    if not doc:
        return {}
    try:
        pairs = read_bounds(doc)
    except ValueError as e:
        log.warning("geolocation bounds not used: %s", e)
        return {}
    out = {}
    for geo in geos:
        pb = pairs.get((geo.lat.path, geo.lon.path))
        if pb is None:
            continue
        if pb.shape != geo.shape or len(pb.block) != len(geo.shape):
            log.warning("geolocation bounds of %s not used: shape %s, blocks %s, the file's "
                        "%s", geo.lat.path, pb.shape, pb.block, geo.shape)
            continue
        out[geo.lat.path] = pb
    return out


def resolve_variables(source: Source, names: Sequence[str]) -> list[Var]:
    """Return the variables named by path ('/grp/sst') or bare name ('sst'; every match)."""
    found: list[Var] = []
    missing = []
    for name in names:
        name = name.strip()
        hits = [v for v in source.variables
                if v.path == name or v.path == "/" + name.lstrip("/") or v.name == name]
        if not hits:
            missing.append(name)
        found.extend(h for h in hits if h not in found)
    if missing:
        sample = ", ".join(v.path for v in source.variables[:12])
        raise VariableNotFound(f"no variable {', '.join(map(repr, missing))} in the swath "
                               f"(it has {len(source.variables)}: {sample}...)")
    return found


def _closure(source: Source, wanted: list[Var], windows: list[Window]) -> list[Var]:
    """Add what the wanted variables need: geolocation, coordinates, dimension variables."""
    chosen = list(wanted)
    for w in windows:
        if any({d.key for d in w.geo.dims} & {d.key for d in v.dims} for v in wanted):
            chosen += [w.geo.lat, w.geo.lon]
    dim_keys = {d.key for v in chosen for d in v.dims}
    for v in source.variables:
        if v.path in dim_keys:
            chosen.append(v)  # the coordinate variable of a used dimension
    for v in list(chosen):
        for token in str(v.attrs.get("coordinates", "")).split():
            target = token if token.startswith("/") else f"{v.group.rstrip('/')}/{token}"
            for cand in source.variables:
                if cand.path in (target, "/" + token.lstrip("/")):
                    chosen.append(cand)
    out: list[Var] = []
    for v in source.variables:  # keep the file's order
        if v in chosen and v not in out:
            out.append(v)
    return out


def _coordinates(var: Var, w: Window) -> str:
    """Return the CF coordinates attribute naming the pair's lon/lat from ``var``'s group."""
    names = []
    for geo_var in (w.geo.lon, w.geo.lat):
        names.append(geo_var.name if geo_var.group == var.group else geo_var.path)
    existing = str(var.attrs.get("coordinates", "")).split()
    keep = [t for t in existing if t not in names and t.split("/")[-1] not in
            (w.geo.lon.name, w.geo.lat.name)]
    return " ".join(keep + names)


def output_bytes(ov: OutVar, ratio: float | None = None) -> int:
    """Return what one variable adds to a subset file: its header and its data.

    ``ratio``: stored/raw size of its data once written (default: the source's, which
    the writer's zlib+shuffle roughly keeps; 1 when the source is stored raw).
    """
    n = int(np.prod(ov.shape, dtype=np.int64)) * max(ov.var.dtype.itemsize, 1)
    if ratio is None and ov.var.storage_size and ov.var.nbytes:
        ratio = ov.var.storage_size / ov.var.nbytes
    return VARIABLE_BYTES + int(n * min(1.0, 1.0 if ratio is None else ratio))


LON_BINS = 3600  # 0.1 degree: lon_bounds' reduction (see there)


def lon_bounds(lons: np.ndarray) -> tuple[float, float]:
    """Return (west, east) of the smallest arc holding all longitudes (west > east across 180).

    >>> lon_bounds(np.array([170.0, 179.0, -179.0, -170.0]))
    (170.0, -170.0)
    >>> lon_bounds(np.array([10.0, 20.0]))
    (10.0, 20.0)
    """
    lon = np.asarray(lons, dtype=np.float64).ravel()
    lon = np.where(lon >= 180.0, lon - 360.0, lon)
    lon = np.where(lon < -180.0, lon + 360.0, lon)
    if lon.size > 4 * LON_BINS:
        # Sorting millions of longitudes was 40 % of a whole-swath subset's CPU. Keeping
        # only each 0.1-degree bin's smallest and largest value keeps every gap between
        # bins exactly; gaps inside a bin can only shrink into one of at most 0.1 degree.
        # So a largest gap wider than a bin is the true one, with the same end points.
        idx = np.clip(((lon + 180.0) * (LON_BINS / 360.0)).astype(np.intp), 0, LON_BINS - 1)
        lo = np.full(LON_BINS, np.inf)
        hi = np.full(LON_BINS, -np.inf)
        np.minimum.at(lo, idx, lon)
        np.maximum.at(hi, idx, lon)
        used = np.isfinite(lo)
        reduced = _widest_gap(np.unique(np.concatenate([lo[used], hi[used]])))
        if reduced is not None and reduced[2] > 360.0 / LON_BINS:
            return reduced[0], reduced[1]
    west, east, _ = _widest_gap(np.unique(lon))  # type: ignore[misc]
    return west, east


def _widest_gap(lon: np.ndarray) -> tuple[float, float, float] | None:
    """(west, east, widest gap) for sorted unique longitudes in [-180, 180); None if empty."""
    if lon.size == 0:
        return None
    if lon.size == 1:
        return float(lon[0]), float(lon[0]), 360.0
    gaps = np.diff(np.concatenate([lon, [lon[0] + 360.0]]))
    k = int(np.argmax(gaps))
    if k == lon.size - 1:
        return float(lon[0]), float(lon[-1]), float(gaps[k])
    return float(lon[k + 1]), float(lon[k]), float(gaps[k])


def output_attrs(source: Source, plan: Plan, region: Region, variables: Sequence[str] | None,
                 provenance: Mapping[str, Any]) -> dict[str, Any]:
    """Return the global attributes: the source's, plus CF, history, provenance and bounds."""
    attrs = dict(source.group_attrs.get("/", {}))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conventions = str(attrs.get("Conventions", "")).replace(",", " ").split()
    conventions = [c for c in conventions if not c.startswith("CF-")]
    attrs["Conventions"] = ", ".join(["CF-1.8", *conventions])
    wanted = ",".join(variables) if variables else "all"
    line = f"{now} {SOFTWARE}: subset region {region.label} variables {wanted}"
    history = str(attrs.get("history", "")).rstrip()
    attrs["history"] = f"{history}\n{line}" if history else line
    west, south, east, north = plan.bounds()
    attrs.update({
        "geospatial_lat_min": south, "geospatial_lat_max": north,
        "geospatial_lon_min": west, "geospatial_lon_max": east,
        "geospatial_lat_units": "degrees_north", "geospatial_lon_units": "degrees_east",
        "subset_region": region.wkt,
        "subset_variables": wanted,
        "subset_software": SOFTWARE,
        "subset_created": now,
        "subset_selected_pixels": np.int64(plan.n_selected),
    })
    for stale in ("northernmost_latitude", "southernmost_latitude", "westernmost_longitude",
                  "easternmost_longitude", "geospatial_bounds"):
        attrs.pop(stale, None)
    for key, value in provenance.items():
        if value is not None:
            attrs[f"source_{key}" if not key.startswith("source") else key] = str(value)
    return attrs

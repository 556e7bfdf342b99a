"""Synthetic MODIS-like Level-2 swaths: seeded, reproducible NetCDF4 granules of any size.

The demo, the tests and every benchmark use these files. Geometry comes from
`ingest.orbit` (sun-synchronous polar orbit, 2330 km cross-track scan); the data are
smooth seeded fields plus noise, written in along-track blocks so memory stays bounded
whatever the file size. Pure Python and numpy: no Django here.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist

import netCDF4
import numpy as np

from archive.streaming import sha256_file
from ingest.orbit import MEAN_RADIUS_KM, Orbit, WaveField, coverage, pixel_xyz, xyz_to_latlon

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MODIS_PIXELS = 1354
MODIS_LINE_S = 1.4771 / 10  # one 10-detector scan every 1.4771 s
BLOCK_LINES = 256  # along-track chunk and write block
BLOCK_PIXELS = 2048  # cross-track chunk: bounds memory for very wide swaths
PROBE_LINES, PROBE_WINDOWS = 64, 5  # size estimate: 5 windows of 64 lines along the granule
RRS_WAVELENGTHS = (412, 443, 469, 488, 531, 547, 555, 645, 667, 678)
FILL_F32 = np.float32(-32767.0)
FILL_GEO = np.float32(-999.0)
FILL_SST = np.int16(-32767)
FILL_QL = np.int8(-128)
SST_SCALE = 0.005

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6,
          "mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12,
          "tib": 2**40}


@dataclass(frozen=True)
class SynthInfo:
    """What one generated granule holds and where it is."""

    path: Path
    size: int
    sha256: str | None
    start: datetime  # time_coverage_start, aware UTC
    end: datetime  # time_coverage_end = start + number_of_lines * line interval
    orbit: int
    crosses_antimeridian: bool  # footprint meets +-180 (always so when over a pole)
    over_pole: bool  # the swath covers the North or South Pole
    n_lines: int
    n_pixels: int
    lat_min: float
    lat_max: float
    lon_min: float  # west bound; greater than lon_max when the granule crosses +-180
    lon_max: float
    start_direction: str
    end_direction: str
    granule_id: str


@dataclass(frozen=True)
class _Layout:
    """Everything that decides a file's content, resolved from write_swath's arguments."""

    seed: int
    start: datetime
    n_lines: int
    n_pixels: int
    line_s: float
    compression: str | None
    complevel: int
    incompressible: bool
    cloud_fraction: float
    edge_fill_columns: int
    extra_bands: int
    orbit: Orbit

    @property
    def end(self) -> datetime:
        """Return the end of the last scan line."""
        return self.start + timedelta(seconds=self.n_lines * self.line_s)


def parse_size(text: str | int) -> int:
    """Return a byte count from "1MB", "50MB", "2GB", "512KiB" or a plain integer.

    >>> parse_size("50MB"), parse_size("512KiB"), parse_size("1.5 GB"), parse_size(10)
    (50000000, 524288, 1500000000, 10)
    """
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r} (try 1MB, 50MB, 2GB, 512KiB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def parse_start(value: str | date | datetime) -> datetime:
    """Return an aware UTC datetime from "2024-01-01", an ISO 8601 string or a (date)time."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    elif not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def granule_name(start: datetime) -> str:
    """Return the OBPG-style file name of the granule starting at start."""
    return f"SYNTH_MODIS_A.{start:%Y%m%dT%H%M%S}.L2.OC.nc"


def write_swath(
    path: str | os.PathLike[str],
    *,
    seed: int,
    start: str | date | datetime,
    duration_s: float = 300.0,
    n_pixels: int | None = None,
    scan_interval_s: float = MODIS_LINE_S,
    target_bytes: int | str | None = None,
    compression: str | None = "zlib",
    complevel: int = 1,
    incompressible: bool = False,
    cloud_fraction: float = 0.05,
    edge_fill_columns: int = 0,
    extra_bands: int = 0,
    checksum: bool = False,
    orbit: Orbit | None = None,
) -> SynthInfo:
    """Write one granule covering [start, start + duration_s) and return what it holds.

    Without target_bytes: duration_s / scan_interval_s lines of n_pixels (default 1354).
    With target_bytes: the line count (and n_pixels, if None, for square pixels) comes
    from a size estimate, and the line interval becomes duration_s / lines.
    Raises ValueError on impossible arguments.
    """
    layout = _layout(
        seed=seed, start=parse_start(start), duration_s=duration_s, n_pixels=n_pixels,
        scan_interval_s=scan_interval_s, compression=compression, complevel=complevel,
        incompressible=incompressible, cloud_fraction=cloud_fraction,
        edge_fill_columns=edge_fill_columns, extra_bands=extra_bands,
        orbit=orbit or Orbit.from_seed(seed),
    )
    if target_bytes is not None:
        layout = _fit_to_size(
            layout, duration_s, parse_size(target_bytes), Path(path).parent, n_pixels is None
        )
    return _write_atomic(Path(path), layout, checksum)


def generate(
    outdir: str | os.PathLike[str],
    *,
    count: int,
    size: str | int | None = "50MB",
    start: str | date | datetime = "2024-01-01",
    seed: int = 0,
    granule_minutes: float = 5,
    incompressible: bool = False,
    compression: str | None = "zlib",
    n_pixels: int | None = None,
    cloud_fraction: float = 0.05,
    edge_fill_columns: int = 0,
    extra_bands: int = 0,
    checksum: bool = False,
    should_stop: Callable[[], bool] | None = None,
    on_granule: Callable[[SynthInfo], None] | None = None,
) -> list[SynthInfo]:
    """Write `count` consecutive granules along one orbit into outdir and return them.

    size is per granule (None: native MODIS 1354 pixels every 0.148 s). All granules share
    one layout, sized from the first, so their sizes vary a little with content.
    should_stop is polled between granules; on_granule is called after each.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    duration_s = float(granule_minutes) * 60.0
    if duration_s < 1.0:
        raise ValueError(f"granule_minutes must give at least 1 s, got {granule_minutes}")
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = parse_start(start)
    layout = _layout(
        seed=seed, start=t0, duration_s=duration_s, n_pixels=n_pixels,
        scan_interval_s=MODIS_LINE_S, compression=compression, complevel=1,
        incompressible=incompressible, cloud_fraction=cloud_fraction,
        edge_fill_columns=edge_fill_columns, extra_bands=extra_bands,
        orbit=Orbit.from_seed(seed),
    )
    if size is not None and count:
        layout = _fit_to_size(layout, duration_s, parse_size(size), out, n_pixels is None)
    infos: list[SynthInfo] = []
    for k in range(count):
        if should_stop is not None and should_stop():
            break
        # Whole microseconds, so consecutive granules meet exactly.
        g_start = t0 + timedelta(microseconds=round(k * duration_s * 1e6))
        g_layout = replace(layout, start=g_start)
        info = _write_atomic(out / granule_name(g_start), g_layout, checksum)
        infos.append(info)
        if on_granule is not None:
            on_granule(info)
    return infos


def _layout(
    *, seed: int, start: datetime, duration_s: float, n_pixels: int | None,
    scan_interval_s: float, compression: str | None, complevel: int, incompressible: bool,
    cloud_fraction: float, edge_fill_columns: int, extra_bands: int, orbit: Orbit,
) -> _Layout:
    """Return a validated layout for fixed-interval scan lines."""
    if duration_s <= 0 or scan_interval_s <= 0:
        raise ValueError("duration_s and scan_interval_s must be positive")
    if compression not in (None, "zlib", "zstd"):
        raise ValueError(f"compression must be 'zlib', 'zstd' or None, got {compression!r}")
    if not 0.0 <= cloud_fraction < 1.0:
        raise ValueError(f"cloud_fraction must be in [0, 1), got {cloud_fraction}")
    if not 0 <= extra_bands <= len(RRS_WAVELENGTHS):
        raise ValueError(f"extra_bands must be 0..{len(RRS_WAVELENGTHS)}, got {extra_bands}")
    pixels = MODIS_PIXELS if n_pixels is None else n_pixels
    if pixels < 2 or not 0 <= 2 * edge_fill_columns < pixels - 1:
        raise ValueError(f"need >= 2 pixels and 2 valid columns, got {pixels}/{edge_fill_columns}")
    n_lines = max(2, round(duration_s / scan_interval_s))
    return _Layout(
        seed=seed, start=start, n_lines=n_lines, n_pixels=pixels,
        line_s=duration_s / n_lines, compression=compression, complevel=complevel,
        incompressible=incompressible, cloud_fraction=cloud_fraction,
        edge_fill_columns=edge_fill_columns, extra_bands=extra_bands, orbit=orbit,
    )


def _fit_to_size(
    layout: _Layout, duration_s: float, target: int, workdir: Path, auto_pixels: bool
) -> _Layout:
    """Return layout with lines (and pixels, when not fixed) chosen to make a target-size file."""
    if target <= 0:
        raise ValueError(f"target size must be positive, got {target}")
    raw = 8 + 2 + 4 + 1 + 4 * layout.extra_bands  # lat, lon, sst, chlor_a, quality, Rrs_*
    ratio = 1.0 if layout.compression is None else 0.6 if layout.incompressible else 0.45
    area_px = max(target - 40_000, 1_000) / (raw * ratio)
    pixels = layout.n_pixels
    if auto_pixels:
        # Square-ish pixels: cross-track spacing (width / N) equal to along-track spacing.
        track_km = 2 * math.pi * MEAN_RADIUS_KM / layout.orbit.period_s * duration_s
        pixels = round(math.sqrt(area_px * layout.orbit.swath_width_km / track_km))
        pixels = min(max(pixels, 16), 40_000)
    n_lines = max(2, round(area_px / pixels))
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".synth-probe-") as tmp:
        # Compressed size depends on the line spacing (smoothness along track), so probe
        # at the spacing of the guess, and once more if the answer moved much.
        for _ in range(2):
            probe = replace(layout, n_pixels=pixels, line_s=duration_s / n_lines)
            guess, n_lines = n_lines, _lines_for(probe, target, duration_s, Path(tmp))
            if abs(n_lines - guess) <= 0.05 * guess:
                break
    return replace(layout, n_pixels=pixels, n_lines=n_lines, line_s=duration_s / n_lines)


def _lines_for(layout: _Layout, target: int, duration_s: float, tmp: Path) -> int:
    """Return the line count that makes target bytes, from short probe files."""

    def size(lines: int, offset_s: float) -> int:
        p = tmp / "probe.nc"
        start = layout.start + timedelta(seconds=offset_s)
        _write(p, replace(layout, n_lines=lines, start=start))
        try:
            return p.stat().st_size
        finally:
            p.unlink()

    # Size = metadata overhead + bytes per line x lines. Content (clouds, fill) and so
    # compression vary along the track: average the bytes per line over a few windows.
    n = min(PROBE_LINES, max(3, round(duration_s / layout.line_s)))
    span = max(duration_s - n * layout.line_s, 0.0)
    offsets = np.linspace(0.0, span, PROBE_WINDOWS) if span else np.zeros(1)
    sizes = [size(n, float(o)) for o in offsets]
    two = size(2, 0.0)
    overhead = two - 2 * (sizes[0] - two) / (n - 2)
    per_line = (sum(sizes) / len(sizes) - overhead) / n
    return max(2, round((target - overhead) / max(per_line, 1.0)))


def _write_atomic(path: Path, layout: _Layout, checksum: bool) -> SynthInfo:
    """Write to a side file and rename, so a crash never leaves a complete-looking granule."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        info = _write(part, layout)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    digest = sha256_file(path) if checksum else None
    return replace(info, path=path, size=path.stat().st_size, sha256=digest)


def _write(path: Path, layout: _Layout) -> SynthInfo:
    """Write the granule layout describes to path, one chunk at a time."""
    lo, orbit = layout, layout.orbit
    t_start = orbit.seconds(lo.start)
    line_t = t_start + np.arange(lo.n_lines, dtype=np.float64) * lo.line_s
    angles, eta = orbit.pixel_angles(lo.n_pixels), orbit.scan_angles(lo.n_pixels)
    valid = slice(lo.edge_fill_columns, lo.n_pixels - lo.edge_fill_columns)
    cov = coverage(orbit, line_t, angles[valid])
    info = SynthInfo(
        path=path, size=0, sha256=None, start=lo.start, end=lo.end,
        orbit=orbit.orbit_number(t_start),
        crosses_antimeridian=cov.crosses_antimeridian, over_pole=cov.over_pole,
        n_lines=lo.n_lines, n_pixels=lo.n_pixels,
        lat_min=cov.lat_min, lat_max=cov.lat_max, lon_min=cov.lon_min, lon_max=cov.lon_max,
        start_direction="Ascending" if orbit.is_ascending(line_t[0]) else "Descending",
        end_direction="Ascending" if orbit.is_ascending(line_t[-1]) else "Descending",
        granule_id=granule_name(lo.start).removesuffix(".nc"),
    )
    # Chunks split each dimension evenly, so no chunk is padded, and every write below
    # fills whole chunks: HDF5 then never has to read a chunk back to finish it.
    lc = math.ceil(lo.n_lines / math.ceil(lo.n_lines / BLOCK_LINES))
    pc = math.ceil(lo.n_pixels / math.ceil(lo.n_pixels / BLOCK_PIXELS))
    fields = _Fields(lo, eta)
    unix0 = (lo.start - UNIX_EPOCH).total_seconds()
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.setncatts(_global_attrs(lo, info))
        ds.createDimension("number_of_lines", lo.n_lines)
        ds.createDimension("pixels_per_line", lo.n_pixels)
        time = _create_time(ds.createGroup("scan_line_attributes"), lo, lc)
        grid_vars = _create_grid_vars(ds, lo, (lc, pc))
        for l0 in range(0, lo.n_lines, lc):
            l1 = min(l0 + lc, lo.n_lines)
            scan = orbit.scan_lines(line_t[l0:l1])
            time[l0:l1] = unix0 + np.arange(l0, l1) * lo.line_s
            for p0 in range(0, lo.n_pixels, pc):
                p1 = min(p0 + pc, lo.n_pixels)
                x, y, z = pixel_xyz(scan.nadir, scan.right, angles[p0:p1])
                for name, data in fields.block(l0, p0, x, y, z).items():
                    grid_vars[name][l0:l1, p0:p1] = data
    return info


def _create_time(grp: netCDF4.Group, lo: _Layout, lc: int) -> netCDF4.Variable:
    """Create the per-scan-line time variable."""
    t = grp.createVariable("time", "f8", ("number_of_lines",), chunksizes=(lc,),
                           compression=lo.compression, complevel=lo.complevel, shuffle=True)
    t.setncatts({"long_name": "scan line start time", "standard_name": "time",
                 "units": "seconds since 1970-01-01T00:00:00Z", "calendar": "standard"})
    return t


def _create_grid_vars(
    ds: netCDF4.Dataset, lo: _Layout, chunks: tuple[int, int]
) -> dict[str, netCDF4.Variable]:
    """Create navigation_data/{latitude,longitude} and the geophysical_data variables."""
    dims = ("number_of_lines", "pixels_per_line")
    comp = {"compression": lo.compression, "complevel": lo.complevel, "shuffle": True}
    # A tiny cache makes HDF5 write each (whole) chunk straight through instead of
    # holding up to 64 MiB per variable: that is what keeps memory flat.
    opts = {**comp, "chunksizes": chunks, "chunk_cache": 1 << 10}
    nav, geo = ds.createGroup("navigation_data"), ds.createGroup("geophysical_data")
    coords = "/navigation_data/longitude /navigation_data/latitude"
    specs: list[tuple[netCDF4.Group, str, str, object, dict[str, object]]] = [
        (nav, "latitude", "f4", FILL_GEO, {
            "long_name": "Latitude", "standard_name": "latitude", "units": "degrees_north",
            "valid_min": np.float32(-90), "valid_max": np.float32(90)}),
        (nav, "longitude", "f4", FILL_GEO, {
            "long_name": "Longitude", "standard_name": "longitude", "units": "degrees_east",
            "valid_min": np.float32(-180), "valid_max": np.float32(180)}),
        (geo, "sst", "i2", FILL_SST, {
            "long_name": "Sea Surface Temperature",
            "standard_name": "sea_surface_skin_temperature", "units": "degree_C",
            "scale_factor": np.float32(SST_SCALE), "add_offset": np.float32(0.0),
            "valid_min": np.int16(-1000), "valid_max": np.int16(10000), "coordinates": coords}),
        (geo, "chlor_a", "f4", FILL_F32, {
            "long_name": "Chlorophyll Concentration, OCI Algorithm",
            "standard_name": "mass_concentration_of_chlorophyll_a_in_sea_water",
            "units": "mg m^-3", "valid_min": np.float32(0.001), "valid_max": np.float32(100.0),
            "coordinates": coords}),
        (geo, "quality_level", "i1", FILL_QL, {
            "long_name": "quality level of SST pixel",
            "valid_min": np.int8(0), "valid_max": np.int8(5),
            "flag_values": np.array([0, 1, 2, 3, 4, 5], dtype=np.int8),
            "flag_meanings": "no_data bad_data worst_quality low_quality acceptable_quality "
                             "best_quality", "coordinates": coords}),
    ]
    for wl in RRS_WAVELENGTHS[: lo.extra_bands]:
        specs.append((geo, f"Rrs_{wl}", "f4", FILL_F32, {
            "long_name": f"Remote sensing reflectance at {wl} nm",
            "standard_name": "surface_ratio_of_upwelling_radiance_emerging_from_sea_water_to_"
                             "downwelling_radiative_flux_in_air",
            "units": "sr^-1", "radiation_wavelength": np.float32(wl),
            "coordinates": coords}))
    out = {}
    for grp, name, dtype, fill, attrs in specs:
        v = grp.createVariable(name, dtype, dims, fill_value=fill, **opts)
        v.setncatts(attrs)
        v.set_auto_maskandscale(False)
        out[name] = v
    return out


def _global_attrs(lo: _Layout, info: SynthInfo) -> dict[str, object]:
    """Return ACDD/CF global attributes; dates derive from the data times, never the clock."""
    created = _iso(info.end + timedelta(hours=3))  # a plausible processing latency
    options = (f"seed={lo.seed} lines={lo.n_lines} pixels={lo.n_pixels} "
               f"compression={lo.compression} incompressible={lo.incompressible} "
               f"cloud_fraction={lo.cloud_fraction} edge_fill_columns={lo.edge_fill_columns} "
               f"extra_bands={lo.extra_bands}")
    return {
        "title": "MODIS Aqua Level-2 ocean colour and SST (SYNTHETIC)",
        "summary": "Synthetic swath from a model sun-synchronous orbit; not real observations.",
        "Conventions": "CF-1.8, ACDD-1.3",
        "id": info.granule_id,
        "product_name": granule_name(lo.start),
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"synth:{options}:{info.granule_id}")),
        "naming_authority": "org.swathstore.synth", "institution": "swathstore",
        "source": f"synthetic: swathstore ingest.synth ({options})",
        "history": f"{created} swathstore ingest.synth.write_swath {options}",
        "date_created": created,
        "platform": "Aqua", "instrument": "MODIS",
        "processing_level": "L2", "cdm_data_type": "swath",
        "time_coverage_start": _iso(info.start),
        "time_coverage_end": _iso(info.end),
        "time_coverage_duration": f"PT{(info.end - info.start).total_seconds():g}S",
        "orbit_number": np.int32(info.orbit),
        "startDirection": info.start_direction, "endDirection": info.end_direction,
        "geospatial_lat_min": info.lat_min,
        "geospatial_lat_max": info.lat_max,
        "geospatial_lon_min": info.lon_min,
        "geospatial_lon_max": info.lon_max,
        "geospatial_lat_units": "degrees_north", "geospatial_lon_units": "degrees_east",
        "northernmost_latitude": np.float32(info.lat_max),
        "southernmost_latitude": np.float32(info.lat_min),
        "westernmost_longitude": np.float32(info.lon_min),
        "easternmost_longitude": np.float32(info.lon_max),
        "license": "CC0-1.0: synthetic data, no restrictions",
    }


def _iso(when: datetime) -> str:
    """Return ISO 8601 UTC with milliseconds and a Z, as OBPG writes it."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _Fields:
    """Seeded geophysical fields for one granule, produced one chunk at a time."""

    def __init__(self, lo: _Layout, eta: np.ndarray) -> None:
        self.lo = lo
        self.eta = eta
        # Seeded by the seed alone, so the "weather" continues across granule boundaries.
        self.smooth = {
            name: WaveField.from_seed([lo.seed, k], n, wavenumbers)
            for k, (name, n, wavenumbers) in enumerate(
                (("sst", 6, (6, 40)), ("chl", 6, (8, 60)), ("cloud", 12, (40, 400))))
        }
        self.cloud_at = NormalDist().inv_cdf(1.0 - lo.cloud_fraction) if lo.cloud_fraction else 9.0
        self.key = round((lo.start - UNIX_EPOCH).total_seconds() * 1000)

    def block(
        self, l0: int, p0: int, x: np.ndarray, y: np.ndarray, z: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Return the stored arrays of every grid variable for one chunk."""
        lo = self.lo
        rng = np.random.default_rng([lo.seed, self.key, l0, p0])
        lat, lon = xyz_to_latlon(x, y, z)
        shape = x.shape
        z2 = (z * z).astype(np.float32)
        if lo.incompressible:
            # Random bits in every data variable and scattered (not clustered) cloud fill:
            # every chunk then compresses alike, so file sizes are predictable.
            cloudy = rng.random(shape, dtype=np.float32) < lo.cloud_fraction
            sst = rng.integers(-1000, 10001, shape, dtype=np.int16)
            chl = np.exp(rng.uniform(math.log(0.01), math.log(100.0), shape)).astype(np.float32)
            ql = rng.integers(1, 6, shape, dtype=np.int8)
        else:
            cloud = self.smooth["cloud"].sample(x, y, z)
            cloudy = cloud > self.cloud_at
            sst_c = -1.8 + 30.0 * (1.0 - z2) + 2.0 * self.smooth["sst"].sample(x, y, z)
            sst_c += rng.standard_normal(shape, dtype=np.float32) * 0.05
            sst = np.round(np.clip(sst_c, -2.0, 35.0) / SST_SCALE).astype(np.int16)
            log_chl = -1.3 + 1.5 * z2 + 0.5 * self.smooth["chl"].sample(x, y, z)
            log_chl += rng.standard_normal(shape, dtype=np.float32) * 0.02
            chl = np.clip(np.power(np.float32(10.0), log_chl), 0.001, 100.0).astype(np.float32)
            ql = np.full(shape, 5, dtype=np.int8)
            edge = np.abs(self.eta[p0 : p0 + shape[1]]) > math.radians(45.0)
            ql[:, edge] = 4
            ql[cloud > self.cloud_at - 0.4] = 3  # cloud edges
        ql[cloudy] = 1
        sst[cloudy] = FILL_SST
        chl[cloudy] = FILL_F32
        out = {"latitude": lat.astype(np.float32), "longitude": lon.astype(np.float32),
               "sst": sst, "chlor_a": chl, "quality_level": ql}
        for i, wl in enumerate(RRS_WAVELENGTHS[: lo.extra_bands]):
            out[f"Rrs_{wl}"] = self._rrs(i, chl, rng)
            out[f"Rrs_{wl}"][cloudy] = FILL_F32
        self._fill_edges(out, p0, shape[1])
        return out

    def _rrs(self, band: int, chl: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return a reflectance band: bluer bands darken as chlorophyll rises."""
        if self.lo.incompressible:
            return rng.uniform(0.0, 0.02, chl.shape).astype(np.float32)
        base = 0.010 * (0.8 ** band)
        slope = 0.5 - 0.07 * band
        rrs = base * np.power(np.maximum(chl, 0.01), -slope, dtype=np.float32)
        rrs += rng.standard_normal(chl.shape, dtype=np.float32) * np.float32(2e-5)
        return rrs.astype(np.float32)

    def _fill_edges(self, out: dict[str, np.ndarray], p0: int, width: int) -> None:
        """Set every variable to its fill value in the optional dead edge columns."""
        k, n = self.lo.edge_fill_columns, self.lo.n_pixels
        if not k:
            return
        cols = np.arange(p0, p0 + width)
        dead = (cols < k) | (cols >= n - k)
        for name, arr in out.items():
            fill = {"sst": FILL_SST, "quality_level": FILL_QL}.get(name, FILL_F32)
            arr[:, dead] = FILL_GEO if name in ("latitude", "longitude") else fill

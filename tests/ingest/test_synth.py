"""The synthetic swath generator: orbit geometry, file layout, sizes, reproducibility, memory."""

from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from django.core.management import call_command
from pyproj import Geod

from ingest.orbit import Orbit
from ingest.synth import SynthInfo, generate, granule_name, parse_size, write_swath

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> list[SynthInfo]:
    """A whole day of small 5-minute granules (288 files, about 64 kB each)."""
    return generate(tmp_path_factory.mktemp("day"), count=288, size="64KB", seed=0)


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> SynthInfo:
    """One granule at MODIS sampling, 1 minute long."""
    path = tmp_path_factory.mktemp("native") / "one.nc"
    return write_swath(path, seed=3, start="2024-03-05T10:00:00Z", duration_s=60)


def read(path: Path, name: str) -> np.ndarray:
    """Return a variable's values with fill masked."""
    with netCDF4.Dataset(path) as ds:
        return ds[name][:]


def read_latlon(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return (latitude, longitude) from navigation_data as plain float64 arrays."""
    with netCDF4.Dataset(path) as ds:
        nav = ds["navigation_data"]
        nav.set_auto_mask(False)
        return (nav["latitude"][:].astype(np.float64), nav["longitude"][:].astype(np.float64))


def ring_winding(lon: np.ndarray) -> int:
    """Return how many times the boundary of a lat/lon grid winds around a pole."""
    ring = np.concatenate([lon[0, :], lon[1:, -1], lon[-1, -2::-1], lon[-2::-1, 0]])
    step = (np.diff(ring.astype(np.float64)) + 180.0) % 360.0 - 180.0
    return round(step.sum() / 360.0)


def test_same_seed_and_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    kwargs = {"seed": 5, "start": "2024-06-01T12:00:00Z", "target_bytes": "1MB"}
    a = write_swath(tmp_path / "a" / "x.nc", checksum=True, **kwargs)
    b = write_swath(tmp_path / "b" / "x.nc", checksum=True, **kwargs)
    c = write_swath(tmp_path / "c" / "x.nc", checksum=True, **{**kwargs, "seed": 6})
    assert a.sha256 == b.sha256
    assert (tmp_path / "a" / "x.nc").read_bytes() == (tmp_path / "b" / "x.nc").read_bytes()
    assert c.sha256 != a.sha256


def test_orbit_period_is_about_99_minutes_and_inclination_98_2_degrees() -> None:
    orbit = Orbit.from_seed(0)
    assert 98.5 < orbit.period_s / 60 < 99.2
    t = np.arange(0.0, orbit.period_s, 1.0)
    lat, _ = orbit.subsatellite(t)
    assert lat.max() == pytest.approx(81.8, abs=0.05)
    assert lat.min() == pytest.approx(-81.8, abs=0.05)


def test_ground_track_moves_west_about_24_7_degrees_per_orbit() -> None:
    orbit = Orbit.from_seed(1)
    nodes = np.arange(4) * orbit.period_s
    lat, lon = orbit.subsatellite(nodes)
    assert np.abs(lat).max() < 1e-9
    shift = (np.diff(lon) + 180.0) % 360.0 - 180.0
    assert shift == pytest.approx([-24.72] * 3, abs=0.05)


def test_ascending_node_keeps_its_local_time_of_13_30() -> None:
    orbit = Orbit.from_seed(2)
    for k in (0, 1000, 50_000):
        t = k * orbit.period_s
        _, lon = orbit.subsatellite(np.array([t]))
        when = orbit.epoch + timedelta(seconds=t)
        ut = when.hour + when.minute / 60 + when.second / 3600
        assert (ut + lon[0] / 15.0) % 24 == pytest.approx(13.5, abs=1e-3)


def test_latitudes_and_longitudes_are_in_range_and_never_fill(native: SynthInfo) -> None:
    lat = read(native.path, "navigation_data/latitude")
    lon = read(native.path, "navigation_data/longitude")
    assert lat.shape == lon.shape == (native.n_lines, native.n_pixels) == (406, 1354)
    assert np.ma.count_masked(lat) == np.ma.count_masked(lon) == 0
    assert lat.min() >= -90 and lat.max() <= 90
    assert lon.min() >= -180 and lon.max() <= 180
    assert native.lat_min <= lat.min() and lat.max() <= native.lat_max


def test_swath_is_about_2330_km_wide(native: SynthInfo) -> None:
    lat = read(native.path, "navigation_data/latitude")
    lon = read(native.path, "navigation_data/longitude")
    mid = native.n_lines // 2
    _, _, width_m = Geod(ellps="WGS84").inv(lon[mid, 0], lat[mid, 0], lon[mid, -1], lat[mid, -1])
    assert width_m / 1000 == pytest.approx(2330, rel=0.05)


def test_pixels_grow_toward_the_swath_edges_like_modis(native: SynthInfo) -> None:
    lat = read(native.path, "navigation_data/latitude")[100].astype(np.float64)
    lon = read(native.path, "navigation_data/longitude")[100].astype(np.float64)
    geod = Geod(ellps="WGS84")
    _, _, nadir = geod.inv(lon[676], lat[676], lon[677], lat[677])
    _, _, edge = geod.inv(lon[0], lat[0], lon[1], lat[1])
    assert nadir == pytest.approx(1000, rel=0.1)
    assert 4 < edge / nadir < 6


def test_file_has_modis_l2_groups_cf_units_and_acdd_attributes(native: SynthInfo) -> None:
    with netCDF4.Dataset(native.path) as ds:
        assert set(ds.groups) >= {"navigation_data", "geophysical_data", "scan_line_attributes"}
        assert ds.Conventions == "CF-1.8, ACDD-1.3"
        assert ds.platform == "Aqua" and ds.instrument == "MODIS"
        assert ds.processing_level == "L2"
        assert ds.id == granule_name(native.start).removesuffix(".nc")
        assert ds.time_coverage_start == "2024-03-05T10:00:00.000Z"
        assert ds.time_coverage_end == "2024-03-05T10:01:00.000Z"
        assert int(ds.orbit_number) == native.orbit
        assert ds.startDirection in ("Ascending", "Descending")
        assert ds.geospatial_lat_min == native.lat_min
        assert "2024-03-05" in ds.history and "seed=3" in ds.history
        lat = ds["navigation_data/latitude"]
        assert lat.dtype == np.float32 and lat.dimensions == ("number_of_lines",
                                                              "pixels_per_line")
        assert (lat.standard_name, lat.units, lat.valid_max) == ("latitude", "degrees_north", 90)
        assert lat._FillValue == -999.0
        lon = ds["navigation_data/longitude"]
        assert (lon.standard_name, lon.units) == ("longitude", "degrees_east")
        time = ds["scan_line_attributes/time"]
        assert time.units == "seconds since 1970-01-01T00:00:00Z"
        assert netCDF4.num2date(time[0], time.units, only_use_cftime_datetimes=False,
                                only_use_python_datetimes=True) == datetime(2024, 3, 5, 10)
        sst = ds["geophysical_data/sst"]
        assert sst.dtype == np.int16 and sst.scale_factor == np.float32(0.005)
        assert sst.units == "degree_C" and sst._FillValue == -32767
        assert sst[:].min() >= -2 and sst[:].max() <= 35  # unpacked on read
        chl = ds["geophysical_data/chlor_a"]
        assert chl.dtype == np.float32 and chl.units == "mg m^-3"
        assert ds["geophysical_data/quality_level"].dtype == np.int8
        assert lat.chunking() == [203, 1354]  # 406 lines in two even chunks
        assert lat.filters()["zlib"] and lat.filters()["shuffle"]


def test_a_few_percent_of_pixels_are_cloud_masked(native: SynthInfo) -> None:
    sst = read(native.path, "geophysical_data/sst")
    quality = read(native.path, "geophysical_data/quality_level")
    cloudy = np.ma.getmaskarray(sst)
    assert 0.005 < cloudy.mean() < 0.2
    assert (quality[cloudy] == 1).all()
    assert np.ma.getmaskarray(read(native.path, "geophysical_data/chlor_a"))[cloudy].all()


def test_edge_fill_columns_are_fill_in_every_variable(tmp_path: Path) -> None:
    info = write_swath(tmp_path / "e.nc", seed=1, start="2024-01-01", duration_s=20,
                       n_pixels=200, edge_fill_columns=3)
    for name in ("navigation_data/latitude", "navigation_data/longitude",
                 "geophysical_data/sst", "geophysical_data/quality_level"):
        mask = np.ma.getmaskarray(read(info.path, name))
        assert mask[:, :3].all() and mask[:, -3:].all(), name
    assert not np.ma.getmaskarray(read(info.path, "navigation_data/latitude"))[:, 3:-3].any()


@pytest.mark.parametrize("size", ["1MB", "20MB"])
@pytest.mark.parametrize("incompressible", [False, True])
def test_target_size_is_met_within_15_percent(
    tmp_path: Path, size: str, incompressible: bool
) -> None:
    info = write_swath(tmp_path / "s.nc", seed=2, start="2024-02-01T06:00",
                       target_bytes=size, incompressible=incompressible)
    assert info.size == (tmp_path / "s.nc").stat().st_size
    assert info.size == pytest.approx(parse_size(size), rel=0.15)
    assert list(tmp_path.iterdir()) == [tmp_path / "s.nc"]  # no probe or .part left


def test_uncompressed_size_is_met_within_1_percent(tmp_path: Path) -> None:
    info = write_swath(tmp_path / "s.nc", seed=2, start="2024-02-01", target_bytes="5MB",
                       compression=None)
    assert info.size == pytest.approx(5e6, rel=0.01)


def test_a_days_run_has_antimeridian_and_polar_granules(day: list[SynthInfo]) -> None:
    crossing = [i for i in day if i.crosses_antimeridian and not i.over_pole]
    north = [i for i in day if i.over_pole and i.lat_max == 90]
    south = [i for i in day if i.over_pole and i.lat_min == -90]
    assert len(crossing) >= 10
    # Two pole passes per orbit, 14.56 orbits a day; a pass can fall between the last
    # line of one granule and the first of the next.
    assert 13 <= len(north) <= 15 and 13 <= len(south) <= 15  # one may fall in a gap


def test_granule_flags_agree_with_the_written_coordinates(day: list[SynthInfo]) -> None:
    for info in day:
        lat, lon = read_latlon(info.path)
        winds = ring_winding(lon) != 0
        jumps = bool((np.abs(np.diff(lon, axis=0)) > 180).any()
                     or (np.abs(np.diff(lon, axis=1)) > 180).any())
        assert winds == info.over_pole, info.path.name
        assert jumps == info.crosses_antimeridian, info.path.name
        if info.over_pole:
            assert np.abs(lat).max() > 89.5
        elif info.crosses_antimeridian:
            assert info.lon_min > info.lon_max
            assert ((lon >= info.lon_min - 1e-4) | (lon <= info.lon_max + 1e-4)).all()
        else:
            assert info.lon_min - 1e-4 <= lon.min() and lon.max() <= info.lon_max + 1e-4


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_two_hours_from_the_default_start_cross_the_antimeridian_and_both_poles(
    tmp_path: Path, seed: int
) -> None:
    infos = generate(tmp_path, count=24, size="64KB", seed=seed)
    assert any(i.crosses_antimeridian and not i.over_pole for i in infos[:4])
    assert any(i.over_pole and i.lat_max == 90 for i in infos)
    assert any(i.over_pole and i.lat_min == -90 for i in infos)


def test_times_are_monotonic_and_consecutive_granules_contiguous(day: list[SynthInfo]) -> None:
    assert day[0].start == datetime(2024, 1, 1, tzinfo=UTC)
    assert day[-1].end == datetime(2024, 1, 2, tzinfo=UTC)
    previous_next = None
    for info in day[:30]:
        t = read(info.path, "scan_line_attributes/time").astype(np.float64)
        step = np.diff(t)
        assert (step > 0).all() and np.ptp(step) < 1e-5
        if previous_next is not None:
            assert t[0] == pytest.approx(previous_next, abs=1e-5)
        previous_next = t[-1] + step[0]
        assert previous_next == pytest.approx(info.end.timestamp(), abs=1e-5)
    for a, b in zip(day, day[1:], strict=False):
        assert a.end == b.start
        assert b.orbit - a.orbit in (0, 1)
    assert day[-1].orbit - day[0].orbit in (14, 15)


def test_granules_are_named_after_their_start_time(day: list[SynthInfo]) -> None:
    assert day[1].path.name == "SYNTH_MODIS_A.20240101T000500.L2.OC.nc"
    assert len({i.path.name for i in day}) == len(day)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1MB", 10**6), ("50MB", 5 * 10**7), ("2GB", 2 * 10**9), ("512KiB", 524288),
     ("1.5 GiB", 3 * 2**29), ("100", 100), ("7kb", 7000)],
)
def test_sizes_parse_in_si_and_binary_units(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "5 parsecs", "-1MB"])
def test_it_rejects_sizes_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


def test_it_rejects_impossible_layouts(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_swath(tmp_path / "x.nc", seed=0, start="2024-01-01", n_pixels=1)
    with pytest.raises(ValueError):
        write_swath(tmp_path / "x.nc", seed=0, start="2024-01-01", compression="lzma")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_memory_stays_bounded_while_writing_300_mb(tmp_path: Path) -> None:
    # The child reports its own peak (VmHWM): RUSAGE_CHILDREN here would count every child
    # of the test session, and a child's ru_maxrss starts at the RSS of the forked parent.
    script = textwrap.dedent(f"""
        import re
        from ingest.synth import write_swath
        info = write_swath({str(tmp_path / "big.nc")!r}, seed=1, start="2024-01-01",
                           target_bytes="300MB", incompressible=True, compression=None)
        with open("/proc/self/status") as f:
            peak_kib = int(re.search(r"VmHWM:\\s*(\\d+) kB", f.read()).group(1))
        print(info.size, peak_kib * 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    size, peak = map(int, out.split())
    assert size == pytest.approx(300e6, rel=0.05)
    assert peak < 160 * 2**20, f"peak RSS {peak / 2**20:.0f} MiB"
    assert peak < size / 2


def test_command_lists_granules_and_which_cross_or_pass_a_pole(tmp_path: Path) -> None:
    pytest.importorskip("django")
    from django.apps import apps

    if not apps.ready:
        pytest.skip("Django is not set up (run under pytest-django)")
    from django.core.management import call_command

    out = io.StringIO()
    call_command("synth", str(tmp_path), count=24, size="64KB", start="2024-01-01",
                 seed=0, stdout=out)
    text = out.getvalue()
    assert text.count("SYNTH_MODIS_A.20240101T") >= 24
    assert "synth: wrote 24 granules" in text
    assert "2024-01-01T00:00:00Z .. 2024-01-01T02:00:00Z" in text
    assert " pole" in text and " antimeridian" in text
    assert len(list(tmp_path.glob("*.nc"))) == 24


def test_scanner_looks_55_degrees_off_nadir_like_modis() -> None:
    orbit = Orbit.from_seed(0)
    assert math.degrees(orbit.max_scan_angle) == pytest.approx(55.0, abs=0.1)


def test_sigterm_finishes_the_granule_in_hand_then_stops(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"

    def terminate_after_the_first_granule() -> None:
        deadline = time.monotonic() + 60
        while not list(out.glob("*.nc")):
            if time.monotonic() > deadline:
                return  # the assertions below say what went wrong
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    killer = threading.Thread(target=terminate_after_the_first_granule)
    killer.start()
    # More granules than are written before the signal comes: the command must stop early.
    call_command("synth", str(out), "--count", "30", "--size", "native",
                 "--granule-minutes", "1")
    killer.join()
    assert 1 <= len(list(out.glob("*.nc"))) < 30
    assert not list(out.glob("*.part"))  # the granule in hand was finished, not left half
    assert "synth: stopped early on SIGTERM" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGTERM) is before

"""Valid-data coverage of the 13 real granules, checked against a pixel-exact oracle.

The oracle (tests/support/coverage_oracle.py) reads the main variable and its latitude and
longitude on its own (netCDF4's mask-and-scale) and counts every pixel; the coverage is
what ingest stores (ingest.readers -> SwathMetadata.coverage).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

import ingest.validdata
from ingest.coverage import Coverage, region_fraction, region_weights, whole_fraction
from ingest.geoloc import GeoPair, VarRef
from ingest.metadata import SwathMetadata
from ingest.readers import read_metadata
from ingest.validdata import measure_granule
from tests.support.coverage_oracle import Pixels, random_regions, read_pixels

SWATHS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "swaths"
FILES = sorted(p.name for p in SWATHS.glob("*") if p.name != "README.md")
EMPTY = "ascat_20211220_231800_metopb_48038_eps_o_250_3202_ovw.l2.nc4"
MAIN = {  # the main variable each granule's coverage is measured on
    "ATL03_gt1l.h5": "/gt1l/heights/h_ph",
    "CS_LTA__SIR_SAR_2__20191005T151255_20191005T151621_E001.nc": "/echo_avg_numval_20_ku",
    "GPM_test_file.HDF5": "/FS/SLV/precipWater",
    "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc": "/alt_20hz",
    "MLS-Aura_L2GP-CO_v05-01-c01_2021d043.he5": "/HDFEOS/SWATHS/CO/Data Fields/L2gpValue",
    "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc":
        "/data_01/ku/ssha",
    "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc": "/sea_surface_temperature",
    "SS_MODIS_A-JPL-L2P-v2014.0.nc": "/sea_surface_temperature",
    "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc": "/sea_surface_temperature",
    "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc": "/wind_speed",
    "processed_ATL07-01_20190222003738_08490201_003_02.h5":
        "/gt3l/sea_ice_segments/heights/height_segment_height",
    "test_var_subsetting_tropomi_S5P_OFFL_L2__CH4____20190319T110835_20190319T125006_07407_"
    "01_010202_20190325T125810_subset.nc4": "/PRODUCT/methane_mixing_ratio",
}


@cache
def metadata(name: str) -> SwathMetadata:
    return read_metadata(SWATHS / name)


@cache
def pixels(name: str) -> Pixels:
    return read_pixels(SWATHS / name, metadata(name).geolocation["coverage"]["variables"])


def coverage(name: str) -> Coverage:
    blob = metadata(name).coverage
    assert blob is not None, metadata(name).geolocation["coverage"]
    return Coverage.decode(blob)


@pytest.mark.parametrize("name", sorted(MAIN))
def test_a_granule_with_a_main_variable_gets_a_small_coverage(name: str) -> None:
    cov = coverage(name)
    account = metadata(name).geolocation["coverage"]
    assert account["variable"] == MAIN[name]
    assert cov.resolution in (3, 4)
    assert account["cells"] == len(cov.cells) > 0
    assert len(metadata(name).coverage or b"") == 8 + 8 * len(cov.cells) <= 48_000


def test_the_empty_granule_has_no_coverage_and_no_warning_about_it() -> None:
    meta = metadata(EMPTY)
    assert meta.coverage is None
    assert "no geolocated pixel" in meta.geolocation["coverage"]["reason"]
    assert not any("coverage" in w for w in meta.geolocation["warnings"])


def test_every_beam_and_swath_of_a_multi_group_granule_counts() -> None:
    atl07 = metadata("processed_ATL07-01_20190222003738_08490201_003_02.h5")
    beams = {m["variable"].split("/")[1] for m in atl07.geolocation["coverage"]["variables"]}
    assert beams == {"gt1l", "gt1r", "gt2l", "gt3l", "gt3r"}  # gt2r has no sea_ice_segments
    gpm = metadata("GPM_test_file.HDF5")
    assert [m["variable"] for m in gpm.geolocation["coverage"]["variables"]] == [
        "/FS/SLV/precipWater", "/HS/SLV/precipWater"]


@pytest.mark.parametrize("name", sorted(MAIN))
def test_the_whole_swath_fraction_is_the_pixel_exact_one(name: str) -> None:
    px = pixels(name)
    exact = float(px.valid.sum()) / len(px.lon)
    assert whole_fraction(coverage(name)) == pytest.approx(exact, abs=0.002)


def test_a_sampled_granule_keeps_its_valid_fraction(monkeypatch: pytest.MonkeyPatch) -> None:
    # Past MAX_POINTS a regular stride samples the grid: VIIRS's 1 M pixels cut to 50 k.
    name = "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc"
    monkeypatch.setattr(ingest.validdata, "MAX_POINTS", 20_000)
    meta = read_metadata(SWATHS / name)
    account = meta.geolocation["coverage"]
    assert account["sampled"] <= 20_000 < account["points"]
    sampled = Coverage.decode(meta.coverage or b"")
    assert whole_fraction(sampled) == pytest.approx(whole_fraction(coverage(name)), abs=0.01)


def test_a_failure_to_measure_is_a_reason_not_an_error() -> None:
    def broken(key: tuple) -> np.ndarray:
        raise OSError("HDF5 error: can't read data (inflate() failed)")

    lat = VarRef("/lat", (4, 30), "float32", {}, ("y", "x"), lambda: np.zeros((4, 30)))
    lon = VarRef("/lon", (4, 30), "float32", {}, ("y", "x"), lambda: np.zeros((4, 30)))
    sst = VarRef("/sst", (4, 30), "int16", {}, ("y", "x"), lambda: np.zeros((4, 30)),
                 _read_part=broken)
    pair = GeoPair(lat, lon, "swath2d")
    grid = np.zeros((4, 30))
    measured = measure_granule([lat, lon, sst], [(pair, grid, grid)])
    assert measured.coverage is None
    assert measured.reason.startswith("coverage failed: OSError: HDF5 error")


def test_regions_over_the_granules_meet_the_recall_and_false_positive_targets() -> None:
    # A small, seeded version of benchmarks/coverage_accuracy.py: a region is '>= 50 %
    # valid' by the oracle's pixel count, and by region_fraction from the stored blob.
    rng = np.random.default_rng(2023)
    hits = {"tp": 0, "fn": 0, "fp": 0, "tn": 0}
    for name in sorted(MAIN):
        cov = coverage(name)
        px = pixels(name)
        for region in random_regions(px, 30, rng):
            valid, total = px.fraction(region)
            truth = total > 0 and valid / total >= 0.5
            estimate = region_fraction(cov, region_weights(region, cov.resolution))
            said = estimate is not None and estimate >= 0.5
            hits[("t" if said == truth else "f") + ("p" if said else "n")] += 1
    recall = hits["tp"] / (hits["tp"] + hits["fn"])
    false_positive_rate = hits["fp"] / (hits["fp"] + hits["tn"])
    assert hits["tp"] > 100 and hits["tn"] > 100, hits
    assert recall >= 0.99, hits
    assert false_positive_rate <= 0.01, hits

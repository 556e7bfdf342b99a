"""Estimates (subset.estimate) against real cuts of the 13 shared granules.

Each granule is put in a local-directory store and cut by ranges as a worker cuts it;
the estimate must be within 10 % of the bytes the cut read (a NetCDF3 object is
downloaded whole: its bytes read are the object's size, exact) and of the file written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.local import LocalStore
from eo.formats import recognise
from subset import kernel
from subset.errors import SourceError
from subset.estimate import estimate_cut
from subset.region import parse_bbox

# A box over the middle third of each granule's track (its pixels' lon/lat bounds).
REGIONS = {
    "ATL03_gt1l.h5": "95.1058,87.2959,95.1443,87.2975",
    "CS_LTA__SIR_SAR_2__20191005T151255_20191005T151621_E001.nc":
        "-7.22163,78.3991,-1.43085,82.4322",
    "GPM_test_file.HDF5": "-58.4133,-64.6144,-39.6076,-58.301",
    "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc":
        "-93.4556,-38.7754,-76.8442,-2.24279",
    "MLS-Aura_L2GP-CO_v05-01-c01_2021d043.he5": "-53.6838,-81.7811,-56.9408,81.781",
    "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc":
        "-23.3181,61.7905,-1.75491,65.6667",
    "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc": "-72.59,-56.36,-42.25,-17.9",
    "SS_MODIS_A-JPL-L2P-v2014.0.nc": "74.6387,43.5236,86.35,49.6842",
    "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc": "-168.811,63.1977,-143.977,73.3308",
    "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc":
        "-38.2179,-65.8209,27.7974,56.154",
    "test_var_subsetting_tropomi_S5P_OFFL_L2__CH4____20190319T110835_20190319T125006_"
    "07407_01_010202_20190325T125810_subset.nc4": "0,0,30,30",
    "processed_ATL07-01_20190222003738_08490201_003_02.h5": "-70,60,-50,75",
}
EMPTY = "ascat_20211220_231800_metopb_48038_eps_o_250_3202_ovw.l2.nc4"


def by_ranges(store: LocalStore, key: str, path: Path, block: int, fn: object) -> tuple:
    """Run fn(source) as a worker would open the object; return (its result, bytes read)."""
    with store.open_ranged(key, block_size=block, cache_blocks=100_000) as ranged:
        if recognise(ranged) == "hdf5":
            return fn(ranged), ranged.bytes_read  # type: ignore[operator]
        return fn(path), path.stat().st_size  # type: ignore[operator]


@pytest.mark.parametrize("block", [kernel.RANGED_BLOCK, 8192])
@pytest.mark.parametrize("name", sorted(REGIONS))
def test_an_estimate_is_within_ten_percent_of_what_a_cut_reads_and_writes(
        shared_swaths: Path, tmp_path: Path, name: str, block: int) -> None:
    store = LocalStore(tmp_path / "store", fsync=False)
    store.put(name, shared_swaths / name)
    region = parse_bbox(REGIONS[name])
    cut, read = by_ranges(store, name, shared_swaths / name, block,
                          lambda src: kernel.subset(src, region, tmp_path / "out.nc"))
    estimate, _ = by_ranges(store, name, shared_swaths / name, block,
                            lambda src: estimate_cut(src, region))
    with open(shared_swaths / name, "rb") as f:
        is_hdf5 = recognise(f) == "hdf5"
    est_read = estimate.bytes_read if is_hdf5 else (shared_swaths / name).stat().st_size
    assert abs(est_read - read) <= 0.1 * read, (est_read, read)
    assert abs(estimate.bytes_written - cut.size) <= 0.1 * cut.size, (
        estimate.bytes_written, cut.size)
    assert estimate.n_selected == cut.n_selected


def test_an_estimate_of_a_region_without_pixels_is_empty(shared_swaths: Path) -> None:
    name = "SS_MODIS_A-JPL-L2P-v2014.0.nc"
    estimate = estimate_cut(shared_swaths / name, parse_bbox("-10,-10,10,10"))
    assert estimate.empty and estimate.bytes_written == 0 and estimate.n_selected == 0


def test_an_estimate_refuses_what_a_cut_refuses(shared_swaths: Path) -> None:
    with pytest.raises(SourceError):
        estimate_cut(shared_swaths / EMPTY, parse_bbox("-10,-10,10,10"))

"""Platform, instrument, level and orbit numbers from attributes and naming conventions."""

from __future__ import annotations

from pathlib import Path

import pytest

from eo.identify import Identity, canonical_platform, identify, normalise_level
from eo.missions import INSTRUMENTS, PLATFORMS, squash
from ingest.readers import read_metadata


def test_every_spelling_in_the_tables_stands_for_one_platform_or_instrument_only() -> None:
    seen: dict[str, str] = {}
    for p in PLATFORMS:
        for alias in {squash(a) for a in (p.name, *p.aliases)}:
            assert seen.setdefault(alias, p.name) == p.name, alias
    names: dict[str, str] = {}
    for name, aliases in INSTRUMENTS.items():
        for alias in {squash(a) for a in (name, *aliases)}:
            assert names.setdefault(alias, name) == name, alias
    for p in PLATFORMS:
        assert p.name == p.name.lower() and " " not in p.name
        assert not p.instrument or p.instrument in INSTRUMENTS, p


@pytest.mark.parametrize(("attrs", "platform", "constellation", "instrument"), [
    ({"platform": "ICESat-2 > Ice, Cloud, and land Elevation Satellite-2",
      "instrument": "ATLAS > Advanced Topographic Laser Altimeter System"},
     "icesat-2", None, "atlas"),
    ({"mission_name": "Sentinel-6A", "altimeter_sensor_name": "Poseidon-4A"},
     "sentinel-6a", "sentinel-6", "poseidon-4"),
    ({"platform": "NPP", "sensor": "VIIRS"}, "suomi-npp", "jpss", "viirs"),
    ({"SatelliteName": "METOP-C", "InstrumentName": "IASI"}, "metop-c", "metop", "iasi"),
    ({"platform": "Aqua", "sensor": "MODIS"}, "aqua", None, "modis"),
    ({"mission": "Cryosat"}, "cryosat-2", None, "siral"),  # its one instrument
    ({"platform": "S5P", "sensor": "TROPOMI"}, "sentinel-5p", None, "tropomi"),
    ({"platform": "JPSS-1"}, "noaa-20", "jpss", None),
])
def test_attributes_name_the_platform_in_stac_form(attrs: dict, platform: str,
                                                   constellation: str | None,
                                                   instrument: str | None) -> None:
    found = identify(attrs, ["granule.nc"])
    assert (found.platform, found.constellation, found.instrument) == (
        platform, constellation, instrument)


@pytest.mark.parametrize(("name", "expected"), [
    ("ascat_20211220_231800_metopb_48038_eps_o_250_3202_ovw.l2.nc4",
     Identity("metop-b", "metop", "ascat", "L2", absolute_orbit=48038)),
    ("ASCA_SZR_1B_M02_20150702084200Z_20150702102359Z_N_O_20150702102216Z.nat",
     Identity("metop-a", "metop", "ascat", "L1B")),
    ("S6B_P4_2__LR______20250101T000000_20250101T010000_20250101T020000_3600_010_123_061_EUM__"
     "OPE_ST_F09.SEN6", Identity("sentinel-6b", "sentinel-6", "poseidon-4", "L2",
                                 orbit_cycle=10, pass_number=123)),
    ("S3B_SR_2_WAT____20200101T101010_20200101T102010_20200101T120000_0600_034_065______MAR_O_"
     "NR_004.SEN3", Identity("sentinel-3b", "sentinel-3", "sral", "L2", relative_orbit=65,
                             orbit_cycle=34)),
    ("S1A_IW_GRDH_1SDV_20200101T000000_20200101T000025_030606_0381A7_1234.SAFE",
     Identity("sentinel-1a", "sentinel-1", "c-sar", "L1", absolute_orbit=30606)),
    ("S2B_MSIL2A_20200101T101010_N0213_R022_T32TQM_20200101T120000.SAFE",
     Identity("sentinel-2b", "sentinel-2", "msi", "L2A", relative_orbit=22)),
    ("S5P_NRTI_L1B_RA_BD3_20200101T000000_20200101T010000_11500_01_010000_20200101T020000.nc",
     Identity("sentinel-5p", None, "tropomi", "L1B", absolute_orbit=11500)),
    ("CS_OFFL_SIR_SIN_1B_20200101T000000_20200101T000500_E001.nc",
     Identity("cryosat-2", None, "siral", "L1B")),
    ("JA3_GPN_2PfP150_071_20200101_000000_20200101_010000.nc",
     Identity("jason-3", None, "poseidon-3b", "L2", orbit_cycle=150, pass_number=71)),
    ("SRL_GPN_2PfP100_200_20160101_000000_20160101_010000.nc",
     Identity("saral", None, "altika", "L2", orbit_cycle=100, pass_number=200)),
    ("SWOT_L2_LR_SSH_Expert_008_497_20231231T221152_20231231T230320_PIC0_01.nc",
     Identity("swot", None, None, "L2", orbit_cycle=8, pass_number=497)),
    ("ATL06_20190222003738_08490202_006_02.h5",
     Identity("icesat-2", None, "atlas", "L3A", relative_orbit=849, orbit_cycle=2)),
    ("2A.GPM.DPR.V9-20211125.20210220-S093541-E110815.039665.V07A.HDF5",
     Identity("gpm", None, "dpr", "L2A", absolute_orbit=39665)),
    ("1C.GCOMW1.AMSR2.XCAL2016-V.20200101-S000000-E010000.040000.V07A.HDF5",
     Identity("gcom-w1", None, "amsr2", "L1C", absolute_orbit=40000)),
    ("MYD06_L2.A2019001.0000.061.2019001123456.hdf", Identity("aqua", None, "modis", "L2")),
    ("VJ102MOD.A2020001.0000.002.2020001123456.nc", Identity("noaa-20", "jpss", "viirs")),
    ("AQUA_MODIS.20190101T000000.L2.OC.nc", Identity("aqua", None, "modis", "L2")),
    ("20190101000000-JPL-L2P_GHRSST-SSTskin-MODIS_T-D-v02.0-fv01.0.nc",
     Identity("terra", None, "modis", "L2P")),
    ("20200101000000-OSPO-L2P_GHRSST-SSTsubskin-VIIRS_N20-ACSPO_V2.61-v02.0-fv01.0.nc",
     Identity("noaa-20", "jpss", "viirs", "L2P")),
    ("OR_ABI-L2-CMIPF-M6C13_G16_s20190010000000_e20190010009000_c20190010009000.nc",
     Identity("goes-16", "goes", "abi", "L2")),
    ("NC_H08_20150707_0000_R21_FLDK.02401_02401.nc", Identity("himawari-8", "himawari", "ahi")),
    ("SMAP_L2_SM_P_25000_D_20190101T000000_R16020_001.h5",
     Identity("smap", None, None, "L2", absolute_orbit=25000)),
    ("OMI-Aura_L2-OMNO2_2019m0101t0000-o77000_v003-2019m0101t120000.he5",
     Identity("aura", None, "omi", "L2")),
    ("GW1AM2_201207031905_134D_L2SGSSTLB3300300.h5", Identity("gcom-w1", None, "amsr2", "L2")),
])
def test_naming_conventions_identify_granules_whose_attributes_say_nothing(
        name: str, expected: Identity) -> None:
    assert identify({}, [name]) == expected


def test_a_prefix_added_by_a_subsetting_tool_does_not_hide_the_convention() -> None:
    found = identify({}, ["SS_processed_ATL07-01_20190222003738_08490201_003_02.h5"])
    assert (found.platform, found.relative_orbit, found.orbit_cycle) == ("icesat-2", 849, 2)


def test_the_title_names_the_platform_when_no_attribute_or_name_does() -> None:
    found = identify({"title": "MetOp-A ASCAT Level 2 25.0 km Ocean Surface Wind Vector Product"},
                     ["winds.nc"])
    assert (found.platform, found.instrument) == ("metop-a", "ascat")


def test_attributes_win_over_the_file_name() -> None:
    found = identify({"platform": "Metop-C", "cycle_number": 7}, ["ascat_20211220_231800_metopb_"
                                                                 "48038_eps_o_250_3202_ovw.l2.nc"])
    assert (found.platform, found.orbit_cycle, found.absolute_orbit) == ("metop-c", 7, 48038)


def test_an_unknown_platform_is_kept_lowercased_and_hyphenated() -> None:
    found = identify({"platform": "Foo Sat 1 > an experimental satellite",
                      "sensor": "Wide Imager"}, ["x.nc"])
    assert (found.platform, found.constellation, found.instrument) == (
        "foo-sat-1", None, "wide-imager")
    # the file's own word comes before a guess from the title or the platform's main one
    found = identify({"platform": "Bar-2", "mission": "CryoSat", "sensor": "Radar X",
                      "title": "Aqua MODIS"}, ["y.nc"])
    assert (found.platform, found.instrument) == ("cryosat-2", "radar-x")
    assert identify({"platform": "Bar-2", "title": "Aqua MODIS"}, ["y.nc"]).platform == "bar-2"


def test_the_icesat2_product_sets_the_level_over_the_files_own_attribute() -> None:
    attrs = {"short_name": "ATL07", "processing_level": "2A", "level": "L3A"}
    assert identify(attrs, ["any.h5"]).processing_level == "L3A"
    assert identify({"processing_level": "2A"}, ["any.h5"]).processing_level == "L2A"


@pytest.mark.parametrize(("text", "level"), [
    ("L2P", "L2P"), ("Level 3", "L3"), ("level-1b", "L1B"), ("1C", "L1C"), ("L3U", "L3U"),
    ("raw", "RAW"), ("Nominal", None), ("", None), ("L2GP", None),
])
def test_processing_levels_are_spelled_as_the_processing_extension_suggests(
        text: str, level: str | None) -> None:
    assert normalise_level(text) == level


def test_orbit_numbers_below_one_or_unreadable_are_left_out() -> None:
    found = identify({"cycle_number": 0, "pass_number": "n/a", "rel_orbit_number": -3,
                      "orbit_cycle": "12"}, ["x.nc"])
    assert (found.orbit_cycle, found.pass_number, found.relative_orbit) == (12, None, None)


@pytest.mark.parametrize(("text", "name"), [
    ("metop-b", "metop-b"), ("METOPB", "metop-b"), ("Sentinel-6 Michael Freilich", "sentinel-6a"),
    ("S5P", "sentinel-5p"), ("ICESat-2", "icesat-2"), ("Aqua", "aqua"), ("zzz", None),
])
def test_canonical_platform_maps_any_known_spelling(text: str, name: str | None) -> None:
    assert canonical_platform(text) == name


# The 13 shared granules, as the readers see them.
SHARED = {
    "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc":
        ("metop-a", "metop", "ascat", "L2", 45145, None, None, None),
    "ascat_20211220_231800_metopb_48038_eps_o_250_3202_ovw.l2.nc4":
        ("metop-b", "metop", "ascat", "L2", 48038, None, None, None),
    "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc":
        ("jason-1", None, "poseidon-2", "L2", 2, None, 1, 2),
    "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc":
        ("sentinel-6a", "sentinel-6", "poseidon-4", "L2", 1696, None, 14, 191),
    "MLS-Aura_L2GP-CO_v05-01-c01_2021d043.he5": ("aura", None, "mls", "L2", 88186, None, None,
                                                 None),
    "test_var_subsetting_tropomi_S5P_OFFL_L2__CH4____20190319T110835_20190319T125006_07407_01_"
    "010202_20190325T125810_subset.nc4": ("sentinel-5p", None, "tropomi", "L2", 7407, None, None,
                                          None),
    "GPM_test_file.HDF5": ("gpm", None, "dpr", "L2A", 39665, None, None, None),
    "processed_ATL07-01_20190222003738_08490201_003_02.h5":
        ("icesat-2", None, "atlas", "L3A", 2437, 849, 2, None),
    "CS_LTA__SIR_SAR_2__20191005T151255_20191005T151621_E001.nc":
        ("cryosat-2", None, "siral", "L2", 50315, 3832, 11, None),
    "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc": ("suomi-npp", "jpss", "viirs", "L2P", None, None, None, None),
    "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc": ("gcom-w1", None, "amsr2", "L2P", 38622, None,
                                                None, None),
    "SS_MODIS_A-JPL-L2P-v2014.0.nc": ("aqua", None, "modis", "L2P", None, None, None, None),
    # trimmed of /orbit_info: orbit, track and cycle from the lineage of its ATL02 inputs
    "ATL03_gt1l.h5": ("icesat-2", None, "atlas", "L2A", 436, 235, 1, None),
}


@pytest.mark.parametrize("name", sorted(SHARED))
def test_the_shared_granules_are_identified(shared_swaths: Path, name: str) -> None:
    meta = read_metadata(shared_swaths / name)
    assert (meta.platform, meta.constellation, meta.instrument, meta.processing_level,
            meta.orbit, meta.relative_orbit, meta.orbit_cycle, meta.pass_number) == SHARED[name]

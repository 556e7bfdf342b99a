"""The missions swathstore recognises: platforms, instruments and file-naming conventions.

Tables only (no Django, no file access); eo.identify applies them. Names follow the
STAC best practices: a platform is the lowercase short name of one satellite
("sentinel-6a", "metop-b", "icesat-2", "aqua"), with hyphens where the name has a
separator; `constellation` is given only for a series flown as several identical
satellites ("sentinel-6", "metop", "jpss"); instruments are lowercase short names
("ascat", "modis", "atlas"). Where agencies differ, the GCMD/CMR short name
(lowercased) is used: "gcom-w1", "suomi-npp", "noaa-20".

Aliases are compared "squashed": lowercased, with every character that is not a
letter, digit or "+" removed, so "MetOp-A", "METOP_A", "metopa" and "Metop A" are one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


def squash(text: str) -> str:
    """Lowercase letters, digits and '+' only: how aliases are compared.

    >>> squash("MetOp-A"), squash("Sentinel 5 precursor"), squash("ETM+")
    ('metopa', 'sentinel5precursor', 'etm+')
    """
    return re.sub(r"[^a-z0-9+]", "", text.lower())


@dataclass(frozen=True)
class Platform:
    """One satellite: its STAC name, constellation, main instrument and other spellings."""

    name: str
    constellation: str = ""
    # The instrument a granule of this platform comes from when nothing else says:
    # only for platforms that carry one (or one main) instrument.
    instrument: str = ""
    aliases: tuple[str, ...] = ()


def _series(prefix: str, letters: str, constellation: str, instrument: str = "",
            short: str = "") -> list[Platform]:
    """Sentinel-style series: sentinel-1a, -1b... with aliases s1a, s1b..."""
    return [Platform(f"{prefix}{c}", constellation, instrument,
                     (f"{short}{c}",) if short else ()) for c in letters]


PLATFORMS: list[Platform] = [
    # ESA and Copernicus
    *_series("sentinel-1", "abcd", "sentinel-1", "c-sar", "s1"),
    *_series("sentinel-2", "abcd", "sentinel-2", "msi", "s2"),
    *_series("sentinel-3", "abcd", "sentinel-3", "", "s3"),
    Platform("sentinel-5p", "", "tropomi", ("s5p", "sentinel 5 precursor", "sentinel-5 precursor",
                                            "sentinel5p", "sentinel-5p tropomi")),
    Platform("sentinel-6a", "sentinel-6", "", ("s6a", "sentinel-6 michael freilich",
                                               "sentinel-6mf", "s6mf", "jason-cs a")),
    Platform("sentinel-6b", "sentinel-6", "", ("s6b", "jason-cs b")),
    Platform("cryosat-2", "", "siral", ("cryosat", "cs2", "cryosat2")),
    Platform("smos", "", "miras", ("soil moisture and ocean salinity",)),
    Platform("envisat"),
    Platform("ers-1", "", "", ("e1",)),
    Platform("ers-2", "", "", ("e2",)),
    Platform("aeolus", "", "aladin", ("adm-aeolus",)),
    Platform("earthcare"),
    # EUMETSAT (MetOp spacecraft ids: M02 is Metop-A, M01 Metop-B, M03 Metop-C)
    Platform("metop-a", "metop", "", ("m02", "metop2")),
    Platform("metop-b", "metop", "", ("m01", "metop1")),
    Platform("metop-c", "metop", "", ("m03", "metop3")),
    *[Platform(f"meteosat-{n}", "meteosat", "seviri", (f"msg{n - 7}", f"met{n}", f"msg-{n - 7}"))
      for n in (8, 9, 10, 11)],
    # Reference altimetry (CNES/NASA/EUMETSAT/NOAA)
    Platform("topex-poseidon", "", "", ("topex", "topex/poseidon", "t/p")),
    Platform("jason-1", "", "poseidon-2", ("ja1", "j1")),
    Platform("jason-2", "", "poseidon-3", ("ja2", "j2", "ostm", "ostm/jason-2")),
    Platform("jason-3", "", "poseidon-3b", ("ja3", "j3")),
    Platform("saral", "", "altika", ("srl", "saral/altika")),
    Platform("swot", "", "", ("surface water and ocean topography",)),
    # NASA
    Platform("aqua", "", "", ("eos pm-1", "eos-pm1", "eos/aqua", "eos-aqua")),
    Platform("terra", "", "", ("eos am-1", "eos-am1", "eos/terra", "eos-terra")),
    Platform("aura", "", "", ("eos-aura", "eos ch-1")),
    Platform("icesat", "", "glas", ("icesat-1",)),
    Platform("icesat-2", "", "atlas", ("is2", "ice, cloud, and land elevation satellite-2")),
    Platform("gpm", "", "", ("gpm core observatory", "gpm-core", "gpm core")),
    Platform("trmm", "", "", ("tropical rainfall measuring mission",)),
    Platform("smap", "", "", ("soil moisture active passive",)),
    Platform("calipso", "", "caliop"),
    Platform("cloudsat", "", "cpr"),
    Platform("oco-2", "", "", ("oco2",)),
    Platform("quikscat", "", "seawinds", ("qscat",)),
    Platform("pace", "", "oci"),
    Platform("coriolis", "", "windsat"),
    Platform("orbview-2", "", "seawifs", ("seastar",)),
    Platform("landsat-7", "", "etm+", ("l7", "le07")),
    Platform("landsat-8", "", "", ("l8", "lc08")),
    Platform("landsat-9", "", "", ("l9", "lc09")),
    # NOAA
    Platform("suomi-npp", "jpss", "", ("npp", "snpp", "s-npp", "suomi npp", "npp-suomi")),
    Platform("noaa-20", "jpss", "", ("jpss-1", "j01", "n20", "jpss1")),
    Platform("noaa-21", "jpss", "", ("jpss-2", "j02", "n21", "jpss2")),
    *[Platform(f"noaa-{n}", "", "", (f"n{n}",)) for n in (15, 18, 19)],
    *[Platform(f"goes-{n}", "goes", "", (f"g{n}", f"goes{n}")) for n in (16, 17, 18, 19)],
    *[Platform(f"dmsp-f{n}", "dmsp", "ssmis", (f"f{n}", f"dmsp f{n}")) for n in (16, 17, 18)],
    # JAXA
    Platform("gcom-w1", "", "amsr2", ("gcom-w", "shizuku", "gw1", "gcomw1")),
    Platform("gcom-c", "", "sgli", ("gcom-c1", "shikisai", "gc1")),
    *[Platform(f"himawari-{n}", "himawari", "ahi", (f"h0{n}", f"hima{n}")) for n in (8, 9)],
    Platform("alos-2", "", "palsar-2", ("daichi-2",)),
    Platform("gosat", "", "", ("ibuki",)),
]

# instrument -> other spellings (long names included where files use them)
INSTRUMENTS: dict[str, tuple[str, ...]] = {
    "ascat": ("advanced scatterometer",), "avhrr": ("avhrr/3", "avhrr-3"), "iasi": (),
    "gome-2": ("gome2",), "mhs": (), "amsu-a": ("amsua",), "hirs": ("hirs/4",),
    "modis": ("moderate resolution imaging spectroradiometer",), "airs": (), "amsr-e": (),
    "ceres": (), "mls": ("microwave limb sounder",), "omi": ("ozone monitoring instrument",),
    "tes": (), "viirs": ("visible infrared imaging radiometer suite",), "atms": (), "cris": (),
    "omps": (), "atlas": ("advanced topographic laser altimeter system",), "glas": (),
    "dpr": ("dual-frequency precipitation radar", "ku", "ka", "kupr", "kapr"), "gmi": (),
    "pr": (), "tmi": (), "caliop": (), "cpr": (), "seawinds": (), "windsat": (),
    "seawifs": (), "oci": (), "etm+": (), "oli": (), "tirs": (), "oli-tirs": ("oli/tirs",),
    "abi": (), "glm": (), "ssmis": (), "c-sar": ("sar-c", "csar"), "msi": (),
    "olci": (), "slstr": (), "sral": (), "mwr": (), "tropomi": (),
    "siral": ("sar interferometric radar altimeter",), "miras": (), "aladin": (),
    "poseidon-2": (), "poseidon-3": (), "poseidon-3b": (),
    "poseidon-4": ("poseidon-4a", "poseidon-4b", "p4"), "amr-c": (), "jmr": (), "amr": (),
    "altika": (), "kari": ("ka-band radar interferometer",), "seviri": (),
    "amsr2": ("advanced microwave scanning radiometer 2",), "sgli": (), "ahi": (),
    "palsar-2": (), "smap radiometer": (),
}

# ICESat-2 products and their levels as the mission defines them (NSIDC): the files'
# own `processing_level` attribute says "2A" for every product, so the product decides.
ICESAT2_LEVELS = {
    **dict.fromkeys(["ATL01"], "L1A"), **dict.fromkeys(["ATL02"], "L1B"),
    **dict.fromkeys(["ATL03", "ATL04"], "L2A"),
    **dict.fromkeys(["ATL06", "ATL07", "ATL08", "ATL09", "ATL10", "ATL12", "ATL13"], "L3A"),
    **dict.fromkeys(["ATL11", "ATL14", "ATL15", "ATL16", "ATL17", "ATL19", "ATL20", "ATL21"],
                    "L3B"),
}


@dataclass(frozen=True)
class NameRule:
    """A file-naming convention: a regex whose named groups give what the name says.

    Groups: platform and instrument (looked up in the rule's own codes, then as
    aliases), level, abs_orbit, rel_orbit, cycle, pass_, product (an ICESat-2 product).
    Fixed values fill what the convention implies without spelling it out.
    """

    pattern: re.Pattern[str]
    platform: str = ""
    instrument: str = ""
    level: str = ""
    platform_codes: dict[str, str] = field(default_factory=dict)
    instrument_codes: dict[str, str] = field(default_factory=dict)


def _rule(regex: str, flags: int = 0, **fixed: Any) -> NameRule:
    # A convention may follow a prefix a tool added (l2ss-py's "SS_", a subsetter's
    # "processed_"): matched after any non-alphanumeric, not only at the start.
    return NameRule(re.compile(r"(?<![A-Za-z0-9])" + regex, flags), **fixed)


_DATE = r"\d{8}T\d{6}"
NAME_RULES: list[NameRule] = [
    # Sentinel-1: S1A_IW_GRDH_1SDV_<start>_<stop>_<abs orbit 6>_<datatake>_<id>
    _rule(rf"(?P<platform>S1[A-D])_[A-Z0-9]{{2}}_[A-Z_]{{4}}_(?P<level>[0-2])[SA][A-Z]{{2}}_"
          rf"{_DATE}_{_DATE}_(?P<abs_orbit>\d{{6}})_"),
    # Sentinel-2: S2A_MSIL2A_<sensing>_N<baseline>_R<relative orbit>_T<tile>_
    _rule(rf"(?P<platform>S2[A-D])_MSI(?P<level>L1[ABC]|L2A)_{_DATE}_N\d{{4}}_R(?P<rel_orbit>\d{{3}})_",
          instrument="msi"),
    # Sentinel-3: S3A_SR_2_WAT____<start>_<stop>_<created>_<duration>_<cycle>_<rel orbit>_
    _rule(rf"(?P<platform>S3[A-D])_(?P<instrument>OL|SL|SR|MW|SY|DO|GN)_(?P<level>[0-2])_"
          rf"[A-Z0-9_]{{6}}_{_DATE}_{_DATE}_{_DATE}_(?:\d{{4}}|_{{4}})_(?P<cycle>\d{{3}})_"
          r"(?P<rel_orbit>\d{3})_",
          instrument_codes={"OL": "olci", "SL": "slstr", "SR": "sral", "MW": "mwr"}),
    _rule(r"(?P<platform>S3[A-D])_(?P<instrument>OL|SL|SR|MW|SY|DO|GN)_(?P<level>[0-2])_",
          instrument_codes={"OL": "olci", "SL": "slstr", "SR": "sral", "MW": "mwr"}),
    # Sentinel-5P: S5P_OFFL_L2__CH4____<start>_<stop>_<abs orbit 5>_<collection>_<processor>_
    _rule(rf"(?P<platform>S5P)_[A-Z]{{4}}_L(?P<level>[0-2][A-C]?)_*[A-Z0-9_]*?_{_DATE}_{_DATE}_"
          r"(?P<abs_orbit>\d{5})_"),
    _rule(r"(?P<platform>S5P)_[A-Z]{4}_L(?P<level>[0-2][A-C]?)_"),
    # Sentinel-6: EUMETSAT S6A_P4_2__HR______<start>_<stop>_<created>_<duration>_<cycle>_<pass>_
    # and PO.DAAC S6A_P4_2__HR_RED__NR_<cycle>_<pass>_<start>_<stop>_
    _rule(rf"(?P<platform>S6[AB])_(?P<instrument>P4|MW)_(?P<level>[0-2](?:A|B)?)_[A-Z0-9_]*?"
          rf"{_DATE}_{_DATE}_{_DATE}_\d{{4}}_(?P<cycle>\d{{3}})_(?P<pass_>\d{{3}})_",
          instrument_codes={"P4": "poseidon-4", "MW": "amr-c"}),
    _rule(r"(?P<platform>S6[AB])_(?P<instrument>P4|MW)_(?P<level>[0-2](?:A|B)?)_[A-Z0-9_]*?"
          rf"_(?:NR|ST|NT)_(?P<cycle>\d{{3}})_(?P<pass_>\d{{3}})_{_DATE}",
          instrument_codes={"P4": "poseidon-4", "MW": "amr-c"}),
    _rule(r"(?P<platform>S6[AB])_(?P<instrument>P4|MW|GN|DO)_(?P<level>[0-2](?:A|B)?)_",
          instrument_codes={"P4": "poseidon-4", "MW": "amr-c"}),
    # CryoSat-2: CS_OFFL_SIR_SAR_2__..., CS_LTA__SIR_SIN_1B_..., CS_NRT__SIR_LRMI2_...
    _rule(r"CS_[A-Z_]{4}_SIR_?[A-Z]{3}(?:_|I)(?P<level>1B|2|0|1)", platform="cryosat-2",
          instrument="siral"),
    # Jason-1/2/3 and SARAL (I)GDR: JA1_GPN_2PeP<cycle>_<pass>_
    _rule(r"(?P<platform>JA[1-3]|SRL)_[A-Z]{3}_2P[a-z]P(?P<cycle>\d{3})_(?P<pass_>\d{3})",
          level="L2"),
    # SWOT: SWOT_L2_LR_SSH_Expert_<cycle>_<pass>_<start>_
    _rule(rf"SWOT_L(?P<level>[0-4][A-C]?)_[A-Z]{{2}}_[A-Za-z_]+?_(?P<cycle>\d{{3}})_"
          rf"(?P<pass_>\d{{3}})_{_DATE}", platform="swot"),
    # ICESat-2: ATL07-01_<yyyymmddhhmmss>_<rgt 4><cycle 2><segment 2>_<version>_<revision>
    _rule(r"(?P<product>ATL\d\d)(?:-\d\d)?_\d{14}_(?P<rel_orbit>\d{4})(?P<cycle>\d{2})\d{2}_"
          r"\d{3}_\d{2}", platform="icesat-2", instrument="atlas"),
    _rule(r"(?P<product>ATL\d\d)(?![0-9])", platform="icesat-2", instrument="atlas"),
    # OSI SAF / KNMI scatterometer winds: ascat_<date>_<time>_metopa_<orbit>_eps_o_...
    _rule(r"(?P<instrument>ascat)_\d{8}_\d{6}_(?P<platform>metop[abc])_(?P<abs_orbit>\d{5,6})_",
          re.I),
    # EUMETSAT EPS native: ASCA_SZR_1B_M02_<start>Z_<stop>Z_N_O_<created>Z
    _rule(r"(?P<instrument>ASCA|AVHR|IASI|GOME|MHSx|AMSA|HIRS)_[A-Z0-9]{3}_(?P<level>0[0-2]|1[A-C])_"
          r"(?P<platform>M0[1-3])_",
          instrument_codes={"ASCA": "ascat", "AVHR": "avhrr", "GOME": "gome-2", "MHSx": "mhs",
                            "AMSA": "amsu-a"}),
    # MODIS and VIIRS (LAADS/LP DAAC): MYD06_L2.A2019001.0000.061.<created>.hdf
    _rule(r"(?P<platform>MOD|MYD)(?:0[1-9]|[1-9]\d)[A-Z0-9_]*\.A\d{7}\.", instrument="modis",
          platform_codes={"MOD": "terra", "MYD": "aqua"}),
    _rule(r"(?P<platform>VNP|VJ1|VJ2)(?:0[1-9]|[1-9]\d)[A-Z0-9_]*\.A\d{7}\.", instrument="viirs",
          platform_codes={"VNP": "suomi-npp", "VJ1": "noaa-20", "VJ2": "noaa-21"}),
    # Ocean Biology (OBPG): AQUA_MODIS.20190101T000000.L2.OC.nc, A2019001000000.L2_LAC_OC
    _rule(r"(?P<platform>AQUA|TERRA|SNPP|JPSS1|JPSS2|NOAA20|NOAA21|PACE|SEASTAR)_"
          r"(?P<instrument>MODIS|VIIRS|OCI|SEAWIFS)\.\d{8}T\d{6}\.L(?P<level>[0-4][A-Za-z]?)\."),
    *[_rule(rf"{code}\d{{13}}\.L(?P<level>[0-4][A-Z]?)_", platform=plat, instrument=inst)
      for code, plat, inst in (("A", "aqua", "modis"), ("T", "terra", "modis"),
                               ("V", "suomi-npp", "viirs"))],
    # GHRSST: <time>-JPL-L2P_GHRSST-SSTskin-MODIS_A-D-v02.0-fv01.0.nc, and PO.DAAC short
    # names such as MODIS_A-JPL-L2P-v2014.0 or VIIRS_NPP-NAVO-L2P-v3.0
    _rule(r"(?P<instrument>MODIS)_(?P<platform>A|T)(?![A-Za-z0-9])",
          platform_codes={"A": "aqua", "T": "terra"}),
    _rule(r"(?P<instrument>VIIRS)_(?P<platform>NPP|N20|N21)(?![A-Za-z0-9])"),
    _rule(r"(?P<instrument>AVHRR)_?(?P<platform>METOP[ABC]|MT[ABC]|1[89])(?![A-Za-z0-9])",
          platform_codes={"MTA": "metop-a", "MTB": "metop-b", "MTC": "metop-c",
                          "18": "noaa-18", "19": "noaa-19"}),
    _rule(r"(?P<instrument>SLSTR)(?P<platform>[AB])(?![A-Za-z0-9])",
          platform_codes={"A": "sentinel-3a", "B": "sentinel-3b"}),
    _rule(r"(?P<instrument>AHI)_(?P<platform>H0[89])(?![A-Za-z0-9])"),
    _rule(r"(?P<instrument>ABI)_(?P<platform>G1[6-9])(?![A-Za-z0-9])"),
    _rule(r"(?P<instrument>AMSR2)(?![A-Za-z0-9])", platform="gcom-w1"),
    # Remote Sensing Systems swath files name their orbit: ..._L2B_v08_r38622, L2B_rt_r36000
    _rule(r"L2B_(?:v\d+[a-z]?|rt)_r(?P<abs_orbit>\d{4,6})(?![0-9])"),
    _rule(r"(?P<instrument>AMSR)_E(?![A-Za-z0-9])", platform="aqua",
          instrument_codes={"AMSR": "amsr-e"}),
    _rule(r"(?P<instrument>WindSat)(?![A-Za-z0-9])", platform="coriolis"),
    # Aura HDF-EOS5: MLS-Aura_L2GP-CO_..., OMI-Aura_L2-OMNO2_...
    _rule(r"(?P<instrument>MLS|OMI|TES|HIRDLS)-Aura_L(?P<level>[0-4])", platform="aura"),
    # AIRS: AIRS.2019.01.01.001.L2.RetStd_IR.v7.0...
    _rule(r"AIRS\.\d{4}\.\d\d\.\d\d\.\d{3}\.L(?P<level>[1-3][A-C]?)\.", platform="aqua",
          instrument="airs"),
    # GPM/TRMM (PPS): 2A.GPM.DPR.V9-20211125.20210220-S093541-E110815.039665.V07A.HDF5
    _rule(r"(?P<level>[0-3][A-C]?)[.-](?P<platform>GPM|TRMM|GCOMW1|NPP|NOAA(?:1[89]|20)|"
          r"METOP[ABC]|F1[6-8])\.(?P<instrument>[A-Za-z0-9]+)\.[^.]+\.\d{8}-S\d{6}-E\d{6}\."
          r"(?P<abs_orbit>\d{6})\."),
    _rule(r"(?P<level>[0-3][A-C]?)[.-](?P<platform>GPM|TRMM)\.(?P<instrument>[A-Za-z0-9]+)\."),
    # JAXA GCOM-W/C: GW1AM2_201207031905_134D_L2SGSSTLB..., GC1SG1_..._L2SG_SSTDK_...
    _rule(r"GW1AM2_\d{12}_\d{3}[AD]_L(?P<level>[1-3])", platform="gcom-w1", instrument="amsr2"),
    _rule(r"GC1SG1_\d{12}[AD]\d{5}_L(?P<level>[1-3])", platform="gcom-c", instrument="sgli"),
    # Himawari: HS_H08_20150707_0000_B01_FLDK..., NC_H09_...
    _rule(r"(?:HS|NC)_(?P<platform>H0[89])_\d{8}_\d{4}_", instrument="ahi"),
    # GOES-R series: OR_ABI-L2-CMIPF-M6C13_G16_s2019...
    _rule(r"OR_(?P<instrument>ABI|GLM)-L(?P<level>[0-2][ab]?)-[A-Za-z0-9-]+_(?P<platform>G1[6-9])_s"),
    # CALIPSO, CloudSat, SMAP, SMOS, QuikSCAT, Landsat collection 2
    _rule(r"CAL_LID_L(?P<level>[1-3])_", platform="calipso", instrument="caliop"),
    _rule(r"(?P<abs_orbit>\d{5})_CS_(?P<level>[12][BC])-", platform="cloudsat", instrument="cpr"),
    _rule(r"SMAP_L(?P<level>[1-4][A-C]?)_[A-Z_]+?_(?P<abs_orbit>\d{5})_[AD]_", platform="smap"),
    _rule(r"SMAP_L(?P<level>[1-4][A-C]?)_", platform="smap"),
    _rule(r"SM_[A-Z]{4}_MIR_[A-Z0-9]{4}(?P<level>1[ABC]|2)_", platform="smos", instrument="miras"),
    _rule(r"qs_l2b_(?P<abs_orbit>\d{5})_", re.I, platform="quikscat", instrument="seawinds",
          level="L2B"),
    _rule(r"L(?P<instrument>[COTEM])(?P<platform>0[789])_L(?P<level>[12])[A-Z]{2}_\d{6}_",
          platform_codes={"07": "landsat-7", "08": "landsat-8", "09": "landsat-9"},
          instrument_codes={"C": "oli-tirs", "O": "oli", "T": "tirs", "E": "etm+"}),
]

# A processing level spelled on its own in a name: "_L2.", "-L2P-", ".l2.", "_L1B_".
LEVEL_IN_NAME = re.compile(r"(?<![A-Za-z0-9])L([0-4](?:[A-C]|P)?)(?![A-Za-z0-9])", re.I)

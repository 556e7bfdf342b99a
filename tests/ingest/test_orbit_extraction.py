"""Orbit, pass and equator-crossing numbers ingest extracts from the 13 real granules of
../shared/data/swaths, each compared with what the file itself states where its mission
defines it (read here with netCDF4/h5py, not copied from ingest's answer):

- Jason-1 and Sentinel-6: cycle_number, pass_number, absolute_rev_number and the pass's
  equator_longitude (0..360) in the root attributes; odd passes ascend;
- CryoSat-2: abs_orbit_number, rel_orbit_number, cycle_number, ascending_flag and its
  orbit's ascending node equator_cross_long in 1e-6 degrees;
- ICESat-2: /orbit_info rgt, cycle_number and orbit_number (ATL07; it states the node's
  time, not its longitude, which is computed from its track: tests/ingest/test_orbitnode);
  an ATL03 trimmed of /orbit_info by the lineage of its ATL02 inputs;
- Sentinel-5P: the root `orbit` and METADATA/GRANULE_DESCRIPTION's dayside crossing;
- ASCAT: orbit_number and equator_crossing_longitude (0..360, as text);
- GPM: GranuleNumber in the FileHeader text; MLS: its first OrbitNumber; AMSR2 (RSS):
  the orbit its name gives (r38622); MODIS and VIIRS L2P state no orbit at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import netCDF4
import numpy as np
import pytest

from eo.attributes import parse_pvl
from ingest.orbitnode import orbit_node
from ingest.readers import read_metadata
from ingest.readers.build import equator_crossing
from ingest.readers.track import track_attrs

FIELDS = ("orbit", "relative_orbit", "orbit_cycle", "pass_number", "orbit_direction",
          "equator_crossing_longitude")


def _root(path: Path) -> dict[str, Any]:
    with netCDF4.Dataset(path) as ds:
        return {k: ds.getncattr(k) for k in ds.ncattrs()}


def _int(value: Any) -> int:
    return int(np.asarray(value).reshape(-1)[0])


def _lon(value: Any, scale: float = 1.0) -> float:
    text = value.decode() if isinstance(value, bytes) else value
    lon = float(np.asarray(text, dtype=float).reshape(-1)[0]) * scale
    return round((lon + 180.0) % 360.0 - 180.0, 4)


def _pass_direction(number: int) -> str:
    return "ascending" if number % 2 else "descending"


def altimeter(path: Path, direction: str | None = None) -> dict[str, Any]:
    a = _root(path)
    pass_number = _int(a["pass_number"])
    return {"orbit": _int(a["absolute_rev_number"]), "relative_orbit": None,
            "orbit_cycle": _int(a["cycle_number"]), "pass_number": pass_number,
            "orbit_direction": direction or _pass_direction(pass_number),
            "equator_crossing_longitude": _lon(a["equator_longitude"])}


def cryosat(path: Path) -> dict[str, Any]:
    a = _root(path)
    return {"orbit": _int(a["abs_orbit_number"]), "relative_orbit": _int(a["rel_orbit_number"]),
            "orbit_cycle": _int(a["cycle_number"]), "pass_number": None,
            "orbit_direction": {"A": "ascending", "D": "descending"}[a["ascending_flag"]],
            "equator_crossing_longitude": _lon(a["equator_cross_long"], 1e-6)}


def atl07(path: Path) -> dict[str, Any]:
    with h5py.File(path) as f:
        info = {k: _int(f["orbit_info"][k][()]) for k in ("rgt", "cycle_number",
                                                           "orbit_number")}
        beam = f["gt1l/sea_ice_segments"]
        lon, lat, t = (beam[k][()] for k in ("longitude", "latitude", "delta_time"))
    direction = "ascending" if lat[-1] > lat[0] else "descending"
    node = orbit_node(lon, lat, t, direction)  # it states no longitude: computed
    assert node is not None
    return {"orbit": info["orbit_number"], "relative_orbit": info["rgt"],
            "orbit_cycle": info["cycle_number"], "pass_number": None,
            "orbit_direction": direction,
            "equator_crossing_longitude": pytest.approx(node.longitude, abs=0.05)}


def atl03(path: Path) -> dict[str, Any]:
    with h5py.File(path) as f:
        assert "orbit_info" not in f  # trimmed: the lineage is all that is left
        atl02 = f["METADATA/Lineage/ATL02"].attrs
        return {"orbit": _int(atl02["start_orbit"]), "relative_orbit": _int(atl02["start_rgt"]),
                "orbit_cycle": _int(atl02["start_cycle"]), "pass_number": None,
                "orbit_direction": None,  # over the pole: it climbs, then descends
                "equator_crossing_longitude": None}


def tropomi(path: Path) -> dict[str, Any]:
    with netCDF4.Dataset(path) as ds:
        crossing = ds["METADATA/GRANULE_DESCRIPTION"].getncattr(
            "LongitudeOfDaysideNadirEquatorCrossing")
        orbit = _int(ds.getncattr("orbit"))
    return {"orbit": orbit, "relative_orbit": None, "orbit_cycle": None, "pass_number": None,
            "orbit_direction": None,  # a whole orbit: both ways
            "equator_crossing_longitude": _lon(crossing)}


def ascat(path: Path) -> dict[str, Any]:
    a = _root(path)
    return {"orbit": _int(a["orbit_number"]), "relative_orbit": None, "orbit_cycle": None,
            "pass_number": None, "orbit_direction": None,
            "equator_crossing_longitude": _lon(a["equator_crossing_longitude"])}


def plain(orbit: int | None, direction: str | None) -> dict[str, Any]:
    return {"orbit": orbit, "relative_orbit": None, "orbit_cycle": None, "pass_number": None,
            "orbit_direction": direction, "equator_crossing_longitude": None}


def gpm(path: Path) -> dict[str, Any]:
    with h5py.File(path) as f:
        header = parse_pvl(f.attrs["FileHeader"].decode())
    return plain(int(header["GranuleNumber"]), "descending")


def mls(path: Path) -> dict[str, Any]:
    with h5py.File(path) as f:
        orbits = f["HDFEOS/ADDITIONAL/FILE_ATTRIBUTES"].attrs["OrbitNumber"]
    return plain(int(orbits[0]), None)


def rss(path: Path) -> dict[str, Any]:
    match = re.search(r"_r(\d+)-", path.name)
    assert match
    return plain(int(match.group(1)), "ascending")


EXPECTED: dict[str, Callable[[Path], dict[str, Any]]] = {
    "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc": altimeter,
    "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc": altimeter,
    "CS_LTA__SIR_SAR_2__20191005T151255_20191005T151621_E001.nc": cryosat,
    "processed_ATL07-01_20190222003738_08490201_003_02.h5": atl07,
    "ATL03_gt1l.h5": atl03,
    "test_var_subsetting_tropomi_S5P_OFFL_L2__CH4____20190319T110835_20190319T125006_07407_"
    "01_010202_20190325T125810_subset.nc4": tropomi,
    "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc": ascat,
    "ascat_20211220_231800_metopb_48038_eps_o_250_3202_ovw.l2.nc4": ascat,
    "GPM_test_file.HDF5": gpm,
    "MLS-Aura_L2GP-CO_v05-01-c01_2021d043.he5": mls,
    "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc": rss,
    "SS_MODIS_A-JPL-L2P-v2014.0.nc": lambda _: plain(None, None),
    "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc": lambda _: plain(None, "ascending"),
}


def test_every_shared_granule_is_covered(shared_swaths: Path) -> None:
    names = {p.name for p in shared_swaths.iterdir() if p.suffix != ".md"}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=lambda n: n[:24])
def test_ingest_extracts_the_numbers_the_file_states(shared_swaths: Path, name: str) -> None:
    path = shared_swaths / name
    meta = read_metadata(path)
    assert {f: getattr(meta, f) for f in FIELDS} == EXPECTED[name](path)


def test_jasons_crossing_computed_from_its_track_agrees_with_the_one_it_states(
        shared_swaths: Path) -> None:
    """The geolocation rule (used when a file states nothing) on a pass that crosses the
    equator: interpolated between the two nadir samples either side, within 0.01 degree
    of the pass's stated equator_longitude."""
    path = shared_swaths / "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc"
    with netCDF4.Dataset(path) as ds:
        lat, lon = ds["lat"][:], ds["lon"][:]
        stated = _lon(ds.getncattr("equator_longitude"))
    assert equator_crossing(lon, lat, "descending") == pytest.approx(stated, abs=0.01)


def test_a_lineage_whose_inputs_disagree_gives_no_track(tmp_path: Path) -> None:
    path = tmp_path / "lineage.h5"
    with h5py.File(path, "w") as f:
        for name, rgt in (("ATL03", 849), ("ATL09", 850)):
            g = f.create_group(f"METADATA/Lineage/{name}")
            g.attrs.update(start_rgt=rgt, end_rgt=rgt, start_cycle=2, end_cycle=2,
                           start_orbit=2437, end_orbit=2438)
        f.create_group("METADATA/Lineage/ANC41").attrs.update(start_rgt=1, end_rgt=1)
    with h5py.File(path) as f:
        assert track_attrs(f) == {"start_cycle": 2}  # rgt disagrees, orbit spans two

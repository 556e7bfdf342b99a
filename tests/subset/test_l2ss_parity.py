"""Our subsets against l2ss-py (PO.DAAC's Level-2 swath subsetter) on the real 2-D swaths.

l2ss-py runs as a subprocess from .venv-l2ss (it pins its own xarray/numpy). Both cut
the same bbox from the same file; every common variable must then be identical, pixel
for pixel, fill included, after these listed differences, each one where we are right:

1. l2ss-py keeps rows and columns individually (the rows and columns holding a selected
   pixel); we keep the minimal contiguous window, so scan-line neighbours stay
   neighbours. We compare after dropping our rows/columns without a selected pixel.
2. l2ss-py sets latitude/longitude outside the bbox to fill; we keep the true
   geolocation of every pixel of the window (a pixel outside the region still has a
   position; CF coordinates stay complete). Only data variables are filled
   (fill_outside=True). Inside the region lat/lon must be identical.
3. Variables without _FillValue: both leave them unmasked (nothing to compare away).
4. GPM_test_file.HDF5: l2ss-py 3.1.0 returns this granule whole (all 621/622 scans,
   nothing masked) although the bbox touches 155 scans; our window is checked against a
   brute-force mask in test_kernel.py instead.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pytest

from subset.kernel import make_plan, subset
from subset.region import parse_bbox
from subset.source import open_source
from tests.subset.conftest import L2SS_VENV

pytestmark = pytest.mark.skipif(
    not (L2SS_VENV / "l2ss-py").exists(), reason="l2ss-py is not installed in .venv-l2ss"
)

CASES = {
    "SS_MODIS_A-JPL-L2P-v2014.0.nc": "70,42,80,48",
    "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc": "-170,64,-150,68",
    "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc": "-70,-75,-30,-50",
    "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc": "-10,-30,10,10",
}
# l2ss-py needs over 5 minutes on TROPOMI's ~1300 METADATA groups: run with SUBSET_SLOW=1
# (last run: every variable identical but latitude/longitude, difference 2).
if os.environ.get("SUBSET_SLOW"):
    CASES["test_var_subsetting_tropomi_S5P_OFFL_L2__CH4____20190319T110835_20190319T125006_"
          "07407_01_010202_20190325T125810_subset.nc4"] = "0,0,30,30"
ASCAT_ANTIMERIDIAN = (
    "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc",
    "170,-20,-170,0",
)


def l2ss(src: Path, bbox: str, out: Path) -> None:
    w, s, e, n = bbox.split(",")
    subprocess.run(
        [str(L2SS_VENV / "l2ss-py"), str(src), str(out), "--bbox", w, s, e, n, "--cut"],
        check=True,
        capture_output=True,
        timeout=300,
    )


def walk(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, var in group.variables.items():
        yield f"{prefix}/{name}", var
        var.set_auto_scale(False)
    for name, sub in group.groups.items():
        yield from walk(sub, f"{prefix}/{name}")


def compare(ours: Path, theirs: Path, source: Path, bbox: str) -> dict[str, str]:
    """Return {variable: outcome}; outcomes other than 'identical' name a listed reason."""
    with open_source(source) as src:
        windows = make_plan(src, parse_bbox(bbox)).windows
    outcome = {}
    with netCDF4.Dataset(ours) as a, netCDF4.Dataset(theirs) as b:
        av, bv = dict(walk(a)), dict(walk(b))
        assert set(av) == set(bv), set(av) ^ set(bv)
        for path in sorted(av):
            x, y = av[path][...], bv[path][...]
            geo = None
            for w in windows:
                names = [d.name for d in w.geo.dims]
                dims = list(av[path].dimensions)
                if all(n in dims for n in names):
                    m = w.mask
                    keep = [np.nonzero(m.any(axis=1))[0], np.nonzero(m.any(axis=0))[0]]
                    for name, idx in zip(names, keep, strict=True):
                        x = x.take(idx, axis=dims.index(name))
                    geo = w.mask[np.ix_(*keep)]
                    break
            assert x.shape == y.shape, path
            xm, ym = np.ma.getmaskarray(x), np.ma.getmaskarray(y)
            same_values = np.array_equal(np.ma.getdata(x)[~xm & ~ym], np.ma.getdata(y)[~xm & ~ym])
            assert same_values, f"{path}: values differ"
            if np.array_equal(xm, ym):
                outcome[path] = "identical"
                continue
            is_geo = path.rsplit("/", 1)[-1] in {w.geo.lat.name for w in windows} | {
                w.geo.lon.name for w in windows
            }
            # Listed difference 2: only lat/lon, only outside the region, only masked by them.
            assert is_geo and geo is not None, f"{path}: masks differ"
            inside = np.broadcast_to(geo, xm.shape)
            assert np.array_equal(xm[inside], ym[inside]), f"{path}: mask differs in region"
            assert not (xm & ~ym).any(), f"{path}: we mask what l2ss-py keeps"
            outcome[path] = "geolocation kept outside the region"
    return outcome


@pytest.mark.parametrize("name, bbox", [*CASES.items(), ASCAT_ANTIMERIDIAN])
def test_every_common_variable_matches_l2ss_py(
    shared_swaths: Path, tmp_path: Path, name: str, bbox: str
) -> None:
    source = shared_swaths / name
    ours, theirs = tmp_path / "ours.nc", tmp_path / "l2ss.nc"
    subset(source, parse_bbox(bbox), ours, fill_outside=True)
    l2ss(source, bbox, theirs)
    outcome = compare(ours, theirs, source, bbox)
    assert outcome
    differing = {k for k, v in outcome.items() if v != "identical"}
    assert differing <= {
        p
        for p in outcome
        if p.rsplit("/", 1)[-1].lower() in ("lat", "lon", "latitude", "longitude")
    }


def test_l2ss_py_leaves_the_gpm_granule_whole(shared_swaths: Path, tmp_path: Path) -> None:
    source = shared_swaths / "GPM_test_file.HDF5"
    l2ss(source, "-120,-65,-60,-55", tmp_path / "l2ss.nc")
    result = subset(source, parse_bbox("-120,-65,-60,-55"), tmp_path / "ours.nc")
    with netCDF4.Dataset(tmp_path / "l2ss.nc") as b:
        assert b["FS/Latitude"].shape == (621, 49)
    assert [w["window"][0] for w in result.windows] == [[30, 185], [31, 186]]

"""CF-1.8 compliance of subsets, checked by IOOS compliance-checker from .venv-l2ss.

A subset must add no high-priority failure: a synthetic swath's subset has none, and a
real granule's subset has only the failures its source already has (AMSR2's
non-standard standard_names and flag counts, ASCAT's "dB" units: metadata we copy
faithfully rather than rewrite).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from subset.kernel import subset
from subset.region import parse_bbox
from tests.subset.conftest import L2SS_VENV

CHECKER = L2SS_VENV / "compliance-checker"
pytestmark = pytest.mark.skipif(not CHECKER.exists(), reason="compliance-checker missing")


def high_failures(path: Path, tmp_path: Path) -> set[str]:
    """Return 'section: message' of every failed high-priority CF-1.8 check (filename aside)."""
    report = tmp_path / f"{path.name}.json"
    subprocess.run([str(CHECKER), "-t", "cf:1.8", "-f", "json", "-o", str(report), str(path)],
                   capture_output=True, timeout=300)
    data = json.loads(report.read_text())
    result = next(iter(data.values()))
    return {f"{c['name']}: {m}" for c in result["high_priorities"]
            if c["value"][0] != c["value"][1] and c["name"] != "§2.1 Filename"
            for m in c["msgs"]}


def test_a_synthetic_subset_has_no_high_priority_failure(chunky_swath: Path,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "synth.nc"
    subset(chunky_swath, parse_bbox("45,12,50,14"), out, variables=["sst", "chlor_a"])
    assert high_failures(out, tmp_path) == set()


@pytest.mark.parametrize("name, bbox", [
    ("SS_MODIS_A-JPL-L2P-v2014.0.nc", "70,42,80,48"),
    ("SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc", "-70,-75,-30,-50"),
    ("ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc", "170,-20,-170,0"),
    ("GPM_test_file.HDF5", "-120,-65,-60,-55"),
])
def test_a_real_subset_adds_no_high_priority_failure(shared_swaths: Path, tmp_path: Path,
                                                     name: str, bbox: str) -> None:
    out = tmp_path / "out.nc"
    subset(shared_swaths / name, parse_bbox(bbox), out, fill_outside=True)
    assert high_failures(out, tmp_path) <= high_failures(shared_swaths / name, tmp_path)

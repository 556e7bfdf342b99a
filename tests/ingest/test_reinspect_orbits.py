"""`manage.py reinspect` fills the orbit fields of swaths archived before ingest read them:
rows of four real granules have their orbit numbers, direction and equator crossing
cleared (what an older ingest stored), and reinspect, reading the archived objects by
ranges (h5py over the store: the ICESat-2 lineage, CryoSat-2's scaled node, Sentinel-5P's
METADATA group, Sentinel-6's pass parity), brings back what reading the file gives."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from catalog.models import Swath
from ingest.pipeline import metadata_fields
from ingest.readers import read_metadata
from tests.support.ingesting import ingest_paths

pytestmark = pytest.mark.django_db
NAMES = ("ATL03_gt1l.h5", "CS_LTA__SIR_SAR_2__20191005T151255_20191005T151621_E001.nc",
         "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc",
         "test_var_subsetting_tropomi_S5P_OFFL_L2__CH4____20190319T110835_20190319T125006_"
         "07407_01_010202_20190325T125810_subset.nc4")
ORBIT_FIELDS = ("orbit", "relative_orbit", "orbit_cycle", "pass_number", "orbit_direction",
                "equator_crossing_longitude")


def test_reinspect_fills_the_orbit_fields_an_older_ingest_left_empty(
        tmp_path: Path, shared_swaths: Path) -> None:
    src = tmp_path / "incoming"
    src.mkdir()
    for name in NAMES:
        shutil.copy2(shared_swaths / name, src / name)
    run = ingest_paths([src], "orbits", codec="none")
    assert run.n_failed == 0, run.errors
    Swath.objects.update(orbit=None, relative_orbit=None, orbit_cycle=None, pass_number=None,
                         orbit_direction="", equator_crossing_longitude=None)

    out = io.StringIO()
    call_command("reinspect", "--collection", "orbits", stdout=out)
    assert "4 swaths, 4 changed" in out.getvalue(), out.getvalue()
    assert out.getvalue().count("ranged read") == 4, out.getvalue()
    for name in NAMES:
        row = Swath.objects.get(granule_id=name)
        expected = metadata_fields(read_metadata(shared_swaths / name))
        assert {f: getattr(row, f) for f in ORBIT_FIELDS} == {
            f: expected[f] for f in ORBIT_FIELDS}, name
    atl03 = Swath.objects.get(granule_id=NAMES[0])
    assert (atl03.relative_orbit, atl03.orbit_cycle) != (None, None)

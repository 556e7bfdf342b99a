"""A file whose handling raises what the pipeline does not expect fails alone: its
FAILED entry carries the exception, and the rest of the batch is ingested (issue 20).

The failure is real, not injected: a granule whose name is 200 bytes that are not UTF-8
(an old Latin-1 archive, say) gets a printable granule id of 800 characters, longer than
the catalog's column, and PostgreSQL refuses the row with a DataError that nothing in
ingest/pipeline.py turns into an outcome.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from catalog.models import IngestRun, Swath, SwathState
from tests.support.ingesting import copies_of, ingest_paths

pytestmark = pytest.mark.django_db(transaction=True)
GOOD = ["CS_LTA__SIR_SAR_2__20191005T151255_20191005T151621_E001.nc",
        "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_whose_handling_raises_fails_alone_and_the_batch_goes_on(
    shared_swaths: Path, tmp_path: Path, workers: int
) -> None:
    src = copies_of(shared_swaths, GOOD, tmp_path / "in")
    odd = os.fsencode(src) + b"/" + b"\xe9" * 200 + b".nc"
    shutil.copyfile(shared_swaths / GOOD[0], odd)

    run = ingest_paths([src], f"odd-names-{workers}", workers=workers)

    assert run.state == IngestRun.State.FAILED
    assert (run.n_new, run.n_failed, run.n_files) == (2, 1, 3)
    (error,) = run.errors
    assert error["path"].endswith("\\xe9" * 200 + ".nc")
    assert error["reason"].startswith("DataError: ")
    assert "too long" in error["reason"]
    item = run.items.get(status="failed")
    assert item.reason == error["reason"]
    verified = Swath.objects.filter(collection__slug=f"odd-names-{workers}",
                                    state=SwathState.VERIFIED)
    assert sorted(verified.values_list("granule_id", flat=True)) == sorted(GOOD)

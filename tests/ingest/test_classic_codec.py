"""The auto codec and NetCDF classic: large files kept as they are, small ones compressed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pytest

from archive.stores import Store
from catalog.models import StoredObject, Swath
from ingest.chunkindex_nc3 import build_nc3_references
from tests.support.ingesting import copies_of, ingest_paths

pytestmark = pytest.mark.django_db

JASON = "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc"  # 3.5 MiB
ASCAT = "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc"  # 2.1 MiB


@pytest.fixture
def classic(tmp_path: Path, shared_swaths: Path) -> Path:
    return copies_of(shared_swaths, [JASON, ASCAT], tmp_path / "incoming")


def codecs_by_file() -> dict[str, str]:
    return dict(StoredObject.objects.values_list("swath__granule_id", "codec"))


def test_auto_keeps_classic_files_from_the_threshold_as_they_are_and_compresses_smaller_ones(
    classic: Path, settings: Any, s3_primary: Store
) -> None:
    settings.INGEST_CLASSIC_AS_IS_MB = 3
    run = ingest_paths([classic], "classic")
    assert (run.n_new, run.n_failed) == (2, 0), run.errors
    assert codecs_by_file() == {JASON: "none", ASCAT: "zstd"}


def test_a_classic_object_kept_as_it_is_is_read_by_ranges_where_its_references_point(
    classic: Path, settings: Any, s3_primary: Store
) -> None:
    settings.INGEST_CLASSIC_AS_IS_MB = 0
    ingest_paths([classic / JASON], "classic")
    copy = StoredObject.objects.select_related("swath").get(swath__granule_id=JASON)
    key, digest = copy.key, copy.swath.sha256
    refs = build_nc3_references(classic / JASON)["refs"]
    # The backfill's way: the document made from the stored object read by ranges is the
    # same, and reading the header took a small part of the object.
    with s3_primary.open_ranged(key) as f:
        assert build_nc3_references(f, object_sha256=digest)["refs"] == refs
        assert f.bytes_read < (classic / JASON).stat().st_size / 4
    with netCDF4.Dataset(classic / JASON) as nc:
        nc.set_auto_maskandscale(False)
        want = np.asarray(nc["lat"][:])
    _, offset, length = refs["lat/0"]
    with s3_primary.open_ranged(key) as f:
        f.seek(offset)
        got = np.frombuffer(f.read(length), dtype=">i4")[: want.size]
        # Only the variable's bytes (and the block they fall in) came from the store.
        assert f.bytes_read < (classic / JASON).stat().st_size / 4
    assert got.tobytes() == want.astype(">i4").tobytes()


def test_an_explicit_codec_wins_over_the_classic_rule(
    classic: Path, settings: Any, s3_primary: Store
) -> None:
    settings.INGEST_CLASSIC_AS_IS_MB = 0
    run = ingest_paths([classic], "classic", codec="zstd")
    assert (run.n_new, run.n_failed) == (2, 0), run.errors
    assert codecs_by_file() == {JASON: "zstd", ASCAT: "zstd"}


def test_by_default_the_small_real_classic_granules_are_compressed_and_say_why_no_index(
    classic: Path, settings: Any
) -> None:
    settings.INGEST_CHUNK_INDEX = True
    ingest_paths([classic], "classic")
    assert codecs_by_file() == {JASON: "zstd", ASCAT: "zstd"}
    for swath in Swath.objects.all():
        assert "chunk_index" not in swath.attrs
        assert swath.attrs["chunk_index_error"].startswith("stored zstd-compressed: byte "
                                                           "ranges of the object are not")


def test_a_cut_of_a_classic_swath_kept_as_it_is_reads_part_of_its_object(
    classic: Path, settings: Any, s3_primary: Store, tmp_path: Path
) -> None:
    from subset.region import bbox_region
    from subset.services import SubsetSpec, cut_swath_to

    settings.INGEST_CLASSIC_AS_IS_MB = 0
    ingest_paths([classic / ASCAT], "classic")
    swath = Swath.objects.get(granule_id=ASCAT)
    assert swath.copies.get().codec == "none"
    result = cut_swath_to(swath, SubsetSpec(bbox_region(-5.0, -5.0, 5.0, 5.0)),
                          tmp_path / "cut.nc")
    assert result.n_selected > 0
    # By ranges: the geolocation and the window's rows, not the whole object.
    assert result.bytes_read is not None and result.bytes_read < swath.size / 2

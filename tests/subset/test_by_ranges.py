"""Which archived copies a cut reads by ranges: HDF5-based and classic, stored as they are."""

from __future__ import annotations

import pytest

from catalog.models import StoredObject, Swath
from ingest.metadata import FORMATS
from subset.services import by_ranges

BY_RANGES = {"netcdf4", "hdf5", "hdfeos5", "netcdf3"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_copy_stored_as_it_is_is_cut_by_ranges_unless_its_format_has_no_ranged_reader(
    fmt: str
) -> None:
    assert by_ranges(StoredObject(codec="none"), Swath(format=fmt)) is (fmt in BY_RANGES)


@pytest.mark.parametrize("codec", ["zstd", "gzip"])
def test_a_compressed_copy_is_never_cut_by_ranges(codec: str) -> None:
    assert by_ranges(StoredObject(codec=codec), Swath(format="hdfeos5")) is False

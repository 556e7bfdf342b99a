"""Which archived copies a cut reads by ranges: every HDF5-based format stored as it is."""

from __future__ import annotations

import pytest

from catalog.models import StoredObject, Swath
from ingest.metadata import FORMATS
from subset.services import by_ranges

HDF5_BASED = {"netcdf4", "hdf5", "hdfeos5"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_copy_stored_as_it_is_is_cut_by_ranges_exactly_when_its_format_is_hdf5_based(
    fmt: str
) -> None:
    assert by_ranges(StoredObject(codec="none"), Swath(format=fmt)) is (fmt in HDF5_BASED)


@pytest.mark.parametrize("codec", ["zstd", "gzip"])
def test_a_compressed_copy_is_never_cut_by_ranges(codec: str) -> None:
    assert by_ranges(StoredObject(codec=codec), Swath(format="hdfeos5")) is False

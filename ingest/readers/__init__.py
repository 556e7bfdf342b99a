"""Reader registry: pick a reader by magic bytes and read a granule's metadata."""

from __future__ import annotations

from pathlib import Path

from ingest.metadata import SwathMetadata
from ingest.readers.base import (
    NoGeolocationError,
    Reader,
    ReadError,
    UnsupportedFormatError,
    sniff,
)
from ingest.readers.build import granule_stem
from ingest.readers.gdal_reader import GDALReader
from ingest.readers.hdfeos import HDFEOS5Reader
from ingest.readers.netcdf import HDF5Reader, NetCDF3Reader
from ingest.unwrap import DEFAULT_MAX_BYTES, detect_wrapper, unwrapped

__all__ = [
    "NoGeolocationError", "ReadError", "Reader", "UnsupportedFormatError", "read_metadata",
    "reader_for", "readers", "sniff",
]


def readers() -> list[Reader]:
    """Return the readers in the order they are tried (most specific first, GDAL last)."""
    return [NetCDF3Reader(), HDFEOS5Reader(), HDF5Reader(), GDALReader()]


def reader_for(path: str | Path) -> Reader:
    """Return the first reader whose can_open() accepts the (unwrapped) file."""
    for reader in readers():
        if reader.can_open(path):
            return reader
    raise UnsupportedFormatError(path, "no reader recognises this file")


def read_metadata(path: str | Path, hints: dict | None = None,
                  max_unwrapped_bytes: int = DEFAULT_MAX_BYTES) -> SwathMetadata:
    """Return the granule's metadata; gzip/bzip2/zstd wrappers are unwrapped first.

    Raises ReadError subclasses, or ingest.unwrap.UnwrapError for a bad wrapper.
    """
    path = Path(path)
    if detect_wrapper(path) is None:
        return reader_for(path).read(path, hints)
    with unwrapped(path, max_unwrapped_bytes) as plain:
        meta = reader_for(plain).read(plain, hints)
    if meta.granule_id == granule_stem(plain):
        meta.granule_id = granule_stem(path)
    meta.path = str(path)
    return meta

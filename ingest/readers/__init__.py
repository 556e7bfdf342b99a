"""Reader registry: pick a reader by magic bytes and read a granule's metadata."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

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
from ingest.readers.hdfeos import HDFEOS5Reader, has_hdfeos, read_hdfeos5_handle
from ingest.readers.netcdf import HDF5Reader, NetCDF3Reader, read_hdf5_handle
from ingest.unwrap import DEFAULT_MAX_BYTES, detect_wrapper, unwrapped

__all__ = [
    "NoGeolocationError", "ReadError", "Reader", "UnsupportedFormatError", "read_metadata",
    "read_metadata_from", "reader_for", "readers", "sniff",
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


def read_metadata_from(fileobj: BinaryIO, name: str, hints: dict | None = None) -> SwathMetadata:
    """Return the metadata of an HDF5-based granule (NetCDF4, HDF5, HDF-EOS5) read with h5py
    through a seekable file object, such as an archived object read by range requests.

    ``name`` is the granule's file name (format label, granule id). The result is what
    read_metadata gives for the file. Raises ReadError.
    """
    import h5py
    import netCDF4  # noqa: F401  (registers the HDF5 filter plugins before h5py reads)

    try:
        fh = h5py.File(fileobj, "r")
    except OSError as e:
        raise ReadError(name, f"HDF5 library cannot read the object ({e})") from e
    try:
        with fh:
            if has_hdfeos(fh):
                return read_hdfeos5_handle(fh, name, hints)
            return read_hdf5_handle(fh, name, hints)
    except OSError as e:
        raise ReadError(name, f"HDF5 library cannot read the object ({e})") from e

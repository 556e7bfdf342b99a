"""The reader interface, format sniffing by magic bytes, and reader errors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from ingest.metadata import SwathMetadata

NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
HDF4_MAGIC = b"\x0e\x03\x13\x01"
# HDF5 allows a user block: the superblock sits at 0, 512, 1024, 2048, ... bytes.
HDF5_OFFSETS = (0, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


class ReadError(Exception):
    """A granule could not be read; ``reason`` is a short machine-readable class."""

    reason = "unreadable"

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = str(path)


class UnsupportedFormatError(ReadError):
    """No reader recognises the file."""

    reason = "unsupported_format"


class NoGeolocationError(ReadError):
    """The file opens but holds no latitude/longitude we can use."""

    reason = "no_geolocation"


def sniff(path: str | Path) -> str | None:
    """Return 'netcdf3', 'hdf5' or 'hdf4' from the file's magic bytes, or None."""
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head in NETCDF3_MAGIC:
            return "netcdf3"
        if head == HDF4_MAGIC:
            return "hdf4"
        for offset in HDF5_OFFSETS:
            fh.seek(offset)
            if fh.read(8) == HDF5_MAGIC:
                return "hdf5"
    return None


class Reader(ABC):
    """Reads one family of formats into SwathMetadata."""

    name: str = "reader"

    @abstractmethod
    def can_open(self, path: str | Path) -> bool:
        """Return True if this reader handles the file (magic bytes first, not the extension)."""

    @abstractmethod
    def read(self, path: str | Path, hints: dict | None = None) -> SwathMetadata:
        """Return the granule's metadata; raises ReadError subclasses on failure."""

"""The reader interface, format sniffing by magic bytes, and reader errors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from eo.formats import recognise_path
from ingest.metadata import SwathMetadata


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
    """Return 'netcdf3', 'hdf5' or 'hdf4' from the file's magic bytes (eo.formats), or None."""
    kind = recognise_path(path)
    return kind if kind in ("netcdf3", "hdf5", "hdf4") else None


class Reader(ABC):
    """Reads one family of formats into SwathMetadata."""

    name: str = "reader"

    @abstractmethod
    def can_open(self, path: str | Path) -> bool:
        """Return True if this reader handles the file (magic bytes first, not the extension)."""

    @abstractmethod
    def read(self, path: str | Path, hints: dict | None = None) -> SwathMetadata:
        """Return the granule's metadata; raises ReadError subclasses on failure."""

"""Readers for NetCDF3, NetCDF4 and plain HDF5 (netCDF4 first, h5py when it cannot open)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.geoloc import global_attrs, iter_variables
from ingest.metadata import SwathMetadata
from ingest.readers.base import Reader, ReadError, sniff
from ingest.readers.build import build_metadata
from ingest.readers.hdfeos import is_hdfeos5
from ingest.readers.track import track_attrs


def _netcdf_name(path: str | Path) -> bool:
    # netCDF-4 files from old libraries (CryoSat-2 Baseline E) lack _NCProperties: then
    # the extension decides the label (the magic bytes already decided the reader).
    return Path(path).suffix.lower() in (".nc", ".nc4", ".netcdf", ".cdf")


def read_hdf5_handle(fh: Any, path: str | Path, hints: dict | None = None) -> SwathMetadata:
    """Return the metadata of an open h5py.File of a NetCDF4 or plain HDF5 granule, with the
    format label ingest gives it (``path`` names it)."""
    fmt = "netcdf4" if _netcdf_name(path) or "_NCProperties" in fh.attrs else "hdf5"
    return build_metadata(path, fmt, list(iter_variables(fh)), global_attrs(fh), hints,
                          track=track_attrs(fh))


class NetCDF3Reader(Reader):
    """NetCDF classic, 64-bit offset and CDF-5 files (magic CDF\\x01/\\x02/\\x05)."""

    name = "netcdf3"

    def can_open(self, path: str | Path) -> bool:
        """Return True for NetCDF3 magic bytes."""
        return sniff(path) == "netcdf3"

    def read(self, path: str | Path, hints: dict | None = None) -> SwathMetadata:
        """Return metadata read with netCDF4-python."""
        import netCDF4

        try:
            with netCDF4.Dataset(path, "r") as ds:
                return build_metadata(path, "netcdf3", list(iter_variables(ds)),
                                      global_attrs(ds), hints, track=track_attrs(ds))
        except OSError as e:
            raise ReadError(path, f"netCDF library cannot read the file ({e})") from e


class HDF5Reader(Reader):
    """NetCDF4 and plain HDF5 (not HDF-EOS5); h5py when netCDF4 fails (ATL03 dimension scales)."""

    name = "hdf5"

    def can_open(self, path: str | Path) -> bool:
        """Return True for HDF5 magic bytes (also behind a user block) that is not HDF-EOS5."""
        return sniff(path) == "hdf5" and not is_hdfeos5(path)

    def read(self, path: str | Path, hints: dict | None = None) -> SwathMetadata:
        """Return metadata read with netCDF4, or h5py if netCDF4 cannot open the file."""
        import netCDF4  # before h5py: registers the HDF5 filter plugins (zstd) for both

        fmt = "netcdf4" if _netcdf_name(path) or self._has_netcdf_marker(path) else "hdf5"
        try:
            ds = netCDF4.Dataset(path, "r")
        except (OSError, AttributeError, KeyError, RuntimeError, ValueError):
            # netCDF-C rejects some valid HDF5 (ATL03's dimension scales); h5py reads them.
            return self._read_h5py(path, hints)
        with ds:
            return build_metadata(path, fmt, list(iter_variables(ds)), global_attrs(ds), hints,
                                  track=track_attrs(ds))

    @staticmethod
    def _has_netcdf_marker(path: str | Path) -> bool:
        import h5py

        try:
            with h5py.File(path, "r") as fh:
                return "_NCProperties" in fh.attrs
        except OSError:
            return False

    @staticmethod
    def _read_h5py(path: str | Path, hints: dict | None) -> SwathMetadata:
        import h5py

        try:
            with h5py.File(path, "r") as fh:
                return read_hdf5_handle(fh, path, hints)
        except OSError as e:
            raise ReadError(path, f"HDF5 library cannot read the file ({e})") from e

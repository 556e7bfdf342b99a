"""Reader for HDF-EOS5 swaths (Aura MLS/OMI/TES...): h5py, spaces in names, TAI-93 time."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ingest.geoloc import global_attrs, iter_variables, plain_attr
from ingest.metadata import SwathMetadata
from ingest.readers.base import Reader, ReadError, sniff
from ingest.readers.build import build_metadata

FILE_ATTRIBUTES = "HDFEOS/ADDITIONAL/FILE_ATTRIBUTES"
# ECS inventory metadata (ODL text) fields -> the attribute names build_metadata looks up.
ECS_FIELDS = {
    key: re.compile(rf"OBJECT\s*=\s*{obj}\b.*?VALUE\s*=\s*\"?([^\"\n]+)\"?", re.S)
    for key, obj in (("LocalGranuleID", "LOCALGRANULEID"),
                     ("platform", "ASSOCIATEDPLATFORMSHORTNAME"),
                     ("instrument", "ASSOCIATEDINSTRUMENTSHORTNAME"),
                     ("OrbitDirection", "ORBITDIRECTION"))
}


def has_hdfeos(fh: Any) -> bool:
    """Return True if an open h5py.File holds an /HDFEOS group or 'HDFEOS INFORMATION'."""
    return "HDFEOS" in fh or "HDFEOS INFORMATION" in fh


def is_hdfeos5(path: str | Path) -> bool:
    """Return True if h5py opens the file and finds HDF-EOS5 structure in it."""
    import h5py
    import netCDF4  # noqa: F401  (registers HDF5 filter plugins before h5py reads)

    try:
        with h5py.File(path, "r") as fh:
            return has_hdfeos(fh)
    except OSError:
        return False


class HDFEOS5Reader(Reader):
    """HDF5 files holding an /HDFEOS group or 'HDFEOS INFORMATION'."""

    name = "hdfeos5"

    def can_open(self, path: str | Path) -> bool:
        """Return True for HDF5 magic bytes with HDF-EOS5 structure."""
        return sniff(path) == "hdf5" and is_hdfeos5(path)

    def read(self, path: str | Path, hints: dict | None = None) -> SwathMetadata:
        """Return metadata; bare-seconds 'Time' is TAI-93, the Aura HDF-EOS5 convention."""
        import h5py
        import netCDF4  # noqa: F401

        try:
            with h5py.File(path, "r") as fh:
                return read_hdfeos5_handle(fh, path, hints)
        except OSError as e:
            raise ReadError(path, f"HDF5 library cannot read the file ({e})") from e


def read_hdfeos5_handle(fh: Any, path: str | Path, hints: dict | None = None) -> SwathMetadata:
    """Return the metadata of an open HDF-EOS5 h5py.File (``path`` names it)."""
    attrs: dict[str, Any] = global_attrs(fh)
    if FILE_ATTRIBUTES in fh:
        group = fh[FILE_ATTRIBUTES]
        for key in group.attrs:
            attrs.setdefault(key, plain_attr(group.attrs[key]))
    core = fh.get("HDFEOS INFORMATION/coremetadata.0")
    if core is not None:
        text = str(plain_attr(core[()]))
        for key, pattern in ECS_FIELDS.items():
            match = pattern.search(text)
            if match:
                attrs.setdefault(key, match.group(1))
    variables = [v for v in iter_variables(fh) if not v.path.startswith("/HDFEOS INFORMATION/")]
    return build_metadata(path, "hdfeos5", variables, attrs, hints, epoch="tai93")

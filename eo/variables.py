"""Variables of NetCDF4/HDF5 files known by their full path, e.g. ``/gt1l/heights/h_ph``.

Ingest's geolocation finder and the subset kernel each describe variables; both name
them by path, and read the variable's own name and its group from it here. No Django.
"""

from __future__ import annotations


class PathNamed:
    """``name`` and ``group`` of something whose ``path`` is its full path in the file."""

    path: str

    @property
    def name(self) -> str:
        """Return the variable's own name (the last component of its path)."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def group(self) -> str:
        """Return the path of the group holding it ('/' for the root)."""
        return self.path.rsplit("/", 1)[0] or "/"

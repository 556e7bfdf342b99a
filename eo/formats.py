"""Which format a file is, from its magic bytes (never its name): one recogniser for all.

NetCDF classic starts with CDF\\x01 (classic), \\x02 (64-bit offset) or \\x05 (CDF-5).
HDF5 (and so NetCDF-4) has its superblock signature at byte 0 or, behind a user block,
at 512, 1024, 2048, ... (any power of two from 512). HDF4 starts with \\x0e\\x03\\x13\\x01.
A gzip, bzip2 or zstd wrapper is recognised as such, so a caller can say what to undo.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

NETCDF3_MAGICS = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
HDF4_MAGIC = b"\x0e\x03\x13\x01"
# The user-block sizes HDF5 allows (512 * 2**k); files past 64 KiB of user block are rare
# enough that looking further would cost reads on every unrecognised object for nothing.
HDF5_OFFSETS = (0, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)
WRAPPERS = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\x28\xb5\x2f\xfd": "zstd"}


def recognise_head(head: bytes) -> str | None:
    """Return the format whose magic bytes start ``head`` (superblock at 0 only), or None.

    >>> recognise_head(b"CDF\\x02..."), recognise_head(b"\\x89HDF\\r\\n\\x1a\\n"), \
recognise_head(b"BZh91AY")
    ('netcdf3', 'hdf5', 'bzip2')
    """
    if head[:4] in NETCDF3_MAGICS:
        return "netcdf3"
    if head[:4] == HDF4_MAGIC:
        return "hdf4"
    if head[:8] == HDF5_MAGIC:
        return "hdf5"
    for magic, name in WRAPPERS.items():
        if head.startswith(magic):
            return name
    return None


def recognise(fileobj: BinaryIO | io.RawIOBase) -> str | None:
    """Return 'netcdf3', 'hdf5', 'hdf4', 'gzip', 'bzip2', 'zstd' or None for a seekable
    binary file; its position is restored. Looks past HDF5 user blocks.
    """
    pos = fileobj.tell()
    try:
        fileobj.seek(0)
        kind = recognise_head(fileobj.read(8) or b"")
        if kind is not None:
            return kind
        for offset in HDF5_OFFSETS[1:]:
            fileobj.seek(offset)
            head = fileobj.read(8) or b""
            if len(head) < 8:
                break  # the file ends before this offset: it has no larger one either
            if head == HDF5_MAGIC:
                return "hdf5"
        return None
    finally:
        fileobj.seek(pos)


def recognise_path(path: str | os.PathLike[str]) -> str | None:
    """Return the format of the file at ``path`` (see ``recognise``)."""
    with open(path, "rb") as fh:
        return recognise(fh)

"""Zarr v2 metadata for HDF5 datasets: dtypes, codecs, fill values, attributes as JSON.

The pieces of a kerchunk reference document (ingest.chunkindex) that describe one HDF5
dataset to zarr and xarray, kept apart from the walk over the file. No Django.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np

CONTIGUOUS_TARGET = 4 << 20  # bytes per row block of a split contiguous dataset


class Skip(Exception):
    """This variable cannot be described; the message says why (the others go on)."""


def consolidated(refs: dict[str, Any]) -> str:
    """Zarr v2 consolidated metadata: every .zgroup/.zarray/.zattrs in one key.

    Without it a client lists directories to find a group's members, and zarr 3.1's
    fsspec store asks the reference filesystem for "/group" (a leading slash) when the
    document is the root of the store, which finds nothing: subgroups would open empty.
    With it, ``xr.open_dataset(..., group=...)`` and ``xr.open_datatree`` read no listing.
    """
    meta = {k: json.loads(v) for k, v in refs.items()
            if k.rsplit("/", 1)[-1] in (".zgroup", ".zarray", ".zattrs")}
    return json.dumps({"zarr_consolidated_format": 1, "metadata": meta})


def row_block(shape: list[int], itemsize: int) -> int | None:
    """Rows per block of a contiguous dataset split for partial reads, or None for one
    chunk. Blocks divide the first axis exactly: an uncompressed Zarr chunk must be whole."""
    if len(shape) == 0 or shape[0] < 2:
        return None
    row = math.prod(shape[1:]) * itemsize
    if row == 0 or row * shape[0] <= CONTIGUOUS_TARGET:
        return None
    target = max(1, CONTIGUOUS_TARGET // row)
    for rows in range(min(target, shape[0]), 0, -1):
        if shape[0] % rows == 0:
            # A tiny divisor (a prime length) would mean a reference per row: one chunk then.
            return rows if rows * row * 16 >= CONTIGUOUS_TARGET else None
    return None


def zarr_dtype(dt: np.dtype) -> tuple[Any, bool]:
    """Return (Zarr v2 dtype, is variable-length string); Skip for types Zarr lacks.

    Compounds of plain numbers and fixed-length strings are Zarr v2 structured types
    (zarr and xarray read them as numpy's, as netCDF4 does); others have no Zarr form.
    """
    import h5py

    info = h5py.check_string_dtype(dt)
    if info is not None and info.length is None:
        return "|O", True
    if h5py.check_vlen_dtype(dt) is not None:
        raise Skip("variable-length sequences have no Zarr v2 form")
    if h5py.check_ref_dtype(dt) is not None:
        raise Skip("object or region references have no Zarr v2 form")
    if dt.names is not None:
        fields = [(name, dt.fields[name][0]) for name in dt.names]
        # kind O (variable-length strings), V (nested) and array members have no Zarr
        # form; zarr 3.1 fails to cast a structure with big-endian members.
        if all(f.kind in "biufS" and f.subdtype is None and f.str[0] != ">"
               for _, f in fields):
            return [[name, f.str] for name, f in fields], False
        raise Skip(f"compound type {dt} with nested, array, variable-length or big-endian "
                    "members: no Zarr v2 form zarr reads")
    if dt.kind in "OVc" or dt.subdtype is not None:
        raise Skip(f"opaque or array type {dt}: no Zarr v2 form xarray reads")
    return dt.str, False


def filters_of(plist: Any, dtype: np.dtype) -> list[dict]:
    """Return the numcodecs configs that decode a dataset's HDF5 filter pipeline, in the
    pipeline's order (Zarr applies filters in order on write and backwards on read, as
    HDF5 does); Skip for a filter numcodecs has no codec for."""
    out: list[dict] = []
    for i in range(plist.get_nfilters()):
        code, _flags, values, fname = plist.get_filter(i)
        if code == 1:  # deflate
            out.append({"id": "zlib", "level": int(values[0]) if len(values) else 4})
        elif code == 2:  # shuffle
            out.append({"id": "shuffle", "elementsize": int(dtype.itemsize)})
        elif code == 3:  # fletcher32: numcodecs checks and strips the 4-byte checksum
            out.append({"id": "fletcher32"})
        elif code == 32015:  # zstd
            out.append({"id": "zstd", "level": int(values[0]) if len(values) else 0})
        elif code == 307:  # bzip2
            out.append({"id": "bz2", "level": int(values[0]) if len(values) else 9})
        else:
            label = fname.decode("ascii", "replace") if isinstance(fname, bytes) else fname
            raise Skip(f"HDF5 filter {code} ({label}) has no numcodecs codec")
    return out


def fill_value(special: dict, dtype: np.dtype) -> Any:
    """The Zarr fill value: the CF _FillValue when there is one (xarray masks with it, as
    netCDF4 does), else none. netCDF-4 sets HDF5's fill to _FillValue, so unallocated
    chunks read the same either way."""
    if "_FillValue" not in special or dtype.kind not in "biuf":
        return None
    value = np.asarray(special["_FillValue"]).reshape(-1)
    if value.size != 1:
        return None
    return json_fill(value[0], dtype)


def json_fill(value: Any, dtype: np.dtype) -> Any:
    """A fill value as Zarr v2 writes it in JSON (NaN and infinities as strings)."""
    if dtype.kind == "S":
        return base64.b64encode(bytes(value)).decode("ascii")
    if dtype.kind == "f":
        v = float(value)
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if dtype.kind in "biu":
        return int(dtype.type(value)) if dtype.kind != "b" else bool(value)
    return None


def as_text(value: Any) -> str:
    """An attribute's text (bytes decoded, one-element arrays unwrapped)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.size == 1:
        return as_text(value.reshape(-1)[0])
    return str(value)


def json_attr(value: Any) -> Any:
    """An attribute as netCDF4 shows it: one-element arrays as scalars, text as str."""
    import h5py

    if isinstance(value, h5py.Empty):
        return ""
    if isinstance(value, bytes | str):
        return as_text(value)
    if isinstance(value, np.generic):
        return _json_scalar(value)
    if isinstance(value, np.ndarray):
        if value.dtype.names is not None or h5py.check_ref_dtype(value.dtype) is not None:
            raise Skip(f"type {value.dtype}")
        flat = [json_attr(v) for v in value.reshape(-1)]
        return flat[0] if len(flat) == 1 else flat
    if isinstance(value, int | float | bool):
        return value
    raise Skip(f"type {type(value).__name__}")


def _json_scalar(value: np.generic) -> Any:
    if isinstance(value, np.bytes_):
        return as_text(bytes(value))
    if isinstance(value, np.void) or value.dtype.names is not None:
        raise Skip(f"type {value.dtype}")
    return value.item()

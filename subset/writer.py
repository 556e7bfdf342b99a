"""Write a subset as NetCDF4: groups, dimensions, encodings and attributes of the source kept.

Every variable keeps its stored dtype, packing attributes (scale_factor, add_offset) and
_FillValue, and is written raw, so values are bit-identical to the source. Output is zlib
compressed with shuffle, chunked like the source (clipped to the subset). The file is
written under a temporary name beside the target and renamed only once complete: a
failure (disk full, EFBIG under a file-size limit) removes it and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from subset.chunkwrite import Deferred, write_deferred
from subset.source import Dim, Source, Var

COMPLEVEL = 1  # zlib -1 with shuffle: most of the gain of higher levels, 3x faster
BLOCK_BYTES = 64 * 2**20  # read/write at most this much of one variable at a time


@dataclass
class OutVar:
    """A variable to write: its source, the selection per axis, and an optional pixel mask."""

    var: Var
    sel: tuple[slice, ...]
    mask: np.ndarray | None = None  # bool, True = keep, over (mask_axes) of the output
    mask_axes: tuple[int, ...] = ()
    coordinates: str | None = None  # CF coordinates attribute to set
    data: np.ndarray | None = None  # the stored values of the selection, already read

    @property
    def shape(self) -> tuple[int, ...]:
        """Return the output shape."""
        return tuple(len(range(*s.indices(n))) for s, n in zip(self.sel, self.var.shape,
                                                                strict=True))


def write_netcdf(path: str | os.PathLike[str], source: Source, out: list[OutVar],
                 global_attrs: Mapping[str, Any], *, threads: int | None = None) -> int:
    """Write the variables to ``path`` atomically and return the file size; raises OSError.

    ``threads``: how many chunks are compressed at once (None: the cores available, at
    most 4; an MPI rank that shares its node with others passes 1).
    """
    import netCDF4

    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    try:
        ds = netCDF4.Dataset(tmp, "w", format="NETCDF4")
        try:
            deferred = _write(ds, source, out, global_attrs)
        finally:
            with contextlib.suppress(RuntimeError, OSError):
                ds.close()
        write_deferred(tmp, deferred, threads)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _check_readable(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target.stat().st_size


def _check_readable(path: str) -> None:
    """Reopen the file: a write that failed inside HDF5 (EFBIG) may surface only here."""
    import netCDF4

    with netCDF4.Dataset(path) as ds:
        for grp in _walk(ds):
            for v in grp.variables.values():
                _ = v.shape


def _walk(grp: Any) -> Iterable[Any]:
    yield grp
    for sub in grp.groups.values():
        yield from _walk(sub)


def _group(ds: Any, path: str, source: Source) -> Any:
    grp = ds
    parts = [p for p in path.split("/") if p]
    for i, name in enumerate(parts):
        if name not in grp.groups:
            sub = grp.createGroup(name)
            _set_attrs(sub, source.group_attrs.get("/" + "/".join(parts[: i + 1]), {}))
        grp = grp.groups[name]
    return grp


def _write(ds: Any, source: Source, out: list[OutVar],
           global_attrs: Mapping[str, Any]) -> list[Deferred]:
    """Define every variable; write those netCDF4 must, return the others' data to come."""
    _set_attrs(ds, global_attrs)
    sizes: dict[str, int] = {}
    for ov in out:
        for dim, n in zip(ov.var.dims, ov.shape, strict=True):
            if sizes.setdefault(dim.key, n) != n:
                raise ValueError(f"dimension {dim.key} would get two sizes ({sizes[dim.key]}, {n})")
    created: dict[tuple[str, str], str] = {}  # (group, dim key) -> name usable there
    deferred = []
    for ov in out:
        grp = _group(ds, ov.var.group, source)
        names = [_dim_name(ds, grp, ov.var.group, d, sizes[d.key], created, source)
                 for d in ov.var.dims]
        later = _write_var(grp, ov, names)
        if later is not None:
            deferred.append(later)
    return deferred


def _dim_name(ds: Any, grp: Any, group: str, dim: Dim, size: int,
              created: dict[tuple[str, str], str], source: Source) -> str:
    """Return a dimension name visible from ``group``, creating the dimension once."""
    home = dim.group
    visible = group == home or group.startswith(home.rstrip("/") + "/") or home == "/"
    where = home if visible else group
    key = (where, dim.key)
    if key not in created:
        target = _group(ds, where, source)
        name = dim.name
        while name in target.dimensions:
            name += "_"
        target.createDimension(name, None if dim.unlimited else size)
        created[key] = name
    return created[key]


def _write_var(grp: Any, ov: OutVar, dims: list[str]) -> Deferred | None:
    """Define the variable; write its data now, or return it for chunkwrite."""
    var = ov.var
    shape = ov.shape
    kwargs: dict[str, Any] = {}
    if var.kind == "string" or (var.kind == "char" and var.dtype.itemsize > 1):
        dtype: Any = str
    else:
        dtype = var.dtype.newbyteorder("=")
        if shape and all(n > 0 for n in shape):
            kwargs.update(compression="zlib", complevel=COMPLEVEL, shuffle=True,
                          chunksizes=_chunks(var, shape))
    fill = var.fill
    if fill is not None and dtype is not str:
        kwargs["fill_value"] = np.asarray(fill).astype(dtype)
    else:
        kwargs["fill_value"] = False
    name = var.name
    v = grp.createVariable(name, dtype, tuple(dims), **kwargs)
    attrs = dict(var.attrs)
    if ov.coordinates:
        attrs["coordinates"] = ov.coordinates
    _set_attrs(v, attrs)
    v.set_auto_maskandscale(False)
    if dtype is not str:
        v.set_auto_chartostring(False)
    if not shape:
        v.assignValue(var.read(()))
        return None
    if any(n == 0 for n in shape):
        return None
    chunks = kwargs.get("chunksizes")
    pieces = _pieces(ov, dtype, chunks[0] if chunks else None)
    # Unlimited dimensions have no extent until netCDF writes them, and a variable named
    # like a dimension it does not use is stored under another HDF5 name: both stay here.
    if chunks and not any(d.unlimited for d in var.dims) and (
            name not in grp.dimensions or tuple(dims) == (name,)):
        path = f"{var.group.rstrip('/')}/{name}"
        return Deferred(path, pieces)
    for dst_sel, data in pieces:
        v[dst_sel] = data
    return None


def _pieces(ov: OutVar, dtype: Any, lead: int | None) -> Iterator[tuple[tuple[slice, ...],
                                                                        np.ndarray]]:
    """Yield (output selection, values as stored) block by block, mask applied."""
    var, shape, fill = ov.var, ov.shape, ov.var.fill
    pieces = (_blocks(ov, lead) if ov.data is None
              else [(ov.sel, tuple(slice(0, n) for n in shape))])
    for src_sel, dst_sel in pieces:
        data = var.read(src_sel) if ov.data is None else ov.data.reshape(shape)
        if dtype is str:
            data = np.asarray([x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)
                               for x in data.reshape(-1)], dtype=object).reshape(data.shape)
        elif ov.mask is not None and fill is not None:
            data = _apply_mask(data, ov, dst_sel, np.asarray(fill).astype(var.dtype))
        if dtype is not str and data.dtype != dtype:
            data = data.astype(dtype)
        yield dst_sel, data


def _apply_mask(data: np.ndarray, ov: OutVar, dst_sel: tuple[slice, ...],
                fill: Any) -> np.ndarray:
    """Set pixels outside the region (mask False) to fill in one block."""
    sub = np.asarray(ov.mask)[tuple(dst_sel[a] for a in ov.mask_axes)]
    # Put the mask's axes where they are in the data, length-1 elsewhere, then broadcast.
    order = np.argsort(ov.mask_axes)
    sub = np.transpose(sub, order)
    shape = [1] * data.ndim
    for a in ov.mask_axes:
        shape[a] = data.shape[a]
    keep = np.broadcast_to(sub.reshape(shape), data.shape)
    data = np.array(data, copy=True)
    data[~keep] = fill
    return data


def _chunks(var: Var, shape: tuple[int, ...]) -> tuple[int, ...]:
    if var.chunks is not None:
        return tuple(max(1, min(c, n)) for c, n in zip(var.chunks, shape, strict=True))
    # Aim at about 1 MiB per chunk: whole trailing axes, leading axis cut.
    item = max(var.dtype.itemsize, 1)
    rest = int(np.prod(shape[1:], dtype=np.int64)) * item
    lead = max(1, min(shape[0], (1 << 20) // max(rest, 1)))
    return (lead, *(max(1, n) for n in shape[1:]))


def _blocks(ov: OutVar, lead: int | None) -> Iterable[tuple[tuple[slice, ...],
                                                            tuple[slice, ...]]]:
    """Yield (source selection, output selection) pieces along the first axis.

    Pieces are whole multiples of ``lead`` rows (the output's chunk length) so each one
    covers whole output chunks.
    """
    shape = ov.shape
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * max(ov.var.dtype.itemsize, 1)
    step = max(1, BLOCK_BYTES // max(row_bytes, 1))
    if lead:
        step = max(lead, step // lead * lead)
    first = ov.sel[0]
    start0 = first.indices(ov.var.shape[0])[0]
    for i in range(0, shape[0], step):
        j = min(i + step, shape[0])
        src = (slice(start0 + i, start0 + j), *ov.sel[1:])
        dst = (slice(i, j), *(slice(0, n) for n in shape[1:]))
        yield src, dst


def _set_attrs(obj: Any, attrs: Mapping[str, Any]) -> None:
    for key, value in attrs.items():
        if key in ("_FillValue",) or key.startswith("_Netcdf4"):
            continue
        if isinstance(value, np.ndarray) and value.dtype.kind == "b":
            value = value.astype(np.int8)
        elif isinstance(value, bool | np.bool_):
            value = np.int8(value)
        try:
            if isinstance(value, list | tuple) and value and isinstance(value[0], str):
                obj.setncattr_string(key, list(value))
            else:
                obj.setncattr(key, value)
        except (TypeError, ValueError, AttributeError, KeyError):
            obj.setncattr(key, str(value))

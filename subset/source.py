"""A read-only view of a swath file's tree (groups, dimensions, variables) for subsetting.

NetCDF4/HDF5 files are read with h5py, which takes a path or any seekable file object, so
an archived object is read through ``archive.ranged.RangedFile`` by range requests: only
the metadata and the chunks a slice touches are fetched. NetCDF3 (classic) files are read
with netCDF4 from a path, or, given a seekable file (an archived object stored as it is),
by byte ranges from their parsed header (ingest.chunkindex_nc3.read_layout): a slice of
a variable is one range. Dimensions are identified as netCDF does, by their dimension scales;
datasets without scales get per-group phony dimensions, one per length, like netCDF-C.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np

from archive.ranged import RangedFile
from eo.formats import recognise
from eo.variables import PathNamed
from ingest.geoloc import (
    INTERNAL_ATTRS as NETCDF_INTERNAL,
)
from ingest.geoloc import (
    VarRef,
    h5_datasets,
    h5_dimensions,
    is_pure_dimension,
    plain_attr,
)
from subset.errors import SourceError
from subset.prefetch import ChunkIndex

# Never copied as user attributes: netCDF-C's bookkeeping, and the fill (Var.fill has it).
INTERNAL_ATTRS = NETCDF_INTERNAL | {"_FillValue"}



@dataclass
class Dim:
    """A dimension: ``key`` is unique in the file (scale path, or group + phony name)."""

    key: str
    name: str
    group: str
    size: int
    unlimited: bool = False


@dataclass
class Var(PathNamed):
    """A variable: path, dims, stored dtype, attributes (as stored) and a slice reader."""

    path: str
    dims: tuple[Dim, ...]
    shape: tuple[int, ...]
    dtype: np.dtype
    kind: str  # "numeric", "string" (variable-length text) or "char" (fixed bytes)
    attrs: dict[str, Any]
    fill: Any
    chunks: tuple[int, ...] | None
    storage_size: int | None
    _read: Callable[[tuple[slice, ...]], np.ndarray] = field(repr=False)
    # The byte ranges of the chunks a selection reads, and the file to prefetch them into.
    _chunk_ranges: Callable[[tuple[slice, ...]], list[tuple[int, int]]] | None = field(
        default=None, repr=False)
    _ranged: RangedFile | None = field(default=None, repr=False)
    _contiguous: tuple[int, int] | None = field(default=None, repr=False)  # its bytes

    @property
    def nbytes(self) -> int:
        """Return the uncompressed size in bytes."""
        return int(np.prod(self.shape, dtype=np.int64)) * max(self.dtype.itemsize, 1)

    def read(self, sel: tuple[slice, ...] | None = None) -> np.ndarray:
        """Return the stored (packed) values of ``sel`` (all when None)."""
        if sel is None:
            sel = tuple(slice(None) for _ in self.shape)
        if any(n == 0 for n in self.shape):
            return np.zeros(tuple(len(range(*s.indices(n))) for s, n in zip(sel, self.shape,
                                                                              strict=True)),
                            dtype=self.dtype)
        return np.asarray(self._read(sel))

    def prefetch(self, sel: tuple[slice, ...]) -> int:
        """Start fetching the stored chunks ``sel`` will read; return the bytes queued."""
        return prefetch([(self, sel)])

    def byte_ranges(self, sel: tuple[slice, ...]) -> list[tuple[int, int]]:
        """Return the byte ranges of the file reading ``sel`` touches (an estimate's input):
        its chunks, or the whole of a contiguous variable; none for compact, NetCDF3 or
        variable-length strings (their bytes lie elsewhere)."""
        if any(n == 0 for n in self.shape):
            return []
        if self._chunk_ranges is not None:
            return self._chunk_ranges(sel)
        return [self._contiguous] if self._contiguous is not None else []

    def ref(self) -> VarRef:
        """Return the ingest.geoloc view of this variable (plain attributes, dim names)."""
        attrs = {k: plain_attr(v) for k, v in self.attrs.items()}
        if self.fill is not None:
            attrs["_FillValue"] = self.fill
        dtype = "str" if self.kind != "numeric" else str(self.dtype)
        return VarRef(self.path, self.shape, dtype, attrs, tuple(d.name for d in self.dims),
                      lambda: self.read(), tuple(d.key for d in self.dims))


@dataclass
class Source:
    """An open swath file: groups with attributes, dimensions, variables."""

    format: str  # "hdf5" or "netcdf3"
    group_attrs: dict[str, dict[str, Any]]
    dims: dict[str, Dim]
    variables: list[Var]
    skipped: list[str]  # variables of types the kernel cannot copy (compound, references)
    _drop: Callable[[], None] | None = field(default=None, repr=False)

    def var(self, path: str) -> Var:
        """Return the variable at ``path``; KeyError if none."""
        for v in self.variables:
            if v.path == path:
                return v
        raise KeyError(path)

    def refs(self) -> list[VarRef]:
        """Return every variable as an ingest.geoloc VarRef."""
        return [v.ref() for v in self.variables]

    def drop_prefetched(self) -> None:
        """Forget prefetched bytes not read yet (e.g. chunks the window search skipped)."""
        if self._drop is not None:
            self._drop()


def prefetch(reads: Iterable[tuple[Var, tuple[slice, ...]]]) -> int:
    """Start fetching, as one batch, the chunks these reads will need; return bytes queued.

    One batch lets neighbouring chunks of different variables (lat and lon of one block)
    share requests. Does nothing (0) unless the file is a RangedFile that can prefetch;
    contiguous and compact variables are skipped.
    """
    ranged: RangedFile | None = None
    ranges: list[tuple[int, int]] = []
    for var, sel in reads:
        if var._chunk_ranges is None or var._ranged is None or any(n == 0 for n in var.shape):
            continue
        ranged = var._ranged
        ranges += var._chunk_ranges(sel)
    return ranged.prefetch(ranges) if ranged is not None and ranges else 0


@contextlib.contextmanager
def open_source(src: str | os.PathLike[str] | BinaryIO) -> Iterator[Source]:
    """Open a path or seekable binary file and yield its Source; raises SourceError."""
    if isinstance(src, str | os.PathLike):
        src = os.fspath(src)
        with open(src, "rb") as f:
            kind = recognise(f)
    else:
        kind = recognise(src)
    if kind == "netcdf3" and isinstance(src, str):
        import netCDF4

        try:
            ds = netCDF4.Dataset(src)
        except OSError as e:
            raise SourceError(f"cannot open {src}: {e}") from e
        with ds:
            yield _nc3_source(ds)
        return
    if kind == "netcdf3" and not isinstance(src, str):
        # An archived classic object stored as it is: its header says where every
        # variable's values lie, so a slice is one byte range (nc3_ranged_source).
        ranged3 = src if isinstance(src, RangedFile) and src.can_prefetch else None
        try:
            yield nc3_ranged_source(src, ranged3)
        finally:
            if ranged3 is not None:
                ranged3.drop_prefetched()
        return
    import h5py

    try:
        handle = h5py.File(src, "r")
    except OSError as e:
        raise SourceError(f"not a NetCDF4/HDF5/NetCDF3 file ({e})") from e
    # Only a RangedFile whose fetch is thread-safe (an S3 store's) gains from prefetching.
    ranged = src if isinstance(src, RangedFile) and src.can_prefetch else None
    with handle:
        try:
            yield _h5_source(handle, ranged)
        finally:
            if ranged is not None:
                ranged.drop_prefetched()


def _attr_dict(attrs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in attrs:
        if key in INTERNAL_ATTRS:
            continue
        try:
            value = attrs[key]
        except (OSError, TypeError, ValueError, KeyError):
            continue  # attributes of exotic HDF5 types
        if isinstance(value, bytes | np.bytes_):
            value = value.decode("utf-8", "replace").rstrip("\x00")
        elif isinstance(value, np.ndarray) and value.dtype.kind in "SO":
            items = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                     for v in value.reshape(-1)]
            value = items[0] if len(items) == 1 else items
        elif isinstance(value, np.ndarray) and value.dtype.kind not in "iufb":
            continue
        out[key] = value
    return out


def _h5_source(handle: Any, ranged: RangedFile | None = None) -> Source:
    import h5py

    groups: dict[str, dict[str, Any]] = {"/": _attr_dict(handle.attrs)}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group):
            groups["/" + name] = _attr_dict(obj.attrs)

    handle.visititems(visit)
    datasets = h5_datasets(handle)
    # The readers' own dimension rule (ingest.geoloc), so both choose the same geolocation.
    scales, dim_keys = h5_dimensions(datasets)
    dims: dict[str, Dim] = {}
    for path, ds in scales.items():
        dims[path] = Dim(path, path.rsplit("/", 1)[-1], path.rsplit("/", 1)[0] or "/",
                         int(ds.shape[0]), ds.maxshape[0] is None)
    variables: list[Var] = []
    skipped: list[str] = []
    for path, ds in datasets:
        if path in scales and is_pure_dimension(ds):
            continue
        kind = _h5_kind(ds.dtype)
        if kind is None:
            skipped.append(path)
            continue
        vdims = []
        for key, size in zip(dim_keys[path], ds.shape, strict=True):
            if key not in dims:
                dims[key] = Dim(key, key.rsplit("/", 1)[-1], key.rsplit("/", 1)[0] or "/",
                                int(size))
            vdims.append(dims[key])
        fill = ds.attrs.get("_FillValue") if "_FillValue" in ds.attrs else None
        if fill is not None:
            fill = np.asarray(fill).reshape(-1)[0] if kind == "numeric" else None
        dtype = np.dtype(ds.dtype)
        try:
            storage = int(ds.id.get_storage_size())
        except (OSError, ValueError):
            storage = None
        # Variable-length strings live in the global heap, not in the chunks: no gain.
        ranges = _h5_chunk_ranges(ds) if kind != "string" and ds.chunks is not None else None
        contiguous = None
        if kind != "string" and ds.chunks is None and storage:
            offset = ds.id.get_offset()  # None for a compact dataset (in its header)
            contiguous = (int(offset), int(offset) + storage) if offset is not None else None
        variables.append(Var(path, tuple(vdims), tuple(int(n) for n in ds.shape), dtype, kind,
                             _attr_dict(ds.attrs), fill, ds.chunks, storage,
                             _h5_reader(ds, kind), ranges, ranged, contiguous))
    return Source("hdf5", groups, dims, variables, skipped,
                  ranged.drop_prefetched if ranged is not None else None)


def _h5_kind(dtype: np.dtype) -> str | None:
    import h5py

    if h5py.check_string_dtype(dtype) is not None:
        return "string" if h5py.check_vlen_dtype(dtype) is not None else "char"
    if dtype.kind in "iufb" or h5py.check_enum_dtype(dtype) is not None:
        return "numeric"
    return None


def _h5_reader(ds: Any, kind: str) -> Callable[[tuple[slice, ...]], np.ndarray]:
    def read(sel: tuple[slice, ...]) -> np.ndarray:
        if kind == "string":
            return np.asarray(ds.asstr()[sel], dtype=object)
        data: np.ndarray = ds[sel]
        return data

    return read


def _h5_chunk_ranges(ds: Any) -> Callable[[tuple[slice, ...]], list[tuple[int, int]]]:
    """Return ranges(sel) for a chunked dataset; its chunk index is walked on first use."""
    index: list[ChunkIndex | None] = []

    def ranges(sel: tuple[slice, ...]) -> list[tuple[int, int]]:
        if not index:
            index.append(ChunkIndex.of(ds.id))
        return index[0].ranges(sel, ds.shape) if index[0] is not None else []

    return ranges


def _nc3_source(ds: Any) -> Source:
    dims = {f"/{name}": Dim(f"/{name}", name, "/", len(d), d.isunlimited())
            for name, d in ds.dimensions.items()}
    variables = []
    for name, v in ds.variables.items():
        v.set_auto_maskandscale(False)
        v.set_auto_chartostring(False)
        attrs = {a: v.getncattr(a) for a in v.ncattrs() if a != "_FillValue"}
        fill = v.getncattr("_FillValue") if "_FillValue" in v.ncattrs() else None
        kind = "char" if v.dtype.kind == "S" else "numeric"
        variables.append(Var(f"/{name}", tuple(dims[f"/{d}"] for d in v.dimensions),
                             tuple(v.shape), np.dtype(v.dtype), kind, attrs, fill, None, None,
                             _nc_reader(v)))
    groups = {"/": {a: ds.getncattr(a) for a in ds.ncattrs()}}
    return Source("netcdf3", groups, dims, variables, [])


def _nc_reader(v: Any) -> Callable[[tuple[slice, ...]], np.ndarray]:
    return lambda sel: np.asarray(v[sel])


def nc3_ranged_source(f: BinaryIO, ranged: RangedFile | None = None) -> Source:
    """Return the Source of a classic file read by byte ranges of ``f`` (seekable).

    Attributes, fills and dtypes are as netCDF4 gives them (native byte order), so a cut
    writes the same file either way. ``ranged``, when given, prefetches the ranges a
    batch of reads names. Raises SourceError for a header that cannot be read.
    """
    from ingest.chunkindex_nc3 import Nc3IndexError, read_layout

    size = f.seek(0, os.SEEK_END)
    f.seek(0)
    try:
        layout = read_layout(f, size)
    except Nc3IndexError as e:
        raise SourceError(f"cannot read the NetCDF classic header: {e}") from e
    dims = {f"/{name}": Dim(f"/{name}", name, "/", layout.numrecs if n == 0 else n, n == 0)
            for name, n in layout.dims.items()}
    variables = []
    for v in layout.variables:
        attrs = {k: a for k, a in v.attrs.items() if k != "_FillValue"}
        fill = v.attrs.get("_FillValue")
        kind = "char" if v.dtype.kind == "S" else "numeric"
        dtype = v.dtype if kind == "char" else v.dtype.newbyteorder("=")
        stride = layout.recsize if v.is_record else v.dtype.itemsize * math.prod(v.shape[1:])
        span = _nc3_span(v.begin, stride, v.dtype.itemsize * math.prod(v.shape[1:]), v.shape)
        variables.append(Var(f"/{v.name}", tuple(dims[f"/{d}"] for d in v.dims), v.shape,
                             dtype, kind, attrs, fill, None, None,
                             _nc3_reader(f, span, stride, v.dtype, dtype, v.shape),
                             _nc3_ranges(span), ranged, None))
    return Source("netcdf3", {"/": dict(layout.attrs)}, dims, variables, [],
                  ranged.drop_prefetched if ranged is not None else None)


def _nc3_ranges(span: Callable[[tuple[slice, ...]], tuple[int, int, int]]
                ) -> Callable[[tuple[slice, ...]], list[tuple[int, int]]]:
    """Return ranges(sel): the one byte range a read of ``sel`` fetches (none if empty)."""
    def ranges(sel: tuple[slice, ...]) -> list[tuple[int, int]]:
        start, stop, n = span(sel)
        return [(start, stop)] if n else []

    return ranges


def _nc3_span(begin: int, stride: int, slab: int, shape: tuple[int, ...]
              ) -> Callable[[tuple[slice, ...]], tuple[int, int, int]]:
    """Return span(sel) -> (start, stop, rows): the bytes holding the rows ``sel`` reads.

    Rows (records, for a record variable) lie ``stride`` bytes apart, each ``slab`` long.
    """
    def span(sel: tuple[slice, ...]) -> tuple[int, int, int]:
        if not shape:
            return begin, begin + slab, 1
        rows = range(*(sel[0] if sel else slice(None)).indices(shape[0]))
        if not rows:
            return begin, begin, 0
        lo, hi = min(rows), max(rows) + 1
        return begin + lo * stride, begin + (hi - 1) * stride + slab, hi - lo

    return span


def _nc3_reader(f: BinaryIO, span: Callable[[tuple[slice, ...]], tuple[int, int, int]],
                stride: int, stored: np.dtype, native: np.dtype, shape: tuple[int, ...]
                ) -> Callable[[tuple[slice, ...]], np.ndarray]:
    slab = stored.itemsize * math.prod(shape[1:])

    def read(sel: tuple[slice, ...]) -> np.ndarray:
        start, stop, n = span(sel)
        f.seek(start)
        raw = f.read(stop - start)
        if len(raw) != stop - start:
            raise SourceError(f"the classic file ends inside a variable (byte {start + len(raw)})")
        if not shape:
            return np.frombuffer(raw, dtype=stored).astype(native).reshape(())
        # Pad the last row to a whole stride so the rows can be viewed as a 2-D array.
        rows = np.frombuffer(raw + bytes(n * stride - len(raw)), dtype=np.uint8)
        values = np.ascontiguousarray(rows.reshape(n, stride)[:, :slab]).view(stored)
        values = values.reshape((n, *shape[1:]))
        first = range(*(sel[0] if sel else slice(None)).indices(shape[0]))
        lo = min(first) if first else 0
        picked = values[np.asarray(first, dtype=np.int64) - lo] if first.step != 1 else values
        data: np.ndarray = picked[(slice(None), *sel[1:])].astype(native)
        return data

    return read

"""Chunk references (kerchunk format, version 1) for NetCDF classic files, read by us.

A classic file (CDF-1, CDF-2 64-bit offset, CDF-5) is a header followed by each
variable's values, uncompressed, big-endian, in C order: a fixed-size variable is one
contiguous run of bytes at its ``begin``; a record variable has one slab per record,
``recsize`` apart. So every chunk reference is a plain (offset, length) with no codec,
and a reader that has the header needs nothing but byte ranges.

kerchunk has a NetCDF3 reader, but it needs scipy, which is not installed here; the
header is small and fully specified (the netCDF "Classic Format Specification"), so it
is parsed here, with every count and offset checked against the file's size: the file
is untrusted.

Fixed-size variables are cut along their first dimension into chunks of about
CHUNK_TARGET bytes, so that a client reading a region of a long swath fetches its rows,
not the whole variable. Interleaved records make one reference per record and variable;
when those would describe less than MIN_REF_BYTES each on average, the index would be a
sizeable fraction of the object, and the file is refused (Nc3IndexError) with that
reason. Nothing here imports Django.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np

# Rows of a fixed-size variable per chunk aim at this many bytes: a 2 % region of a
# 200 MB swath then reads a few chunks per variable (docs/BENCHMARKS.md, "NetCDF classic").
CHUNK_TARGET = 512 * 1024
# Chunks no larger than this are stored in the document itself (as kerchunk does with
# inline_threshold=300), sparing a client a request per scalar.
INLINE_MAX = 300
# Interleaved records referenced one by one must describe at least this much data per
# reference on average: a reference costs about 40 bytes of JSON.
MIN_REF_BYTES = 4096

NC_DIMENSION, NC_VARIABLE, NC_ATTRIBUTE = 0x0A, 0x0B, 0x0C
STREAMING = 0xFFFFFFFF
TYPES = {  # nc_type -> numpy dtype (big-endian, as stored)
    1: ">i1", 2: "S1", 3: ">i2", 4: ">i4", 5: ">f4", 6: ">f8",
    7: ">u1", 8: ">u2", 9: ">u4", 10: ">i8", 11: ">u8",  # CDF-5 only
}
BUILDER = "netcdf3-header"  # the catalog record's "builder" for these documents
MAX_NAME = 64 * 1024  # netCDF-C allows 256; generous, but no gigabyte names


class Nc3IndexError(ValueError):
    """The file cannot be indexed: not NetCDF classic, malformed, or not worth indexing."""


@dataclass
class Nc3Var:
    """One variable's layout: where its values are and how they are laid out."""

    name: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: np.dtype
    attrs: dict[str, Any]
    begin: int
    vsize: int
    is_record: bool


@dataclass
class Nc3Layout:
    """A parsed classic header: dimensions, attributes, variables, record geometry."""

    version: int
    size: int
    numrecs: int
    dims: dict[str, int]
    attrs: dict[str, Any]
    variables: list[Nc3Var] = field(default_factory=list)
    recsize: int = 0


class _Reader:
    """Sequential reads of the header, each checked against the end of the file."""

    def __init__(self, f: BinaryIO, size: int, version: int) -> None:
        self.f, self.size, self.pos = f, size, 0
        self.wide = version == 5  # CDF-5: 64-bit counts

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.size:
            raise Nc3IndexError(f"header runs past the end of the file ({self.size} bytes)")
        data = self.f.read(n)
        if len(data) != n:
            raise Nc3IndexError(f"file ended at byte {self.pos + len(data)} inside the header")
        self.pos += n
        return data

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def u64(self) -> int:
        value: int = struct.unpack(">Q", self.take(8))[0]
        return value

    def count(self) -> int:
        return self.u64() if self.wide else self.u32()

    def name(self) -> str:
        n = self.count()
        if n > MAX_NAME:
            raise Nc3IndexError(f"a name of {n} bytes at byte {self.pos}: not a classic header")
        raw = self.take(n)
        self.take(-n % 4)
        return raw.decode("utf-8", "replace")


def read_layout(f: BinaryIO, size: int) -> Nc3Layout:
    """Parse the classic header of ``f`` (at position 0, ``size`` bytes); raise Nc3IndexError."""
    r = _Reader(f, size, 0)
    magic = r.take(4)
    if magic[:3] != b"CDF" or magic[3] not in (1, 2, 5):
        raise Nc3IndexError("not a NetCDF classic file (no CDF\\x01, \\x02 or \\x05 magic)")
    version = magic[3]
    r.wide = version == 5
    numrecs = r.count()
    if numrecs in (STREAMING, 2**64 - 1):
        raise Nc3IndexError("the header says the record count is still being written")
    dims: list[tuple[str, int]] = [(r.name(), r.count()) for _ in range(_list_len(r, NC_DIMENSION))]
    layout = Nc3Layout(version, size, numrecs, dict(dims), _attributes(r))
    record_dim = next((i for i, (_, n) in enumerate(dims) if n == 0), None)
    for _ in range(_list_len(r, NC_VARIABLE)):
        name = r.name()
        ids = [r.count() for _ in range(_checked(r.count(), 8, r, "dimension ids"))]
        if any(i >= len(dims) for i in ids):
            raise Nc3IndexError(f"variable {name!r} names a dimension the header lacks")
        attrs = _attributes(r)
        nc_type = r.u32()
        if nc_type not in TYPES or (nc_type > 6 and version != 5):
            raise Nc3IndexError(f"variable {name!r} has unknown type {nc_type}")
        vsize = r.u64() if version == 5 else r.u32()
        begin = r.u32() if version == 1 else r.u64()
        is_record = bool(ids) and ids[0] == record_dim
        shape = tuple(numrecs if i == record_dim else dims[i][1] for i in ids)
        layout.variables.append(Nc3Var(name, tuple(dims[i][0] for i in ids), shape,
                                       np.dtype(TYPES[nc_type]), attrs, begin, vsize, is_record))
    _record_geometry(layout)
    return layout


def _list_len(r: _Reader, tag: int) -> int:
    """Read a list's tag and length (ABSENT is two zeros); return the number of items."""
    found, n = r.u32(), r.count()
    if found == 0 and n == 0:
        return 0
    if found != tag:
        raise Nc3IndexError(f"expected list tag {tag:#x} at byte {r.pos - 8}, found {found:#x}")
    return _checked(n, 8, r, "list items")


def _checked(n: int, min_bytes: int, r: _Reader, what: str) -> int:
    """Return ``n`` if that many items of ``min_bytes`` could fit in the rest of the file."""
    if n * min_bytes > r.size - r.pos:
        raise Nc3IndexError(f"{n} {what} at byte {r.pos} cannot fit in a {r.size}-byte file")
    return n


def _attributes(r: _Reader) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _ in range(_list_len(r, NC_ATTRIBUTE)):
        name = r.name()
        nc_type = r.u32()
        if nc_type not in TYPES:
            raise Nc3IndexError(f"attribute {name!r} has unknown type {nc_type}")
        dtype = np.dtype(TYPES[nc_type])
        n = r.count()
        nbytes = _checked(n, dtype.itemsize, r, f"values of attribute {name!r}") * dtype.itemsize
        raw = r.take(nbytes)
        r.take(-nbytes % 4)
        out[name] = _attr_value(raw, dtype)
    return out


def _attr_value(raw: bytes, dtype: np.dtype) -> Any:
    """Return an attribute as netCDF4 gives it: text as str, one number as a numpy scalar
    of its type, several as an array (native byte order)."""
    if dtype.kind == "S":
        return raw.decode("utf-8", "replace").rstrip("\x00")
    values = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))
    return values[0] if len(values) == 1 else values


def _jsonable(attrs: dict[str, Any]) -> dict[str, Any]:
    """Return attributes as JSON values (numbers and lists of numbers, text)."""
    return {k: v.tolist() if isinstance(v, np.ndarray | np.generic) else v
            for k, v in attrs.items()}


def _record_geometry(layout: Nc3Layout) -> None:
    """Set ``recsize`` and check every variable's bytes lie inside the file."""
    records = [v for v in layout.variables if v.is_record]
    if len(records) == 1:  # one record variable: its records are not padded
        v = records[0]
        layout.recsize = v.dtype.itemsize * math.prod(v.shape[1:])
    else:
        layout.recsize = sum(v.vsize for v in records)
    for v in layout.variables:
        if v.is_record:
            last = v.begin + max(layout.numrecs - 1, 0) * layout.recsize + _slab(v)
            end = last if layout.numrecs else v.begin
        else:
            end = v.begin + v.dtype.itemsize * math.prod(v.shape)
        if end > layout.size:
            raise Nc3IndexError(f"variable {v.name!r} ends at byte {end}, past the end of "
                                f"the {layout.size}-byte file (truncated?)")


def _slab(v: Nc3Var) -> int:
    """Bytes of one record of a record variable (unpadded)."""
    return v.dtype.itemsize * math.prod(v.shape[1:])


def build_nc3_references(
    source: str | os.PathLike[str] | BinaryIO, *, object_sha256: str | None = None
) -> dict[str, Any]:
    """Return the kerchunk v1 reference document of the classic file ``source``.

    ``source`` is a path or a seekable binary file (an object read by byte ranges: only
    the header and the few chunks small enough to inline are read). Chunk references use
    the template ``{{u}}`` for the object's URL. ``object_sha256`` (the SHA-256 of the
    file, which the caller usually has) is computed when not given, reading it all.
    Raises Nc3IndexError with the reason when the file cannot be indexed.
    """
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            return build_nc3_references(fh, object_sha256=object_sha256)
    f: BinaryIO = source
    size = f.seek(0, os.SEEK_END)
    f.seek(0)
    layout = read_layout(f, size)
    refs: dict[str, Any] = {
        ".zgroup": json.dumps({"zarr_format": 2}),
        ".zattrs": json.dumps(_jsonable(layout.attrs)),
    }
    _check_record_cost(layout)
    for v in layout.variables:
        refs.update(_variable_refs(f, layout, v))
    # Consolidated, as ingest.chunkindex writes it: a client opens it without listing.
    meta = {k: json.loads(v) for k, v in refs.items()
            if k.rsplit("/", 1)[-1] in (".zgroup", ".zarray", ".zattrs")}
    refs[".zmetadata"] = json.dumps({"zarr_consolidated_format": 1, "metadata": meta})
    if object_sha256 is None:
        object_sha256 = _sha256(f)
    return {"version": 1, "templates": {"u": ""}, "refs": refs,
            "swathstore": {"builder": BUILDER, "skipped": {}, "object_sha256": object_sha256}}


def _check_record_cost(layout: Nc3Layout) -> None:
    records = [v for v in layout.variables if v.is_record]
    if len(records) < 2 or layout.numrecs == 0:
        return  # one record variable is one contiguous run: chunked like any other
    n_refs = len(records) * layout.numrecs
    data = sum(_slab(v) for v in records) * layout.numrecs
    if data < n_refs * MIN_REF_BYTES:
        raise Nc3IndexError(
            f"{len(records)} record variables interleave in {layout.numrecs} records: "
            f"{n_refs} references of {data // n_refs} bytes on average would make the index "
            f"a large fraction of the object; read it whole instead")


def _variable_refs(f: BinaryIO, layout: Nc3Layout, v: Nc3Var) -> dict[str, Any]:
    """Return the .zarray, .zattrs and chunk references of one variable."""
    shape = list(v.shape)
    attrs = _jsonable(v.attrs)
    fill = attrs.pop("_FillValue", None)
    attrs["_ARRAY_DIMENSIONS"] = list(v.dims)
    row = v.dtype.itemsize * math.prod(v.shape[1:])
    chunks: list[int] = []
    positions: list[tuple[tuple[int, ...], int, int]]
    if not shape:
        rows, positions = 1, [((), v.begin, v.dtype.itemsize)]
    elif v.is_record and len([w for w in layout.variables if w.is_record]) > 1:
        rows = 1
        positions = [((i,), v.begin + i * layout.recsize, row) for i in range(shape[0])]
    else:
        rows = _rows_per_chunk(layout, v, row)
        n = math.ceil(shape[0] / rows) if shape[0] else 0
        positions = [((i,), v.begin + i * rows * row, rows * row) for i in range(n)]
    if shape:
        chunks = [max(rows, 1)] + [max(d, 1) for d in shape[1:]]
    meta = {"zarr_format": 2, "shape": shape, "chunks": chunks, "dtype": v.dtype.str,
            "compressor": None, "filters": None, "order": "C",
            "fill_value": _zarr_fill(fill, v.dtype)}
    out: dict[str, Any] = {f"{v.name}/.zarray": json.dumps(meta),
                           f"{v.name}/.zattrs": json.dumps(attrs)}
    if row == 0:
        return out  # a dimension of length 0: no values, no chunks
    for index, offset, length in positions:
        key = f"{v.name}/" + (".".join(str(i) for i in index) + (".0" * (len(shape) - 1))
                              if shape else "0")
        if length <= INLINE_MAX:
            f.seek(offset)
            out[key] = "base64:" + base64.b64encode(f.read(length)).decode("ascii")
        else:
            out[key] = ["{{u}}", offset, length]
    return out


def _rows_per_chunk(layout: Nc3Layout, v: Nc3Var, row: int) -> int:
    """Rows per chunk for a contiguous variable: about CHUNK_TARGET bytes each.

    The last chunk's reference is a whole chunk long (zarr decodes whole chunks and
    ignores values past the array's shape), so it runs into the bytes that follow the
    variable; where the file ends first, a divisor of the row count is taken instead, or
    the whole variable as one chunk.
    """
    n = v.shape[0]
    if row == 0 or n == 0:
        return 1
    rows = max(1, min(n, CHUNK_TARGET // row))
    if v.begin + math.ceil(n / rows) * rows * row <= layout.size:
        return rows
    for candidate in range(rows, max(rows // 4, 1) - 1, -1):
        if n % candidate == 0:
            return candidate
    return n


def _zarr_fill(fill: Any, dtype: np.dtype) -> Any:
    """Return a _FillValue as zarr v2 writes it in .zarray (NaN and infinities as text)."""
    if fill is None or dtype.kind == "S":
        return None
    if isinstance(fill, list):
        fill = fill[0] if fill else None
    if isinstance(fill, float):
        if math.isnan(fill):
            return "NaN"
        if math.isinf(fill):
            return "Infinity" if fill > 0 else "-Infinity"
    return fill


def _sha256(f: BinaryIO) -> str:
    digest = hashlib.sha256()
    f.seek(0)
    while block := f.read(1 << 20):
        digest.update(block)
    return digest.hexdigest()

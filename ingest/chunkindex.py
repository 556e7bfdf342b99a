"""The chunk index of a NetCDF4/HDF5 object: kerchunk references (version 1), no Django.

``build_references(source)`` walks every group and dataset of the file with h5py and
writes, for each variable, the Zarr v2 metadata (shape, chunks, dtype, fill value, the
HDF5 filter pipeline as numcodecs codecs), its attributes and dimension names
(``_ARRAY_DIMENSIONS``), and one reference per stored chunk,
``["{{u}}", offset, size]``, where ``{{u}}`` is the object's URL, filled in when the
document is served. With it, fsspec's ``reference://`` filesystem and zarr open the
object by byte ranges, with no HDF5 library on the client.

Why h5py and not kerchunk: kerchunk 0.2.10 makes the same references, but takes 4 to 7 s
on some of the shared granules (ATL07, TROPOMI: it visits every chunk through
``get_chunk_info``) and fails on an ATL03 file; one walk of each B-tree with
``DatasetID.chunk_iter`` takes a small fraction of that. kerchunk remains the fallback
when this walk meets something it does not know how to describe (``build_with_kerchunk``).

What is described how:
- chunked datasets: one reference per allocated chunk; unallocated chunks read as the
  fill value, as in HDF5. Chunks of ``INLINE_MAX`` bytes or fewer are inlined (base64),
  saving clients a round trip for a few bytes.
- contiguous datasets: one chunk; uncompressed data is C-ordered bytes, so a large one is
  split into row blocks that are each a byte range of their own (``CONTIGUOUS_TARGET``),
  letting a client read part of it.
- compact datasets (stored in the object header) and variable-length strings: read and
  inlined, as they have no byte range of their own.
- compounds of plain numbers and fixed-length strings: Zarr v2 structured types.
- skipped, each with its reason in ``document["swathstore"]["skipped"]``: datasets whose
  filters numcodecs has no codec for (szip, scale-offset, n-bit, ...), chunks some of whose
  optional filters were not applied, reference, non-string variable-length and nested or
  big-endian compound types (no Zarr v2 form zarr reads), null dataspaces, external and
  virtual storage and external links (the bytes are not in this object), and attributes
  h5py cannot read. Soft links are followed: netCDF4 shows them as variables.
- netCDF-4's dimension-only datasets (no variable of their own) and its bookkeeping
  attributes (DIMENSION_LIST, _Netcdf4Dimid, ...) are left out, as netCDF4 hides them.

Offsets are absolute in the object. HDF5 addresses count from the superblock, behind any
user block; whether the library's answers (``get_offset``, ``chunk_iter``) already add the
user block has changed between HDF5 releases, so for a file with one it is measured on a
small file made in memory (``_userblock_added``), not assumed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import os
from pathlib import Path
from typing import IO, Any

import numpy as np

from ingest.zarrv2 import (
    Skip,
    as_text,
    consolidated,
    fill_value,
    filters_of,
    json_attr,
    json_fill,
    row_block,
    zarr_dtype,
)

log = logging.getLogger(__name__)
FORMAT = "kerchunk-v1+json"
INLINE_MAX = 300  # bytes: inlined rather than referenced (kerchunk's usual threshold)
INLINE_DATA_MAX = 1 << 20  # compact or vlen data larger than this is skipped, not inlined
URL = "{{u}}"
# netCDF-4 bookkeeping that netCDF4 and xarray never show as attributes.
HIDDEN_ATTRS = {"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME", "_Netcdf4Dimid",
                "_Netcdf4Coordinates", "_nc3_strict", "_NCProperties", "_FillValue"}
NOT_READ = {"REFERENCE_LIST", "_Netcdf4Dimid", "_nc3_strict", "_NCProperties"}  # never used
NON_COORD = "_nc4_non_coord_"
PURE_DIMENSION = "This is a netCDF dimension but not a netCDF variable"
NETCDF3_MAGICS = (b"CDF\x01", b"CDF\x02", b"CDF\x05")


class NotIndexable(ValueError):
    """The object has no chunk index we can write; the message says why."""

    reason = "not_indexable"


def build_references(source: str | Path | IO[bytes], *, object_sha256: str | None = None,
                     geo: bool = True, geo_pairs: list[tuple[str, str]] | None = None) -> dict:
    """Return the kerchunk reference document (version 1) of an HDF5-based file.

    ``source`` is a path or a seekable binary file (an object read by byte ranges).
    ``object_sha256`` is the object's SHA-256 when the caller knows it (else it is
    computed); ``geo`` adds per-chunk geolocation bounds (ingest.chunkgeo) under
    ``["swathstore"]["geo"]``, of ``geo_pairs`` when the caller knows the file's
    (lat, lon) paths (the inspected metadata's; choosing them again costs a listing of
    every variable). Raises
    NotIndexable for NetCDF classic, anything not HDF5, and corrupt or truncated files.
    """
    import h5py

    fh, close = _open_bytes(source)
    try:
        size = _size_of(fh)
        _check_magic(fh)
        try:
            h5 = h5py.File(fh, "r")
        except (OSError, ValueError, RuntimeError, KeyError) as e:
            raise NotIndexable(f"HDF5 cannot open the object (corrupt or truncated?): {e}"
                               ) from None
        with h5:
            doc = _walk_or_kerchunk(h5, fh, size)
            if geo:
                doc["swathstore"].update(_geo(h5, geo_pairs))
        doc["swathstore"]["object_sha256"] = object_sha256 or _sha256(fh)
        return doc
    finally:
        if close:
            fh.close()


def _walk_or_kerchunk(h5: Any, fh: IO[bytes], size: int) -> dict:
    """The h5py walk's document; kerchunk's where the walk itself tripped on something it
    does not foresee and kerchunk describes the whole file."""
    walk = _Walk(h5, fh, size)
    doc: dict | None
    try:
        doc = walk.run()
    except NotIndexable:
        raise
    # HDF5 itself failing (a bad B-tree, header or checksum) means a corrupt object:
    # kerchunk would read it with the same library and fail the same way.
    except (OSError, RuntimeError) as e:
        raise NotIndexable(f"reading the object's structure failed (corrupt?): "
                           f"{type(e).__name__}: {e}") from None
    # Anything else is the walk's own failure outside a variable (a group it does not
    # foresee): kerchunk may still describe the file.
    except Exception as e:  # noqa: BLE001
        doc, walk.unforeseen = None, [f"the walk ({type(e).__name__}: {e})"]
    if not walk.unforeseen and doc is not None:
        return doc
    log.warning("chunk index: the h5py walk could not describe %s; trying kerchunk",
                ", ".join(walk.unforeseen[:5]))
    try:
        return build_with_kerchunk(fh, size)
    # Untrusted files make kerchunk raise anything: the walk's document, with its
    # skipped variables and their reasons, stands then, if there is one.
    except Exception as e:  # noqa: BLE001
        if doc is None:
            raise NotIndexable(f"the object's structure could not be described: "
                               f"{walk.unforeseen[0]}; kerchunk: {type(e).__name__}: {e}"
                               ) from None
        doc["swathstore"]["kerchunk_error"] = f"{type(e).__name__}: {e}"[:500]
        return doc


def build_with_kerchunk(fh: IO[bytes], size: int) -> dict:
    """Return kerchunk's references of a file open for reading, in this module's form
    ({{u}} for the object, consolidated metadata, references checked against its size)."""
    import kerchunk
    from kerchunk.hdf import SingleHdf5ToZarr

    fh.seek(0)
    refs = SingleHdf5ToZarr(fh, url=URL, inline_threshold=INLINE_MAX,
                            error="raise").translate()["refs"]
    for key, value in refs.items():
        if isinstance(value, list):
            if len(value) != 3:
                raise NotIndexable(f"{key}: kerchunk referred to a whole object")
            offset, nbytes = int(value[1]), int(value[2])
            if offset < 0 or offset + nbytes > size:
                raise NotIndexable(f"{key}: chunk at byte {offset} (+{nbytes}) lies beyond "
                                   f"the end of the object ({size} bytes)")
            refs[key] = [URL, offset, nbytes]
        elif isinstance(value, bytes):
            refs[key] = "base64:" + base64.b64encode(value).decode("ascii")
    refs[".zmetadata"] = consolidated(refs)
    return {"version": 1, "templates": {"u": ""}, "refs": refs,
            "swathstore": {"builder": f"kerchunk {kerchunk.__version__}", "skipped": {}}}


def dumps(doc: dict) -> bytes:
    """Return the document as stored: compact UTF-8 JSON."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def count_refs(doc: dict) -> int:
    """Return how many chunk references (byte ranges and inlined chunks) the document has."""
    return sum(1 for k in doc["refs"] if not k.rsplit("/", 1)[-1].startswith("."))


def _open_bytes(source: str | Path | IO[bytes]) -> tuple[IO[bytes], bool]:
    if isinstance(source, str | Path):
        try:
            return open(source, "rb"), True  # noqa: SIM115 - closed by the caller's finally
        except OSError as e:
            raise NotIndexable(f"cannot read {Path(source).name}: {e.strerror}") from None
    return source, False


def _size_of(fh: IO[bytes]) -> int:
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(0)
    return size


def _check_magic(fh: IO[bytes]) -> None:
    from eo.formats import recognise

    kind = recognise(fh)
    if kind == "hdf5":
        return
    fh.seek(0)
    head = fh.read(4)
    if head in NETCDF3_MAGICS:
        raise NotIndexable("NetCDF classic (CDF-1/2/5) stores variables as interleaved "
                           "records, not HDF5 chunks: it has no chunk index")
    raise NotIndexable(f"not an HDF5-based file ({kind or 'unrecognised magic bytes'})")


def _sha256(fh: IO[bytes]) -> str:
    digest = hashlib.sha256()
    fh.seek(0)
    for block in iter(lambda: fh.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def _geo(h5: Any, pairs: list[tuple[str, str]] | None) -> dict[str, Any]:
    """Per-chunk geolocation bounds (ingest.chunkgeo) of ``pairs`` (lat, lon paths; None:
    the readers choose them again); their failure is noted, never the index's."""
    from ingest.chunkgeo import chunk_geo_bounds

    try:
        bounds = chunk_geo_bounds(h5, pairs)
    # Bounds decode untrusted geolocation arrays: whatever fails there, the index stands.
    except Exception as e:  # noqa: BLE001
        return {"geo_error": f"{type(e).__name__}: {e}"[:500]}
    return {"geo": bounds} if bounds is not None else {}


class _Walk:
    """One pass over the file, filling ``refs`` and noting what was skipped and why."""

    def __init__(self, h5: Any, fh: IO[bytes], size: int) -> None:
        self.h5 = h5
        self.fh = fh
        self.size = size
        userblock = int(h5.userblock_size or 0)
        contiguous, chunked = _userblock_added() if userblock else (True, True)
        self.base_contiguous = 0 if contiguous else userblock
        self.base_chunked = 0 if chunked else userblock
        self.refs: dict[str, Any] = {}
        self.skipped: dict[str, str] = {}
        self.unforeseen: list[str] = []  # variables skipped for an error of the walk's own
        self.by_addr: dict[int, str] | None = None  # object address -> name, made on need

    def run(self) -> dict:
        self._group(self.h5, "", set())
        self.refs[".zmetadata"] = consolidated(self.refs)
        return {"version": 1, "templates": {"u": ""}, "refs": self.refs,
                "swathstore": {"builder": "h5py", "skipped": self.skipped}}

    # Groups ---------------------------------------------------------------------------

    def _group(self, group: Any, prefix: str, seen: set) -> None:
        import h5py

        addr = h5py.h5o.get_info(group.id).addr
        if addr in seen:  # a link back up the tree: indexed once, where first met
            return
        seen = seen | {addr}
        self.refs[prefix + ".zgroup"] = json.dumps({"zarr_format": 2})
        self.refs[prefix + ".zattrs"] = json.dumps(self._attrs(group, prefix or "/")[0])
        arrays: list[tuple[str, dict, dict]] = []
        for name in group:
            path = prefix + name
            if isinstance(group.get(name, getlink=True), h5py.ExternalLink):
                self.skipped[path] = "external link: the object is in another file"
                continue
            # Soft links are followed: netCDF4 shows them as variables (HDF-EOS5 aliases).
            obj = group.get(name)
            if isinstance(obj, h5py.Group):
                self._group(obj, path + "/", seen)
            elif isinstance(obj, h5py.Dataset):
                # netCDF-4 stores a variable named like a dimension it does not stand for
                # under this prefix; netCDF4 shows it by its own name.
                path = prefix + name.removeprefix(NON_COORD)
                try:
                    described = self._dataset(obj, path)
                except Skip as e:
                    self.skipped[path] = str(e)
                    continue
                except (OSError, RuntimeError, NotIndexable):
                    raise  # HDF5 failing: the object is corrupt (build_references says so)
                # Anything else is this walk meeting a layout it does not foresee: the
                # variable is left out, and the caller may ask kerchunk (_walk_or_kerchunk).
                except Exception as e:  # noqa: BLE001
                    self.skipped[path] = f"not described: {type(e).__name__}: {e}"
                    self.unforeseen.append(path)
                    continue
                if described is not None:
                    arrays.append((path, *described))
            elif obj is None:
                self.skipped[path] = "soft link to nothing"
            else:
                self.skipped[path] = "a named datatype, not data"
        self._reconcile(arrays)

    def _reconcile(self, arrays: list[tuple[str, dict, dict]]) -> None:
        """Give each dimension of a group one length, then write the array metadata.

        Variables of a netCDF-4 unlimited dimension may be shorter than it (never written
        to the end); netCDF4 reads the rest as fill, and xarray requires one length per
        dimension, so a shorter chunked array is lengthened: its missing chunks read as
        its fill value, as netCDF4 reads them.
        """
        lengths: dict[str, int] = {}
        for _, meta, attrs in arrays:
            for dim, n in zip(attrs["_ARRAY_DIMENSIONS"], meta["shape"], strict=True):
                lengths[dim] = max(lengths.get(dim, 0), n)
        for path, meta, attrs in arrays:
            chunked = meta.pop("_chunked")
            if chunked is not None:
                shape = [lengths[d] for d in attrs["_ARRAY_DIMENSIONS"]]
                if ((chunked["missing"] or shape != meta["shape"])
                        and meta["fill_value"] is None and chunked["hdf5_fill"] is not None):
                    # No CF fill, but HDF5 has one for what was never written: what
                    # netCDF4 reads there, so values come first (xarray masks it too).
                    meta["fill_value"] = chunked["hdf5_fill"]
                meta["shape"] = shape
            self.refs[path + "/.zarray"] = json.dumps(meta)
            self.refs[path + "/.zattrs"] = json.dumps(attrs)

    # Datasets -------------------------------------------------------------------------

    def _dataset(self, ds: Any, path: str) -> tuple[dict, dict] | None:
        """Return (.zarray without the shape lengthening, .zattrs) and add the chunk refs;
        None for a netCDF-4 dimension without a variable."""
        import h5py

        attrs, special = self._attrs(ds, path)
        if as_text(special.get("NAME", "")).startswith(PURE_DIMENSION):
            return None
        dsid = ds.id
        if dsid.shape is None:
            raise Skip("null dataspace: the dataset holds no value")
        dtype, vlen = zarr_dtype(ds.dtype)
        plist = dsid.get_create_plist()
        if plist.get_external_count() > 0:
            raise Skip("external storage: the bytes are in other files")
        layout = plist.get_layout()
        shape = list(dsid.shape)
        attrs["_ARRAY_DIMENSIONS"] = self._dims(path, shape, special)
        text = h5py.check_string_dtype(ds.dtype)
        if text is not None and not vlen:
            # Fixed-length strings are bytes in Zarr v2; xarray's CF decoding turns them
            # into str with this attribute, as netCDF4 returns them.
            attrs.setdefault("_Encoding", text.encoding)
        fill = fill_value(special, ds.dtype)
        filters: list[dict] = []
        if vlen or layout == h5py.h5d.COMPACT:
            chunks = [max(1, n) for n in shape]
            self._inline_all(ds, path, vlen)
            filters = [{"id": "vlen-utf8"}] if vlen else []
            chunked = None
        elif layout == h5py.h5d.CHUNKED:
            filters = filters_of(plist, ds.dtype)
            chunks = list(plist.get_chunk())
            chunked = {"missing": self._chunked(dsid, path, chunks), "hdf5_fill": None}
            if "_FillValue" not in special and ds.dtype.kind in "biuf" and ds.fillvalue != 0:
                chunked["hdf5_fill"] = json_fill(ds.fillvalue, ds.dtype)
        elif layout == h5py.h5d.CONTIGUOUS:
            chunks = self._contiguous(dsid, path, shape, ds.dtype.itemsize)
            chunked = None
        else:
            raise Skip("virtual dataset: its bytes are in other datasets or files")
        meta = {"zarr_format": 2, "shape": shape, "chunks": chunks, "dtype": dtype,
                "fill_value": fill, "order": "C", "filters": filters or None,
                "compressor": None, "_chunked": chunked}
        return meta, attrs

    def _chunked(self, dsid: Any, path: str, chunks: list[int]) -> bool:
        """Add one reference per stored chunk; return True if some chunks are unallocated."""
        found: list[tuple[tuple[int, ...], int, int, int]] = []

        def visit(info: Any) -> None:
            if info.byte_offset is not None:
                found.append((info.chunk_offset, info.byte_offset, info.size, info.filter_mask))

        dsid.chunk_iter(visit)
        if any(mask for *_, mask in found):
            raise Skip("some chunks were stored without one of the dataset's optional "
                        "filters: no single codec pipeline describes them all")
        for offset, addr, nbytes, _ in found:
            key = ".".join(str(o // c) for o, c in zip(offset, chunks, strict=True)) or "0"
            self._ref(f"{path}/{key}", self.base_chunked + addr, nbytes)
        total = math.prod(-(-n // c) for n, c in zip(dsid.shape, chunks, strict=True))
        return len(found) < total

    def _contiguous(self, dsid: Any, path: str, shape: list[int], itemsize: int) -> list[int]:
        """Add the references of a contiguous dataset; return its Zarr chunk shape."""
        whole = [max(1, n) for n in shape]
        addr = dsid.get_offset()
        nbytes = dsid.get_storage_size()
        if addr is None or nbytes == 0:
            return whole  # never written: reads as the fill value
        addr += self.base_contiguous
        rows = row_block(shape, itemsize)
        if rows is None:
            self._ref(f"{path}/" + (".".join("0" for _ in shape) or "0"), addr, nbytes)
            return whole
        step = rows * math.prod(shape[1:]) * itemsize
        rest = ".0" * (len(shape) - 1)
        for i in range(shape[0] // rows):
            self._ref(f"{path}/{i}{rest}", addr + i * step, step)
        return [rows, *whole[1:]]

    def _inline_all(self, ds: Any, path: str, vlen: bool) -> None:
        """Inline the whole of a compact or variable-length string dataset as one chunk."""
        if ds.size == 0:
            return
        if vlen:
            import numcodecs

            data = np.empty(ds.shape, dtype=object)
            data[...] = ds.asstr(errors="replace")[()]
            raw = numcodecs.VLenUTF8().encode(data)
        else:
            raw = np.ascontiguousarray(ds[()]).tobytes()
        if len(raw) > INLINE_DATA_MAX:
            raise Skip(f"{'variable-length strings' if vlen else 'compact data'} of "
                        f"{len(raw)} bytes: too large to inline")
        key = ".".join("0" for _ in ds.shape) or "0"
        self.refs[f"{path}/{key}"] = "base64:" + base64.b64encode(raw).decode("ascii")

    def _ref(self, key: str, offset: int, nbytes: int) -> None:
        if offset < 0 or offset + nbytes > self.size:
            raise NotIndexable(f"{key.rsplit('/', 1)[0]}: chunk at byte {offset} (+{nbytes}) "
                               f"lies beyond the end of the object ({self.size} bytes): "
                               "truncated or corrupt")
        if nbytes <= INLINE_MAX:
            self.fh.seek(offset)
            raw = self.fh.read(nbytes)
            self.refs[key] = "base64:" + base64.b64encode(raw).decode("ascii")
        else:
            self.refs[key] = [URL, offset, nbytes]

    # Names and attributes -------------------------------------------------------------

    def _dims(self, path: str, shape: list[int], special: dict) -> list[str]:
        """Dimension names: the attached dimension scales, else phony names by length."""
        own = path.rsplit("/", 1)[-1]
        names: list[str | None] = [None] * len(shape)
        lists = special.get("DIMENSION_LIST")
        if isinstance(lists, np.ndarray):
            for axis, refs in enumerate(lists[: len(shape)]):
                if len(refs):
                    names[axis] = self._scale_name(refs[0])
        elif len(shape) == 1 and as_text(special.get("CLASS", "")) == "DIMENSION_SCALE":
            names[0] = own
        if shape and names[0] is None and special.get("_Netcdf4Coordinates"):
            names[0] = own  # a multi-dimensional netCDF-4 coordinate variable
        return [n if n else f"phony_dim_{shape[i]}" for i, n in enumerate(names)]

    def _scale_name(self, ref: Any) -> str | None:
        """The name of the dimension scale a reference points at (by object address: HDF5's
        own name lookup searches the whole file for each reference)."""
        import h5py

        if self.by_addr is None:
            found: dict[int, str] = {}

            def note(name: bytes, info: Any) -> None:
                found.setdefault(info.addr, name.rsplit(b"/", 1)[-1].decode("utf-8", "replace"))

            h5py.h5o.visit(self.h5.id, note, info=True)
            self.by_addr = found
        try:
            return self.by_addr.get(h5py.h5o.get_info(h5py.h5r.dereference(ref, self.h5.id)).addr)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _attrs(self, obj: Any, where: str) -> tuple[dict, dict]:
        """Return (the attributes netCDF4 shows, as JSON values; netCDF-4's own ones that
        the walk needs, raw). Reading an attribute costs a fraction of a millisecond, and
        ATL07 has 4000: those never needed are not read."""
        shown: dict[str, Any] = {}
        special: dict[str, Any] = {}
        manager = obj.attrs
        names = list(manager)
        for name in names:
            if name in NOT_READ or (name == "NAME" and "CLASS" not in names):
                continue  # NAME matters on dimension scales only (netCDF-4's own marker)
            if name == "_Netcdf4Coordinates":
                special[name] = True  # its presence is all the walk asks
                continue
            try:
                value = manager[name]
                if name in HIDDEN_ATTRS:
                    special[name] = value
                else:
                    shown[name] = json_attr(value)
            except (OSError, ValueError, TypeError, Skip) as e:
                self.skipped[f"{where}@{name}"] = f"attribute not readable as JSON: {e}"
        if "_FillValue" in special:
            try:  # kept for readers that do not take Zarr's fill_value as CF's (zarr v3 use)
                shown["_FillValue"] = json_attr(special["_FillValue"])
            except Skip:
                pass
        return shown, special


def _userblock_added() -> tuple[bool, bool]:
    """Return whether this HDF5 library's (contiguous offset, chunk address) already count
    the user block, read back from a file with one, made in memory (a few ms)."""
    import io

    import h5py

    marks = {"contiguous": b"ZZZZ", "chunked": b"<<<<"}
    buf = io.BytesIO()
    with h5py.File(buf, "w", userblock_size=512) as f:
        f.create_dataset("contiguous", data=np.frombuffer(marks["contiguous"] * 4, "<u4"))
        f.create_dataset("chunked", data=np.frombuffer(marks["chunked"] * 4, "<u4"),
                         chunks=(4,))
    raw = buf.getvalue()
    with h5py.File(io.BytesIO(raw), "r") as f:
        at = {"contiguous": int(f["contiguous"].id.get_offset())}
        found: list[int] = []
        f["chunked"].id.chunk_iter(lambda info: found.append(info.byte_offset))
        at["chunked"] = found[0]
    added = {k: raw[v:v + 4] == marks[k] for k, v in at.items()}
    for k, v in at.items():
        if not added[k] and raw[v + 512:v + 516] != marks[k]:
            raise RuntimeError(f"HDF5's {k} addresses are neither absolute nor relative to "
                               "the superblock: chunk references would be wrong")
    return added["contiguous"], added["chunked"]

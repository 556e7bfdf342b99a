"""The Store interface shared by LocalStore and S3Store, with the result types it returns."""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from archive import codecs
from archive.errors import (
    ArchiveError,
    ChecksumMismatch,
    ObjectNotFound,
    TransientArchiveError,
)
from archive.keys import validate_key
from archive.parallel_get import whole_parts
from archive.ranged import DEFAULT_BLOCK_SIZE, DEFAULT_CACHE_BLOCKS, RangedFile
from archive.sources import Source
from archive.streaming import CHUNK, CheckingReader, checked_chunks
from archive.writeout import write_chunks


def _read_all(stream: BinaryIO) -> Iterator[bytes]:
    with stream:  # a decoder's close ends its threads and closes the raw stream
        while data := stream.read(CHUNK):
            yield data


# 5 TiB is the S3 object-size ceiling; stores take a lower cap when they know better.
DEFAULT_MAX_OBJECT_BYTES = 5 * 1024**4
MAX_PRESIGN_SECONDS = 604_800  # SigV4 limit: 7 days


@dataclass(frozen=True)
class PutResult:
    """What a put stored: original size and SHA-256, stored (encoded) size, codec, ETag, time.

    ``store_checked``: the store was sent the SHA-256 with the bytes, refused them had they
    differed, and keeps it as the object's full-object checksum (``Store.confirm``).
    """

    key: str
    size: int
    stored_size: int
    sha256: str
    codec: str
    etag: str | None
    seconds: float
    existed: bool = False
    store_checked: bool = False


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about an object; size, sha256 and codec are None when unrecorded."""

    key: str
    stored_size: int
    size: int | None = None
    sha256: str | None = None
    codec: str | None = None
    etag: str | None = None
    last_modified: datetime | None = None
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UploadInfo:
    """An unfinished upload: an S3 multipart upload, or a LocalStore temporary file."""

    key: str
    upload_id: str
    initiated: datetime | None


def user_metadata(
    *, sha256: str | None, size: int | None, codec: str, content_type: str, extra: dict[str, str]
) -> dict[str, str]:
    """Return the user metadata recorded with every object (our keys win over ``extra``)."""
    meta = {str(k).lower(): str(v) for k, v in extra.items()}
    meta.update({"codec": codec, "content-type": content_type})
    if sha256 is not None:
        meta["sha256"] = sha256
    if size is not None:
        meta["size"] = str(size)
    return meta


def info_from_metadata(
    key: str,
    *,
    stored_size: int,
    metadata: dict[str, str],
    etag: str | None,
    last_modified: datetime | None,
    content_type: str | None,
) -> ObjectInfo:
    """Build an ObjectInfo from user metadata; servers may change its case, so compare lowered."""
    meta = {k.lower(): v for k, v in metadata.items()}
    size_text = meta.get("size", "")
    codec = meta.get("codec")
    size = int(size_text) if size_text.isdigit() else None
    if size is None and codec == "none":
        size = stored_size
    return ObjectInfo(
        key=key,
        stored_size=stored_size,
        size=size,
        sha256=meta.get("sha256"),
        codec=codec if codec in codecs.CODECS else None,
        etag=etag,
        last_modified=last_modified,
        content_type=meta.get("content-type", content_type),
        metadata=meta,
    )


class Store(ABC):
    """An object store: put/head/open/get/delete/list/verify plus ranged reads and presigning."""

    name: str = "store"
    max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES

    @abstractmethod
    def put(
        self,
        key: str,
        source: Source,
        *,
        size: int | None = None,
        codec: str = "none",
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
        sha256: str | None = None,
        overwrite: bool = False,
    ) -> PutResult:
        """Stream ``source`` (path or binary stream) to ``key``; return sizes, SHA-256 and ETag.

        ``sha256``, when given, is the expected digest of the source: it is recorded up front
        and a mismatch raises ChecksumMismatch before the object becomes visible.
        ``overwrite=False`` refuses to replace a different object where the store can tell.
        """

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """Return what the store knows of ``key``, or None if there is no such object."""

    @abstractmethod
    def open_raw(self, key: str) -> tuple[BinaryIO, ObjectInfo]:
        """Return a stream of the stored (encoded) bytes and the object's info; ObjectNotFound."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete ``key``; deleting a missing object is not an error."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield the objects whose keys start with ``prefix``, in key order."""

    @abstractmethod
    def list_uploads(self) -> builtins.list[UploadInfo]:
        """Return the unfinished uploads this store can see."""

    @abstractmethod
    def abort_upload(self, key: str, upload_id: str) -> None:
        """Abort one unfinished upload; an already-finished one is not an error."""

    @abstractmethod
    def open_ranged(
        self,
        key: str,
        block_size: int = DEFAULT_BLOCK_SIZE,
        cache_blocks: int = DEFAULT_CACHE_BLOCKS,
    ) -> RangedFile:
        """Return a seekable read-only file over an uncompressed object, fetched in blocks."""

    def presign(self, key: str, expires_s: int) -> str | None:
        """Return a time-limited GET URL for ``key``, or None if the store cannot make one."""
        return None

    def open(
        self, key: str, *, expected_sha256: str | None = None, codec: str | None = None
    ) -> BinaryIO:
        """Return a stream of the original bytes of ``key`` (decompressed); ObjectNotFound.

        With ``expected_sha256`` the stream raises ChecksumMismatch at its end if the bytes
        differ. ``codec`` overrides the recorded one (for objects whose metadata was lost).
        """
        raw, info = self.open_raw(key)
        try:
            stream = self._decode(raw, info, codec)
            if expected_sha256 is None:
                return stream
            checking = CheckingReader(
                stream,
                expected_sha256=expected_sha256,
                expected_size=info.size,
                what=key,
                store=self.name,
            )
            return io.BufferedReader(checking, buffer_size=CHUNK)
        except BaseException:
            raw.close()
            raise

    def get(
        self,
        key: str,
        dest: str | os.PathLike[str] | BinaryIO,
        *,
        expected_sha256: str | None = None,
        fsync: bool = True,
    ) -> ObjectInfo:
        """Copy the original bytes of ``key`` into a path (atomically) or an open binary file.

        The bytes are hashed on the way and checked against ``expected_sha256`` (the
        catalog's), else against the object's recorded sha256 when it has one. A path
        is written under a temporary name, fsynced and renamed; ``fsync=False`` leaves
        the flush to the kernel, as cp and s5cmd do, for copies that a crash may lose
        (scratch space): the disk then no longer bounds the download.
        """
        if not isinstance(dest, str | os.PathLike):
            raw, info = self.open_raw(key)
            try:
                for chunk in self._checked_chunks(raw, info, expected_sha256 or info.sha256):
                    dest.write(chunk)
            finally:
                raw.close()
            return info
        target = Path(dest)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            # The file gets its name only once every byte is in it and hashed right: a
            # failed or mismatching download leaves no file at ``dest`` and no temporary.
            with os.fdopen(fd, "wb", buffering=0) as out:
                info = self._get_into(key, out, expected_sha256=expected_sha256, fsync=fsync)
                if fsync:
                    os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return info

    def _get_into(
        self, key: str, out: BinaryIO, *, expected_sha256: str | None, fsync: bool
    ) -> ObjectInfo:
        """Write the original bytes of ``key`` into the new empty file ``out``, checked.

        Raises ChecksumMismatch (after writing) when the bytes are not the expected ones;
        the caller renames the file into place only when this returns.
        """
        raw, info = self.open_raw(key)
        try:
            chunks = self._checked_chunks(raw, info, expected_sha256 or info.sha256)
            write_chunks(chunks, out, writeback=fsync)
        finally:
            raw.close()
        return info

    def _checked_chunks(
        self, raw: BinaryIO, info: ObjectInfo, expected_sha256: str | None
    ) -> Iterator[bytes | memoryview]:
        """The original bytes of an opened object in pieces, checked at their end if asked.

        An object stored as it came is hashed in the pieces it was fetched in (whole
        ranged-GET parts for a large S3 object): no copy through file layers, which on two
        cores cost as much as the hashing. A compressed one goes through its decoder.
        """
        decoded = self._decode(raw, info, None)
        if decoded is raw:
            chunks: Iterator[bytes | memoryview] = whole_parts(raw, CHUNK)
        else:
            chunks = _read_all(decoded)
        if expected_sha256 is None:
            return chunks
        return checked_chunks(chunks, expected_sha256=expected_sha256, expected_size=info.size,
                              what=info.key, store=self.name)

    def verify(self, key: str, expected_sha256: str, *, codec: str | None = None) -> ObjectInfo:
        """Re-read ``key``, re-hash its original bytes and return its info; ChecksumMismatch.

        ``codec`` overrides the recorded one (for objects whose metadata was lost).
        """
        raw, info = self.open_raw(key)
        try:
            decoded = self._decode(raw, info, codec)
        except BaseException:
            raw.close()
            raise
        digest = hashlib.sha256()
        size = 0
        try:
            with decoded as stream:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
        except (ChecksumMismatch, ObjectNotFound, TransientArchiveError):
            raise
        except ArchiveError as e:
            # A stream that will not decode, or decodes to the wrong size, is corrupt.
            raise ChecksumMismatch(
                f"{key}: unreadable in {self.name}: {e}",
                key=key,
                store=self.name,
                expected=expected_sha256,
            ) from e
        actual = digest.hexdigest()
        self._check_digests(info, expected_sha256, actual, how="SHA-256")
        return replace(info, size=size, sha256=actual, codec=codec or info.codec or "none")

    def _check_digests(self, info: ObjectInfo, expected: str, actual: str, *, how: str) -> None:
        """Raise ChecksumMismatch unless ``actual`` and any recorded SHA-256 are ``expected``."""
        if actual != expected:
            raise ChecksumMismatch(
                f"{info.key}: {how} in {self.name} is {actual}, expected {expected}",
                key=info.key, store=self.name, expected=expected, actual=actual,
            )
        if info.sha256 is not None and info.sha256 != expected:
            raise ChecksumMismatch(
                f"{info.key}: recorded SHA-256 in {self.name} is {info.sha256}, "
                f"expected {expected}",
                key=info.key, store=self.name, expected=expected, actual=info.sha256,
            )

    def confirm(self, key: str, expected_sha256: str, *, codec: str | None = None) -> ObjectInfo:
        """Check ``key`` holds ``expected_sha256`` as cheaply as is safe; ChecksumMismatch.

        Here by read-back (``verify``). S3Store accepts instead, for an object stored as
        it came, the full-object SHA-256 a store checked on arrival and reports on HEAD,
        where its probe saw it refuse a wrong one (docs/ARCHITECTURE.md, "Verification").
        """
        return self.verify(key, expected_sha256, codec=codec)

    def _decode(self, raw: BinaryIO, info: ObjectInfo, codec: str | None) -> BinaryIO:
        """Wrap ``raw`` in the decoder for the object's codec, capped at its recorded size."""
        chosen = codec or info.codec or self._guess_codec(raw, info)
        if chosen == "none" and info.size is not None and info.size != info.stored_size:
            raise ArchiveError(
                f"{info.key}: stored size {info.stored_size} differs from recorded size "
                f"{info.size} in {self.name}",
                key=info.key,
                store=self.name,
            )
        if chosen == "none":
            return raw
        return codecs.decoder(
            chosen, raw, limit=self.max_object_bytes, expected_size=info.size, what=info.key
        )

    def _guess_codec(self, raw: BinaryIO, info: ObjectInfo) -> str:
        """Return "none" for an object with no recorded codec, unless its bytes look compressed.

        Metadata can be lost (rclone keeps it in memory only), and returning compressed
        bytes as if they were the original would be silently wrong, so refuse instead.
        """
        peek = getattr(raw, "peek", None)
        self._refuse_compressed(info, peek(4)[:4] if peek is not None else b"")
        return "none"

    def _refuse_compressed(self, info: ObjectInfo, head: bytes) -> None:
        """Raise ArchiveError if ``head``, an object's first bytes, look compressed."""
        sniffed = codecs.sniff(head[:4])
        if sniffed != "none":
            raise ArchiveError(
                f"{info.key}: {self.name} has no codec recorded (metadata lost?) and the bytes "
                f"look {sniffed}-compressed; pass codec= from the catalog",
                key=info.key,
                store=self.name,
            )

    def _check_key(self, key: str) -> str:
        """Validate ``key``, raising ValueError that names this store."""
        try:
            return validate_key(key)
        except ValueError as e:
            raise ValueError(f"{self.name}: {e}") from e

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

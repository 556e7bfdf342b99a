"""LocalStore: objects as files under a root directory, written atomically, metadata in sidecars."""

from __future__ import annotations

import builtins
import contextlib
import errno
import json
import os
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from archive import codecs
from archive.errors import ArchiveError, ObjectExists, ObjectNotFound
from archive.ranged import DEFAULT_BLOCK_SIZE, DEFAULT_CACHE_BLOCKS, RangedFile
from archive.sources import Source, open_source
from archive.stores import (
    DEFAULT_MAX_OBJECT_BYTES,
    ObjectInfo,
    PutResult,
    Store,
    UploadInfo,
    info_from_metadata,
    user_metadata,
)
from archive.streaming import HashingReader

META_DIR = ".archive-meta"
TMP_PREFIX = ".archive-tmp."


class LocalStore(Store):
    """Objects as plain files under ``root``; metadata in ``root/.archive-meta/<key>.json``."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        name: str | None = None,
        max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES,
        fsync: bool = True,
        zstd_threads: int = -1,
    ) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.name = name or f"file://{self.root}"
        self.max_object_bytes = max_object_bytes
        self._fsync = fsync
        self._zstd_threads = zstd_threads

    # -- paths -------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root / self._check_key(key)

    def _meta_path(self, key: str) -> Path:
        return self.root / META_DIR / f"{key}.json"

    # -- writing -----------------------------------------------------------------------

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
        """Write to a temporary file beside the target, fsync, then rename into place."""
        started = time.monotonic()
        codecs.check_codec(codec)
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f"{TMP_PREFIX}{target.name}.{secrets.token_hex(8)}"
        meta_tmp: Path | None = None
        try:
            with open_source(source) as stream:
                reader = HashingReader(stream)
                chunks = codecs.encode(codec, reader, threads=self._zstd_threads)  # type: ignore[arg-type]
                stored = 0
                with open(tmp, "xb") as out:
                    for chunk in chunks:
                        out.write(chunk)
                        stored += len(chunk)
                        if reader.bytes_read > self.max_object_bytes:
                            raise ArchiveError(
                                f"{key}: source exceeds the store's limit of "
                                f"{self.max_object_bytes} bytes",
                                key=key,
                                store=self.name,
                            )
                    out.flush()
                    if self._fsync:
                        os.fsync(out.fileno())
                    stat = os.fstat(out.fileno())
            digest = reader.check_source(
                key=key, store=self.name, sha256=sha256, size=size, during="writing"
            )
            record = {
                "key": key,
                "stored_size": stored,
                "inode": stat.st_ino,
                "mtime_ns": stat.st_mtime_ns,
                "metadata": user_metadata(
                    sha256=digest,
                    size=reader.bytes_read,
                    codec=codec,
                    content_type=content_type,
                    extra=metadata or {},
                ),
            }
            meta_tmp = self._write_sidecar_tmp(key, record)
            existing = self._publish(key, tmp, target, overwrite, digest, reader.bytes_read)
            if existing is None:
                os.replace(meta_tmp, self._meta_path(key))
                meta_tmp = None
                self._fsync_dir(self._meta_path(key).parent)
        except OSError as e:
            raise ArchiveError(
                f"{key}: cannot write to {self.name}: {e}", key=key, store=self.name
            ) from e
        finally:
            for leftover in (tmp, meta_tmp):
                if leftover is not None:
                    with contextlib.suppress(FileNotFoundError):
                        leftover.unlink()
        return PutResult(
            key=key,
            size=reader.bytes_read,
            stored_size=stored,
            sha256=digest,
            codec=codec,
            etag=existing.etag if existing else _etag(stat),
            seconds=time.monotonic() - started,
            existed=existing is not None,
        )

    def _publish(
        self, key: str, tmp: Path, target: Path, overwrite: bool, digest: str, size: int
    ) -> ObjectInfo | None:
        """Move ``tmp`` to ``target``; return the identical object already there, if any."""
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                # link() never replaces an existing file, unlike rename().
                os.link(tmp, target)
            except FileExistsError:
                current = self.head(key)
                if current is not None and current.sha256 == digest and current.size == size:
                    return current
                raise ObjectExists(
                    f"{key}: a different object already exists in {self.name}",
                    key=key,
                    store=self.name,
                ) from None
            tmp.unlink()
        self._fsync_dir(target.parent)
        return None

    def _write_sidecar_tmp(self, key: str, record: dict[str, Any]) -> Path:
        """Write the metadata sidecar to a temporary file (fsynced) and return its path."""
        meta_path = self._meta_path(key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        meta_tmp = meta_path.parent / f"{TMP_PREFIX}{meta_path.name}.{secrets.token_hex(8)}"
        with open(meta_tmp, "x", encoding="utf-8") as out:
            json.dump(record, out)
            out.flush()
            if self._fsync:
                os.fsync(out.fileno())
        return meta_tmp

    def _fsync_dir(self, directory: Path) -> None:
        """fsync a directory so a rename in it survives a power cut."""
        if not self._fsync:
            return
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- reading -----------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo | None:
        """Stat the file and read its sidecar (ignored if it describes another file)."""
        path = self._path(key)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return self._info(key, stat)

    def _info(self, key: str, stat: os.stat_result) -> ObjectInfo:
        meta: dict[str, str] = {}
        try:
            record = json.loads(self._meta_path(key).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            record = None
        # A sidecar left by a crash or an edit behind our back describes another file.
        if (
            record
            and record.get("inode") == stat.st_ino
            and (record.get("stored_size") == stat.st_size)
        ):
            meta = dict(record.get("metadata", {}))
        return info_from_metadata(
            key,
            stored_size=stat.st_size,
            metadata=meta,
            etag=_etag(stat),
            last_modified=datetime.fromtimestamp(stat.st_mtime, UTC),
            content_type=None,
        )

    def open_raw(self, key: str) -> tuple[BinaryIO, ObjectInfo]:
        """Open the stored file for reading."""
        path = self._path(key)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        except FileNotFoundError:
            raise ObjectNotFound(
                f"{key}: no such object in {self.name}", key=key, store=self.name
            ) from None
        return handle, self._info(key, os.fstat(handle.fileno()))

    def open_ranged(
        self,
        key: str,
        block_size: int = DEFAULT_BLOCK_SIZE,
        cache_blocks: int = DEFAULT_CACHE_BLOCKS,
    ) -> RangedFile:
        """Return a RangedFile reading the file with pread (the open handle pins the inode)."""
        handle, info = self.open_raw(key)
        if (info.codec or "none") != "none":
            handle.close()
            raise ArchiveError(
                f"{key}: ranged reads need an uncompressed object, this one is {info.codec}",
                key=key,
                store=self.name,
            )
        fd = handle.fileno()
        return RangedFile(
            lambda start, stop: os.pread(fd, stop - start, start),
            info.stored_size,
            name=key,
            block_size=block_size,
            cache_blocks=cache_blocks,
            on_close=handle.close,
        )

    def delete(self, key: str) -> None:
        """Remove the file and its sidecar, then empty parent directories."""
        for path in (self._path(key), self._meta_path(key)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self._prune(path.parent)

    def _prune(self, directory: Path) -> None:
        """Remove empty directories up to (not including) the root."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Walk the directory tree below ``prefix`` in key order, skipping sidecars and temps."""
        for key in sorted(self._walk_keys(prefix)):
            with contextlib.suppress(FileNotFoundError):
                yield self._info(key, (self.root / key).stat())

    def _walk_keys(self, prefix: str) -> Iterator[str]:
        start = self.root / prefix.rpartition("/")[0]
        for dirpath, dirnames, filenames in os.walk(start):
            if Path(dirpath) == self.root:
                dirnames[:] = [d for d in dirnames if d != META_DIR]
            for filename in filenames:
                if filename.startswith(TMP_PREFIX):
                    continue
                key = (Path(dirpath) / filename).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def list_uploads(self) -> builtins.list[UploadInfo]:
        """Return leftover temporary files: uploads that never completed."""
        uploads = []
        for dirpath, _dirnames, filenames in os.walk(self.root):
            for filename in filenames:
                if not filename.startswith(TMP_PREFIX):
                    continue
                path = Path(dirpath) / filename
                rel = path.relative_to(self.root).as_posix()
                target = filename[len(TMP_PREFIX) :].rpartition(".")[0]
                with contextlib.suppress(FileNotFoundError):
                    when = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                    key = (path.parent / target).relative_to(self.root).as_posix()
                    uploads.append(UploadInfo(key=key, upload_id=rel, initiated=when))
        return uploads

    def abort_upload(self, key: str, upload_id: str) -> None:
        """Delete one leftover temporary file."""
        path = (self.root / upload_id).resolve()
        if self.root not in path.parents or not path.name.startswith(TMP_PREFIX):
            raise ValueError(f"{self.name}: {upload_id!r} is not an upload of this store")
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise ArchiveError(
                    f"{key}: cannot remove {upload_id}: {e}", key=key, store=self.name
                ) from e


def _etag(stat: os.stat_result) -> str:
    """Return an ETag that changes whenever the file is replaced or rewritten."""
    return f'"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{stat.st_size:x}"'

"""Stream helpers for the stores: hash while reading, cut streams into parts, check at EOF."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from archive.errors import ArchiveError, ChecksumMismatch

CHUNK = 1024 * 1024


class HashingReader(io.RawIOBase):
    """Read-through wrapper that SHA-256-hashes and counts every byte read from ``source``."""

    def __init__(self, source: BinaryIO) -> None:
        super().__init__()
        self._source = source
        self._hash = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        """Return True: this is a read-only stream."""
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Read into ``buffer`` from the source, hashing what was read."""
        data = self._source.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._hash.update(data)
        self.bytes_read += n
        return n

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all when negative), hashing them."""
        data = self._source.read(size)
        self._hash.update(data)
        self.bytes_read += len(data)
        return data

    def hexdigest(self) -> str:
        """Return the SHA-256 of everything read so far."""
        return self._hash.hexdigest()

    def check_source(
        self,
        *,
        key: str,
        store: str,
        sha256: str | None,
        size: int | None,
        during: str,
        size_hint: str = "",
    ) -> str:
        """Return the digest of what was read; raise if it or the byte count is not the expected.

        Raises ChecksumMismatch on a digest other than ``sha256``, ArchiveError on a count other
        than ``size``; ``during`` (the store's verb) and ``size_hint`` finish the messages.
        """
        digest = self.hexdigest()
        if sha256 is not None and digest != sha256:
            raise ChecksumMismatch(
                f"{key}: source hashed to {digest} while {during}, expected {sha256}",
                key=key,
                store=store,
                expected=sha256,
                actual=digest,
            )
        if size is not None and self.bytes_read != size:
            raise ArchiveError(
                f"{key}: source gave {self.bytes_read} bytes, expected {size}{size_hint}",
                key=key,
                store=store,
            )
        return digest


def read_exactly(source: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes, or fewer only at the end of the stream (pipes return short reads)."""
    first = source.read(size)
    if not first or len(first) == size:
        return first or b""
    pieces = [first]
    got = len(first)
    while got < size:
        more = source.read(size - got)
        if not more:
            break
        pieces.append(more)
        got += len(more)
    return b"".join(pieces)


def iter_parts(chunks: Iterable[bytes], part_size: int) -> Iterator[bytes]:
    """Re-cut byte chunks into parts of exactly ``part_size`` bytes (the last may be short).

    Always yields at least one (possibly empty) part, so an empty object still gets uploaded.

    >>> [len(p) for p in iter_parts([b"a" * 5, b"b" * 7, b"c"], 4)]
    [4, 4, 4, 1]
    >>> list(iter_parts([], 4))
    [b'']
    """
    buffer = bytearray()
    emitted = False
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= part_size:
            yield bytes(buffer[:part_size])
            del buffer[:part_size]
            emitted = True
    if buffer or not emitted:
        yield bytes(buffer)


def iter_reads(source: BinaryIO, part_size: int) -> Iterator[bytes]:
    """Yield ``source`` in parts of exactly ``part_size`` bytes; at least one (maybe empty) part.

    >>> [len(p) for p in iter_reads(io.BytesIO(b"x" * 9), 4)]
    [4, 4, 1]
    """
    part = read_exactly(source, part_size)
    yield part
    while len(part) == part_size:
        part = read_exactly(source, part_size)
        if not part:
            return
        yield part


def release_first(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    """Yield the items of ``head``, dropping each from the list, then the items of ``rest``.

    >>> head = [b"a", b"b"]
    >>> list(release_first(head, iter([b"c"]))), head
    ([b'a', b'b', b'c'], [])
    """
    while head:
        yield head.pop(0)
    yield from rest


class IterStream(io.RawIOBase):
    """Readable stream over an iterator of byte chunks (adapts an encoder to a file API)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        """Return True: this is a read-only stream."""
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Copy the next bytes of the iterator into ``buffer``."""
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class OwningReader(io.RawIOBase):
    """A read-only stream over ``self._inner``, which it owns: closing it closes that too."""

    _inner: Any

    def readable(self) -> bool:
        """Return True: this is a read-only stream."""
        return True

    def close(self) -> None:
        """Close the stream read from, then this one."""
        if not self.closed:
            try:
                self._inner.close()
            finally:
                super().close()


class CheckingReader(OwningReader):
    """Pass bytes through and raise ChecksumMismatch at EOF if their SHA-256 or size is wrong."""

    _inner: BinaryIO

    def __init__(
        self,
        source: BinaryIO,
        *,
        expected_sha256: str,
        expected_size: int | None,
        what: str,
        store: str | None = None,
    ) -> None:
        super().__init__()
        self._inner = source
        self._hash = hashlib.sha256()
        self._size = 0
        self._expected_sha256 = expected_sha256
        self._expected_size = expected_size
        self._what = what
        self._store = store
        self._checked = False

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Read into ``buffer``; at EOF compare the digest with the expected one."""
        data = self._inner.read(len(buffer))
        n = len(data)
        if n:
            buffer[:n] = data
            self._hash.update(data)
            self._size += n
        elif not self._checked:
            self._checked = True
            self._check()
        return n

    def _check(self) -> None:
        """Raise ChecksumMismatch unless the bytes seen match the expectation."""
        check_digest(self._hash.hexdigest(), self._size, expected_sha256=self._expected_sha256,
                     expected_size=self._expected_size, what=self._what, store=self._store)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of the file at ``path``, read in CHUNK pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while piece := f.read(CHUNK):
            digest.update(piece)
    return digest.hexdigest()


def check_digest(
    actual: str, size: int, *, expected_sha256: str, expected_size: int | None, what: str,
    store: str | None,
) -> None:
    """Raise ChecksumMismatch naming ``what`` unless its bytes' size and SHA-256 match."""
    if expected_size is not None and size != expected_size:
        raise ChecksumMismatch(
            f"{what}: read {size} bytes, expected {expected_size}",
            key=what, store=store, expected=expected_sha256, actual=actual,
        )
    if actual != expected_sha256:
        raise ChecksumMismatch(
            f"{what}: SHA-256 {actual} differs from the expected {expected_sha256}",
            key=what, store=store, expected=expected_sha256, actual=actual,
        )


def checked_chunks(
    chunks: Iterable[bytes | memoryview], *, expected_sha256: str, expected_size: int | None,
    what: str, store: str | None,
) -> Iterator[bytes | memoryview]:
    """Pass ``chunks`` through, hashing them; at their end, check_digest()."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        yield chunk
    check_digest(digest.hexdigest(), size, expected_sha256=expected_sha256,
                 expected_size=expected_size, what=what, store=store)


class SeekableReader(io.RawIOBase):
    """A read-only stream that seeks, at ``_pos``: the base of FileSlice and RangedFile.

    Both must seek: botocore rewinds an upload body to retry a request, and HDF5 seeks
    about a ranged file.
    """

    _pos = 0

    def readable(self) -> bool:
        """Return True: this is a read-only stream."""
        return True

    def seekable(self) -> bool:
        """Return True: the stream supports seek and tell."""
        return True

    def tell(self) -> int:
        """Return the current position."""
        return self._pos


class FileSlice(SeekableReader):
    """A part body read straight from a range of an open regular file (``os.pread``).

    Multipart uploads of files send these instead of bytes held in memory, so memory no
    longer grows with part size x concurrency (s5cmd does the same with section readers).
    ``read`` returns up to 1 MiB whatever it is asked for: http.client asks for 8-16 KiB
    at a time and would otherwise spend a syscall pair per 16 KiB. A range that comes back
    short (the file shrank) raises ArchiveError rather than sending a short body.
    """

    BLOCK = CHUNK

    def __init__(self, fd: int, offset: int, length: int, *, md5: str,
                 what: str = "file") -> None:
        super().__init__()
        self._fd = fd
        self._offset = offset
        self._length = length
        self._pos = 0
        self._what = what
        self._md5 = md5  # base64, of the bytes as they were hashed (iter_file_slices)

    def __len__(self) -> int:
        return self._length

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        """Move within the slice (botocore rewinds bodies for retries)."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = min(max(0, base + pos), self._length)
        return self._pos

    def read(self, size: int = -1) -> bytes:
        """Return the next bytes of the slice: at most 1 MiB, at least ``size`` if it can."""
        left = self._length - self._pos
        if left <= 0:
            return b""
        want = left if size is None or size < 0 else min(left, max(size, self.BLOCK))
        data = os.pread(self._fd, want, self._offset + self._pos)
        if not data:
            raise ArchiveError(
                f"{self._what}: ended at byte {self._offset + self._pos} while being uploaded "
                f"(expected {self._offset + self._length}); did it change?"
            )
        self._pos += len(data)
        return data

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Read into ``buffer`` (io.RawIOBase protocol)."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def content_md5(self) -> str:
        """Return the base64 MD5 of the slice's bytes as they were hashed, not as they are now."""
        return self._md5


def iter_file_slices(
    reader: io.RawIOBase | BinaryIO, fd: int, start: int, part_size: int, *, what: str = "file"
) -> Iterator[FileSlice]:
    """Read ``reader`` (a hashing view of the file from offset ``start``) once, in 1 MiB
    blocks, and yield a FileSlice per ``part_size`` bytes read; each slice re-reads its
    range from the page cache when it is sent, so no part is held in memory.

    Each slice's Content-MD5 is computed in this same pass, beside the SHA-256: the file
    is read twice, not three times, and a range that changed before it was sent no
    longer matches its MD5, so the server refuses it (a MD5 taken at send time would
    have vouched for the changed bytes, leaving them to the read-back, I5). The caller
    compares the bytes hashed with the size it expected.
    """
    offset = start
    while True:
        got = 0
        md5 = hashlib.md5()
        while got < part_size:
            block = reader.read(min(CHUNK, part_size - got))
            if not block:
                break
            md5.update(block)
            got += len(block)
        if got:
            yield FileSlice(fd, offset, got, what=what,
                            md5=base64.b64encode(md5.digest()).decode("ascii"))
            offset += got
        if got < part_size:
            return

"""Errors raised by the object-store layer; every message names the object key and the store."""

from __future__ import annotations


class ArchiveError(Exception):
    """A permanent object-store failure: retrying the same call will not help."""

    def __init__(self, message: str, *, key: str | None = None, store: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.store = store


class TransientArchiveError(ArchiveError):
    """A failure that a later retry may cure (5xx, SlowDown, dropped connection, bad digest)."""


class UploadDropped(TransientArchiveError):
    """The server forgot a multipart upload this client had not aborted; start it again.

    rclone serve s3 fails a whole upload when it refuses one of its parts (BadDigest), and
    forgets every upload when it restarts; on AWS another party may have aborted it.
    """


class ObjectNotFound(ArchiveError):
    """The object does not exist in the store."""


class ObjectExists(ArchiveError):
    """A conditional write found an object already stored at the key."""


class ChecksumMismatch(ArchiveError):
    """The bytes read back do not hash to the expected SHA-256 (or size)."""

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        store: str | None = None,
        expected: str | None = None,
        actual: str | None = None,
    ) -> None:
        super().__init__(message, key=key, store=store)
        self.expected = expected
        self.actual = actual


class SizeLimitExceeded(ArchiveError):
    """A stream grew past its cap (decompression bomb, object larger than allowed)."""


class EndpointRefused(ArchiveError):
    """The endpoint failed the capability probe, so the archive refuses to use it."""


class UploadsUnlisted(ArchiveError):
    """The store cannot list its multipart uploads now: the list is unknown, not empty."""

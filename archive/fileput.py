"""A file of known size up to the multipart threshold, stored by one PutObject.

Read once to hash it (SHA-256 and the MD5 S3 checks on arrival, in the same pass, by
iter_file_slices as for multipart parts), then sent as a FileSlice that re-reads the
range from the page cache: memory stays at one 1 MiB block whatever the threshold.
Against a multipart upload of the same file this saves a CreateMultipartUpload, a
CompleteMultipartUpload and all parts but one; on `rclone serve s3` a quarter of the
server's CPU for 50 MB granules (docs/BENCHMARKS.md, Ingest). The object's SHA-256 is
known before the request is sent, so it always carries it as user metadata, and, where
the store checks one (``checksum=True``), as x-amz-checksum-sha256: the store then
refuses bytes that differ from what was hashed and keeps that digest, which
``S3Store.confirm`` reads back with one HEAD instead of the object. A file changed
between the hashing pass and the send fails the server's Content-MD5 check (and that
SHA-256 check) instead of being stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archive.multipart import checksum_sha256
from archive.streaming import HashingReader, iter_file_slices


def put_whole_file(
    client: Any, *, bucket: str, s3_key: str, reader: HashingReader, fd: int, start: int,
    size: int, content_type: str, metadata: Callable[[str], dict[str, str]],
    check_source: Callable[[], str], conditional: bool, checksum: bool, what: str,
) -> tuple[str, str | None]:
    """PutObject the ``size`` bytes of ``fd`` from ``start``; return (sha256, ETag).

    ``reader`` reads the same bytes through the file's stream; ``check_source`` compares
    what it hashed with what was expected and returns the digest; ``metadata(digest)`` is
    the object's user metadata; ``checksum`` sends the digest for the store to check.
    Errors are the client's: the caller translates them.
    """
    # Read to the end: a file that grew since its size was taken fails check_source.
    slices = list(iter_file_slices(reader, fd, start, size, what=what))
    digest = check_source()
    (body,) = slices
    extra = {"IfNoneMatch": "*"} if conditional else {}
    if checksum:
        extra["ChecksumSHA256"] = checksum_sha256(digest)
    response = client.put_object(
        Bucket=bucket, Key=s3_key, Body=body, ContentLength=size,
        ContentMD5=body.content_md5(), ContentType=content_type, Metadata=metadata(digest),
        **extra,
    )
    return digest, response.get("ETag")

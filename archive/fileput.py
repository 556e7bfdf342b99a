"""A file of known size up to the multipart threshold, stored by one PutObject.

Read once to hash it (SHA-256 and the MD5 S3 checks on arrival, in the same pass), then
sent as a FileSlice that re-reads the range from the page cache, as multipart parts of
files are: memory stays at one 1 MiB block whatever the threshold. Against a multipart
upload of the same file this saves a CreateMultipartUpload, a CompleteMultipartUpload
and all parts but one; on `rclone serve s3` a quarter of the server's CPU for 50 MB
granules (docs/BENCHMARKS.md, Ingest). The object's SHA-256 is known before the request
is sent, so it always carries it as user metadata. A file changed between the hashing
pass and the send fails the server's Content-MD5 check instead of being stored.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

from archive.streaming import CHUNK, FileSlice, HashingReader


def hash_md5(reader: HashingReader) -> str:
    """Read ``reader`` (which SHA-256-hashes) to its end; return the base64 MD5 of it."""
    md5 = hashlib.md5()
    while block := reader.read(CHUNK):
        md5.update(block)
    return base64.b64encode(md5.digest()).decode("ascii")


def put_whole_file(
    client: Any, *, bucket: str, s3_key: str, reader: HashingReader, fd: int, start: int,
    size: int, content_type: str, metadata: Callable[[str], dict[str, str]],
    check_source: Callable[[], str], conditional: bool, what: str,
) -> tuple[str, str | None]:
    """PutObject the ``size`` bytes of ``fd`` from ``start``; return (sha256, ETag).

    ``reader`` reads the same bytes through the file's stream; ``check_source`` compares
    what it hashed with what was expected and returns the digest; ``metadata(digest)`` is
    the object's user metadata. Errors are the client's: the caller translates them.
    """
    md5 = hash_md5(reader)
    digest = check_source()
    extra = {"IfNoneMatch": "*"} if conditional else {}
    response = client.put_object(
        Bucket=bucket, Key=s3_key, Body=FileSlice(fd, start, size, what=what),
        ContentLength=size, ContentMD5=md5, ContentType=content_type,
        Metadata=metadata(digest), **extra,
    )
    return digest, response.get("ETag")

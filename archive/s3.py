"""S3Store: objects in an S3-compatible bucket over boto3, streamed in parts and verified.

Verification (docs/ARCHITECTURE.md, "Verification"): where the endpoint's probe saw it
check a supplied SHA-256 and report it back (``sha256_checksums``), an object sent by one
PutObject as it came carries its SHA-256 for the store to check, and ``confirm`` accepts
the digest the store reports on HEAD; every other object is re-read and re-hashed.
"""

from __future__ import annotations

import base64
import builtins
import io
import logging
import os
import random
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from archive import codecs
from archive.errors import (
    ArchiveError,
    ChecksumMismatch,
    ObjectExists,
    ObjectNotFound,
    TransientArchiveError,
    UploadsUnlisted,
)
from archive.fileget import fetch_into_file
from archive.fileput import put_whole_file
from archive.multipart import checksum_sha256, choose_part_size, content_md5, multipart_upload
from archive.parallel_get import ParallelRangeReader
from archive.probe import Capabilities, ProbeTarget, cached_probe
from archive.ranged import DEFAULT_BLOCK_SIZE, DEFAULT_CACHE_BLOCKS, RangedFile
from archive.s3client import ResponseBody, make_cleanup_client, make_client
from archive.s3errors import error_code, translate
from archive.sources import Source, open_source, remaining_size, rewind_point
from archive.stores import (
    DEFAULT_MAX_OBJECT_BYTES,
    MAX_PRESIGN_SECONDS,
    ObjectInfo,
    PutResult,
    Store,
    UploadInfo,
    info_from_metadata,
    user_metadata,
)
from archive.streaming import (
    FileSlice,
    HashingReader,
    check_digest,
    iter_file_slices,
    iter_parts,
    iter_reads,
    release_first,
)

log = logging.getLogger(__name__)

MiB = 1024 * 1024
CHECKSUM_MODES = ("when_required", "when_supported")


def _regular_file_fd(stream: BinaryIO) -> int | None:
    """Return the descriptor of ``stream`` when it is a regular file read from its fd."""
    try:
        fd = stream.fileno()
        return fd if stat.S_ISREG(os.fstat(fd).st_mode) and stream.seekable() else None
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


class S3Store(Store):
    """Objects under ``prefix`` in ``bucket``; keys passed to methods are relative to the prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        checksum_mode: str | None = None,
        part_size: int = 8 * MiB,
        multipart_threshold: int | None = None,
        concurrency: int = 2,
        get_part_size: int = 8 * MiB,
        max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES,
        max_attempts: int = 10,
        upload_attempts: int = 3,
        retry_base_s: float = 0.5,
        connect_timeout: float = 10,
        read_timeout: float = 120,
        presign_max_s: int = 900,
        probe: bool = True,
        probe_cache_dir: str | os.PathLike[str] | None = None,
        probe_ttl_s: float = 0.0,
        zstd_threads: int = -1,
        name: str | None = None,
    ) -> None:
        if len(bucket) < 3:
            raise ValueError(f"bucket name {bucket!r} is shorter than S3's 3 characters")
        # Non-AWS servers break on the default flexible checksums (RELIABILITY pitfall 1).
        mode = checksum_mode or ("when_required" if endpoint_url else "when_supported")
        if mode not in CHECKSUM_MODES:
            raise ValueError(f"checksum_mode must be one of {CHECKSUM_MODES}, got {mode!r}")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.region = region
        self.checksum_mode = mode
        self.part_size = part_size
        # Files up to this size go up as one PutObject (archive/fileput.py); larger ones,
        # and streams, in parts. None: the part size (every file larger than a part in parts).
        self.multipart_threshold = part_size if multipart_threshold is None else max(
            part_size, multipart_threshold)
        self.concurrency = concurrency
        # Downloads use their own, smaller parts: an API process serving several
        # downloads holds get_part_size x (concurrency + 1) per download, a download into
        # a file (fileget.py) x (concurrency + 2). 0 = one stream.
        self.get_part_size = get_part_size
        self.max_object_bytes = max_object_bytes
        self.upload_attempts = max(1, upload_attempts)
        self.retry_base_s = retry_base_s
        self.presign_max_s = min(presign_max_s, MAX_PRESIGN_SECONDS)
        self.name = name or f"s3://{bucket}/{self.prefix}"
        self._probe_enabled = probe
        self._probe_cache_dir = probe_cache_dir  # probe.py: results kept between processes
        self._probe_ttl_s = probe_ttl_s
        self._zstd_threads = zstd_threads
        self._credentials = (access_key, secret_key, session_token)
        self._client_options: dict[str, Any] = {
            "max_attempts": max_attempts,
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            # Several callers share one client: fsck verifies 8 objects at once, each
            # download keeps `concurrency` ranged GETs in flight.
            "pool_size": max(50, 4 * concurrency + 2),
        }
        self._client: Any = None
        self._cleanup_client: Any = None
        self._client_lock = threading.Lock()
        self._client_pid = os.getpid()

    # -- client and probe --------------------------------------------------------------

    def _forget_inherited_clients(self) -> None:
        """In a process forked from the one that made the clients, drop them (and the lock).

        A client pools keep-alive connections, and a forked child inherits the very same
        sockets. Celery's main process probes the primary store at worker_ready, after its
        first pool children were forked, so every child that replaces a killed one
        inherited the probe's connection: two such children then wrote requests on one
        TCP connection and read each other's answers, e.g. another upload's ETag for a
        part, which rclone refuses at CompleteMultipartUpload with InvalidPart
        (RELIABILITY C1, pitfall 18). The lock is replaced too: a thread of the parent
        may have held it at the fork, and that thread does not exist here.
        """
        if self._client_pid != os.getpid():
            self._client_lock = threading.Lock()
            self._client = self._cleanup_client = None
            self._client_pid = os.getpid()

    @property
    def client(self) -> Any:
        """Return this process's boto3 client, created on first use (never at import)."""
        self._forget_inherited_clients()
        with self._client_lock:
            if self._client is None:
                self._client = make_client(**self._endpoint(), **self._client_options)
            return self._client

    def cleanup_client(self) -> Any:
        """Return a client with short timeouts for aborting and deleting after a failure.

        Made on first need, not with the main client: most stores never need it, and
        loading botocore's models again costs about 10 MB.
        """
        self._forget_inherited_clients()
        with self._client_lock:
            if self._cleanup_client is None:
                self._cleanup_client = make_cleanup_client(**self._endpoint())
            return self._cleanup_client

    def _endpoint(self) -> dict[str, Any]:
        """Return where and as whom both clients connect, and how they checksum."""
        return {"endpoint_url": self.endpoint_url, "region": self.region,
                "credentials": self._credentials, "checksum_mode": self.checksum_mode}

    def capabilities(self) -> Capabilities:
        """Return the endpoint's probed capabilities (probed once per endpoint and mode)."""
        if not self._probe_enabled:
            return Capabilities(
                endpoint=self.endpoint_url or "aws",
                checksum_mode=self.checksum_mode,
                single_roundtrip=True,
                multipart_roundtrip=True,
                delete_objects=True,
                conditional_writes=False,
                content_md5_checked=False,
            )
        target = ProbeTarget(
            self.client,
            bucket=self.bucket,
            endpoint=self.endpoint_url or "aws",
            checksum_mode=self.checksum_mode,
            cleanup_client=self.cleanup_client,
            prefix=self.prefix,
        )
        return cached_probe(target, cache_dir=self._probe_cache_dir, ttl_s=self._probe_ttl_s)

    def _s3_key(self, key: str) -> str:
        return self.prefix + self._check_key(key)

    def _fail(self, error: BaseException, key: str, action: str) -> ArchiveError:
        return translate(error, key=key, store=self.name, action=action)

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
        """Stream ``source`` in one hashing pass; retry transient failures if it can seek."""
        s3_key = self._s3_key(key)
        codecs.check_codec(codec)
        # overwrite=True (HPC outputs and staging) needs no conditional write and so has
        # never waited for the probe; its objects are verified by read-back.
        caps = None if overwrite else self.capabilities()
        conditional = caps is not None and caps.conditional_writes
        # Only an object stored as it came has the source's SHA-256 as its own.
        checksum = caps is not None and caps.sha256_checksums and codec == "none"
        with open_source(source) as stream:
            known = size if size is not None else remaining_size(stream)
            rewind = rewind_point(stream)
            attempts = self.upload_attempts if rewind is not None else 1
            for attempt in range(1, attempts + 1):
                try:
                    return self._put_once(
                        key,
                        s3_key,
                        stream,
                        known,
                        codec,
                        content_type,
                        metadata or {},
                        sha256,
                        conditional,
                        checksum,
                    )
                except ObjectExists:
                    existing = self.head(key)
                    if existing is None or existing.sha256 is None:
                        raise
                    return self._identical(key, existing, stream, rewind, sha256)
                except TransientArchiveError as e:
                    if attempt == attempts or rewind is None:
                        raise
                    delay = self.retry_base_s * 2 ** (attempt - 1) * (0.5 + random.random())
                    log.warning(
                        "%s: upload attempt %d failed (%s); retrying in %.1f s",
                        key,
                        attempt,
                        e,
                        delay,
                    )
                    time.sleep(delay)
                    stream.seek(rewind)
        raise AssertionError("unreachable")  # pragma: no cover

    def _put_once(
        self,
        key: str,
        s3_key: str,
        stream: BinaryIO,
        known: int | None,
        codec: str,
        content_type: str,
        extra: dict[str, str],
        sha256: str | None,
        conditional: bool,
        checksum: bool,
    ) -> PutResult:
        """Upload once. ``checksum``: a single PutObject also sends the SHA-256 to check."""
        started = time.monotonic()
        reader = HashingReader(stream)
        # Compressed output can be slightly larger than its input; leave room for it.
        bound = None if known is None else (known if codec == "none" else known + known // 50)
        part_size = choose_part_size(
            bound, part_size=self.part_size, max_object_bytes=self.max_object_bytes
        )

        def check_source() -> str:
            return reader.check_source(
                key=key,
                store=self.name,
                sha256=sha256,
                size=known,
                during="uploading",
                size_hint=" (did it change during the upload?)",
            )

        def upload_parts(pieces: Iterable[bytes | FileSlice]) -> PutResult:
            """Send ``pieces`` as one multipart upload, checking the source before completing."""
            meta = user_metadata(
                sha256=sha256, size=known, codec=codec, content_type=content_type, extra=extra
            )
            etag, stored = multipart_upload(
                self.client,
                bucket=self.bucket,
                s3_key=s3_key,
                key=key,
                store=self.name,
                parts=pieces,
                content_type=content_type,
                metadata=meta,
                concurrency=self.concurrency,
                max_object_bytes=self.max_object_bytes,
                conditional=conditional,
                before_complete=check_source,
                abort_client=self.cleanup_client,
            )
            return PutResult(key=key, size=reader.bytes_read, stored_size=stored,
                             sha256=reader.hexdigest(), codec=codec, etag=etag,
                             seconds=time.monotonic() - started)

        fd = _regular_file_fd(stream)
        if (codec == "none" and fd is not None and known is not None
                and part_size < known <= self.multipart_threshold):
            try:
                digest, etag = put_whole_file(
                    self.client, bucket=self.bucket, s3_key=s3_key, reader=reader, fd=fd,
                    start=stream.tell(), size=known, content_type=content_type,
                    metadata=lambda digest: user_metadata(
                        sha256=digest, size=known, codec=codec, content_type=content_type,
                        extra=extra),
                    check_source=check_source, conditional=conditional, checksum=checksum,
                    what=key,
                )
            except ArchiveError:
                raise
            except Exception as e:
                raise self._fail(e, key, "put object") from e
            return PutResult(key=key, size=known, stored_size=known, sha256=digest, codec=codec,
                             etag=etag, seconds=time.monotonic() - started,
                             store_checked=checksum)
        if codec == "none" and fd is not None and known is not None and known > part_size:
            # A file: parts are ranges of it, re-read when sent, never held in memory.
            return upload_parts(iter_file_slices(reader, fd, stream.tell(), part_size, what=key))
        if codec == "none":
            parts = iter_reads(reader, part_size)  # type: ignore[arg-type]
        else:
            encoded = codecs.encode(codec, reader, threads=self._zstd_threads)  # type: ignore[arg-type]
            parts = iter_parts(encoded, part_size)
        first = next(parts)
        second = next(parts, None)

        if second is not None:
            # Hand the first two parts over without keeping names for them here, so each
            # can be freed once uploaded: memory stays at part size x (concurrency + 1).
            head = [first, second]
            del first, second
            return upload_parts(release_first(head, parts))
        digest = check_source()
        meta = user_metadata(
            sha256=digest,
            size=reader.bytes_read,
            codec=codec,
            content_type=content_type,
            extra=extra,
        )
        extra_args = {"IfNoneMatch": "*"} if conditional else {}
        if checksum:  # codec "none": ``first`` is the whole source, ``digest`` its hash
            extra_args["ChecksumSHA256"] = checksum_sha256(digest)
        try:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=s3_key,
                Body=first,
                ContentMD5=content_md5(first),
                ContentType=content_type,
                Metadata=meta,
                **extra_args,
            )
        except Exception as e:
            raise self._fail(e, key, "put object") from e
        return PutResult(key=key, size=reader.bytes_read, stored_size=len(first), sha256=digest,
                         codec=codec, etag=response.get("ETag"),
                         seconds=time.monotonic() - started, store_checked=checksum)

    def _identical(
        self,
        key: str,
        existing: ObjectInfo,
        stream: BinaryIO,
        rewind: int | None,
        sha256: str | None,
    ) -> PutResult:
        """Accept a conditional-write conflict when the stored object has the same content."""
        digest = sha256
        if digest is None and rewind is not None:
            stream.seek(rewind)
            hashing = HashingReader(stream)
            while hashing.read(MiB):
                pass
            digest = hashing.hexdigest()
        if digest is None or digest != existing.sha256:
            raise ObjectExists(
                f"{key}: a different object already exists in {self.name}", key=key, store=self.name
            )
        return PutResult(
            key=key,
            size=existing.size or existing.stored_size,
            stored_size=existing.stored_size,
            sha256=digest,
            codec=existing.codec or "none",
            etag=existing.etag,
            seconds=0.0,
            existed=True,
        )

    # -- reading -----------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo | None:
        """HEAD the object; None if it does not exist."""
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=self._s3_key(key))
        except Exception as e:
            error = self._fail(e, key, "head")
            if isinstance(error, ObjectNotFound):
                return None
            raise error from e
        return self._info(key, response)

    def confirm(self, key: str, expected_sha256: str, *, codec: str | None = None) -> ObjectInfo:
        """Check ``key`` holds ``expected_sha256``: by one HEAD where the store can say so.

        Where the probe saw the store refuse a wrong SHA-256 and report the right one, an
        uncompressed object whose HEAD (checksum mode) reports a full-object SHA-256 is
        judged by it: the store hashed the bytes it received and would have refused them
        had they differed. Anything else (no such capability, a compressed object, a
        multipart object's composite checksum or none) is re-read and re-hashed
        (``verify``). Decay at rest is ``fsck --full``'s to find, which always re-reads.
        """
        if (codec or "none") != "none" or not self.capabilities().sha256_checksums:
            return self.verify(key, expected_sha256, codec=codec)
        try:
            response = self.client.head_object(
                Bucket=self.bucket, Key=self._s3_key(key), ChecksumMode="ENABLED")
        except Exception as e:
            raise self._fail(e, key, "head") from e
        info = self._info(key, response)
        reported = response.get("ChecksumSHA256")
        if (not reported or "-" in reported  # a composite: a hash of part hashes
                or response.get("ChecksumType") not in (None, "FULL_OBJECT")
                or (codec or info.codec) != "none"):
            return self.verify(key, expected_sha256, codec=codec)
        if info.size is not None and info.size != info.stored_size:
            raise ChecksumMismatch(
                f"{key}: stored size {info.stored_size} in {self.name} differs from recorded "
                f"size {info.size}", key=key, store=self.name, expected=expected_sha256)
        self._check_digests(info, expected_sha256, base64.b64decode(reported).hex(),
                            how="the store's SHA-256")
        return replace(info, size=info.stored_size, sha256=expected_sha256, codec="none")

    def _info(self, key: str, response: dict[str, Any]) -> ObjectInfo:
        return info_from_metadata(
            key,
            stored_size=int(response.get("ContentLength", 0)),
            metadata=response.get("Metadata", {}),
            etag=response.get("ETag"),
            last_modified=response.get("LastModified"),
            content_type=response.get("ContentType"),
        )

    def open_raw(self, key: str) -> tuple[BinaryIO, ObjectInfo]:
        """GET the object; the body is streamed, never read whole.

        Objects larger than two download parts are read as ``concurrency`` ranged GETs in
        flight (pinned to the ETag the HEAD saw), returned in order.
        """
        info = self.head(key) if self.get_part_size else None
        if info is not None and self._parallel(info):
            reader = ParallelRangeReader(
                self._range_fetch(key, info), info.stored_size, part_size=self.get_part_size,
                concurrency=self.concurrency, name=key, store=self.name,
            )
            return io.BufferedReader(reader, buffer_size=MiB), info
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._s3_key(key))
        except Exception as e:
            raise self._fail(e, key, "get") from e
        body = ResponseBody(response["Body"], key=key, store=self.name)
        return io.BufferedReader(body, buffer_size=MiB), self._info(key, response)

    def _parallel(self, info: ObjectInfo) -> bool:
        """Whether ``info``'s object is large enough to fetch as parallel ranged GETs."""
        return self.get_part_size > 0 and info.stored_size > 2 * self.get_part_size

    def _get_into(
        self, key: str, out: BinaryIO, *, expected_sha256: str | None, fsync: bool
    ) -> ObjectInfo:
        """Fetch a large uncompressed object's parts straight into ``out`` (fileget.py)."""
        info = self.head(key) if self.get_part_size else None
        if (info is None or not self._parallel(info) or (info.codec or "none") != "none"
                or info.size not in (None, info.stored_size)):
            return super()._get_into(key, out, expected_sha256=expected_sha256, fsync=fsync)
        expected = expected_sha256 or info.sha256
        digest = fetch_into_file(
            out.fileno(), self._range_fetch(key, info), info.stored_size,
            part_size=self.get_part_size, concurrency=self.concurrency, name=key,
            store=self.name, writeback=fsync,
            # No codec recorded (metadata lost): refuse compressed bytes, as open() does.
            check_head=None if info.codec else lambda head: self._refuse_compressed(info, head),
            hashed=expected is not None)
        if expected is not None and digest is not None:
            check_digest(digest, info.stored_size, expected_sha256=expected,
                         expected_size=info.size, what=key, store=self.name)
        return info

    def _range_fetch(self, key: str, info: ObjectInfo) -> Callable[[int, int], bytes]:
        """Return fetch(start, stop) -> bytes for ``key``, failing if the object changes."""
        s3_key = self._s3_key(key)

        def fetch(start: int, stop: int) -> bytes:
            extra = {"IfMatch": info.etag} if info.etag else {}
            try:
                response = self.client.get_object(
                    Bucket=self.bucket, Key=s3_key, Range=f"bytes={start}-{stop - 1}", **extra
                )
                data: bytes = response["Body"].read()
            except Exception as e:
                raise self._fail(e, key, f"ranged get {start}-{stop}") from e
            # Some servers ignore If-Match, so compare the ETag as well.
            if info.etag and response.get("ETag") not in (None, info.etag):
                raise ArchiveError(
                    f"{key}: changed in {self.name} while being read", key=key, store=self.name
                )
            return data

        return fetch

    def open_ranged(
        self,
        key: str,
        block_size: int = DEFAULT_BLOCK_SIZE,
        cache_blocks: int = DEFAULT_CACHE_BLOCKS,
    ) -> RangedFile:
        """Return a RangedFile whose ranged GETs (blocks, prefetches) are pinned to the ETag."""
        info = self.head(key)
        if info is None:
            raise ObjectNotFound(f"{key}: no such object in {self.name}", key=key, store=self.name)
        if (info.codec or "none") != "none":
            raise ArchiveError(
                f"{key}: ranged reads need an uncompressed object, this one is {info.codec}",
                key=key,
                store=self.name,
            )
        # boto3 clients are thread-safe, so prefetch may keep `concurrency` GETs in flight.
        return RangedFile(
            self._range_fetch(key, info), info.stored_size, name=key, block_size=block_size,
            cache_blocks=cache_blocks, prefetch_concurrency=self.concurrency,
        )

    def presign(self, key: str, expires_s: int) -> str | None:
        """Return a presigned GET URL valid for ``expires_s`` capped at ``presign_max_s``."""
        if expires_s <= 0:
            raise ValueError(f"{self.name}: presign expiry must be positive, got {expires_s}")
        expires = min(int(expires_s), self.presign_max_s)
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._s3_key(key)},
            ExpiresIn=expires,
        )
        return url

    # -- deleting and listing ------------------------------------------------------------

    def delete(self, key: str) -> None:
        """Delete the object (S3 answers success for a missing key)."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._s3_key(key))
        except Exception as e:
            error = self._fail(e, key, "delete")
            if not isinstance(error, ObjectNotFound):
                raise error from e

    def delete_many(self, keys: list[str]) -> None:
        """Delete several objects with DeleteObjects, 1,000 keys per request."""
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            objects = [{"Key": self._s3_key(k)} for k in batch]
            try:
                response = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                )
            except Exception as e:
                raise self._fail(e, batch[0], "delete objects") from e
            if errors := response.get("Errors"):
                first = errors[0]
                raise ArchiveError(
                    f"{first.get('Key')}: delete in {self.name} failed: {first.get('Code')} "
                    f"({len(errors)} of {len(batch)} keys failed)",
                    key=first.get("Key"),
                    store=self.name,
                )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """List objects under ``prefix`` (no user metadata: ListObjects does not return it)."""
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        key=item["Key"][len(self.prefix) :],
                        stored_size=int(item["Size"]),
                        etag=item.get("ETag"),
                        last_modified=item.get("LastModified"),
                    )
        except Exception as e:
            raise self._fail(e, prefix or "/", "list") from e

    def list_uploads(self) -> builtins.list[UploadInfo]:
        """Return the multipart uploads in progress under this store's prefix.

        Raises UploadsUnlisted when the endpoint answers the listing itself with
        NoSuchUpload (404): ``rclone serve s3`` does so whenever it holds no upload state,
        e.g. after a restart, so the list is unknown rather than empty.
        """
        uploads = []
        paginator = self.client.get_paginator("list_multipart_uploads")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Uploads", []):
                    uploads.append(
                        UploadInfo(
                            key=item["Key"][len(self.prefix) :],
                            upload_id=item["UploadId"],
                            initiated=item.get("Initiated"),
                        )
                    )
        except ClientError as e:
            if error_code(e) in ("NoSuchUpload", "404"):
                raise UploadsUnlisted(
                    f"{self.name}: cannot list multipart uploads: the endpoint "
                    f"{self.endpoint_url or 'aws'} answered ListMultipartUploads with "
                    f"{error_code(e)} (HTTP 404), as rclone serve s3 does while it holds no "
                    "upload state (after it starts or restarts)",
                    store=self.name,
                ) from e
            raise self._fail(e, self.prefix or "/", "list multipart uploads") from e
        except Exception as e:
            raise self._fail(e, self.prefix or "/", "list multipart uploads") from e
        return uploads

    def abort_upload(self, key: str, upload_id: str) -> None:
        """Abort one multipart upload; NoSuchUpload (already gone) is not an error."""
        try:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self._s3_key(key), UploadId=upload_id
            )
        except Exception as e:
            if getattr(e, "response", {}).get("Error", {}).get("Code") == "NoSuchUpload":
                return
            raise self._fail(e, key, f"abort upload {upload_id}") from e

"""S3 multipart upload with bounded memory: part sizing and a concurrent, always-aborted upload."""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from typing import Any

from botocore.exceptions import ClientError

from archive.errors import SizeLimitExceeded, UploadDropped
from archive.faults import fault_point
from archive.s3client import cancel_retries_on
from archive.s3errors import error_code, translate
from archive.streaming import FileSlice

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MAX_PARTS = 10_000
# Sizing aims at 9,000 parts so a size estimate that is a little low (compressed output,
# a file still growing) cannot push an upload over S3's 10,000-part ceiling.
PART_TARGET = 9_000
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
PART_SETTLE_S = 10.0  # how long a refused part's siblings may take to end before the abort


def choose_part_size(size: int | None, *, part_size: int, max_object_bytes: int) -> int:
    """Return a part size (whole MiB, 5 MiB-5 GiB) that keeps ``size`` bytes within 9,000 parts.

    For an unknown size the bound is ``max_object_bytes``, the largest object the store takes.

    >>> choose_part_size(10 * MiB, part_size=8 * MiB, max_object_bytes=2**40) // MiB
    8
    >>> p = choose_part_size(700 * 10**9, part_size=8 * MiB, max_object_bytes=2**40)
    >>> p // MiB, math.ceil(700 * 10**9 / p) <= MAX_PARTS
    (75, True)
    >>> choose_part_size(None, part_size=8 * MiB, max_object_bytes=2**40) // MiB
    117
    """
    bound = max_object_bytes if size is None else size
    wanted = max(part_size, math.ceil(bound / PART_TARGET), MIN_PART_SIZE)
    rounded = math.ceil(wanted / MiB) * MiB
    if rounded > MAX_PART_SIZE:
        raise SizeLimitExceeded(
            f"{bound} bytes would need parts larger than {MAX_PART_SIZE} bytes (S3's limit)"
        )
    return rounded


def content_md5(data: bytes) -> str:
    """Return the base64 MD5 digest S3 expects in Content-MD5."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def checksum_sha256(hex_digest: str) -> str:
    """Return the x-amz-checksum-sha256 form (base64 of the 32 bytes) of a hex SHA-256.

    >>> checksum_sha256(hashlib.sha256(b"").hexdigest())
    '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='
    """
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def multipart_upload(
    client: Any,
    *,
    bucket: str,
    s3_key: str,
    key: str,
    store: str,
    parts: Iterable[bytes | FileSlice],
    content_type: str,
    metadata: dict[str, str],
    concurrency: int,
    max_object_bytes: int,
    conditional: bool,
    before_complete: Callable[[], object],
    abort_client: Callable[[], Any] | None = None,
) -> tuple[str | None, int]:
    """Upload ``parts`` as one multipart upload; return (ETag, stored bytes).

    At most ``concurrency`` parts are in flight and one more is being read, so memory stays
    at part size x (concurrency + 1). ``before_complete`` runs after the last part (it checks
    the source's hash and size) and may raise. Any failure, KeyboardInterrupt and Celery's
    SoftTimeLimitExceeded included, aborts the upload (with the client ``abort_client``
    returns, one with short timeouts, when given) before the exception propagates; an
    upload the abort could not remove is left for ``archive cleanup``, which finds it
    because its catalog row is no longer UPLOADING.
    """
    fault_point("before_create_mpu")
    try:
        created = client.create_multipart_upload(
            Bucket=bucket, Key=s3_key, ContentType=content_type, Metadata=metadata
        )
    except Exception as e:
        raise translate(e, key=key, store=store, action="create multipart upload") from e
    upload_id = created["UploadId"]
    abandoned = threading.Event()
    slots = threading.BoundedSemaphore(concurrency)
    failures: list[BaseException] = []
    stored = 0
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="archive-part")
    futures: list[Future[dict[str, Any]]] = []
    try:
        for number, body in enumerate(parts, start=1):
            if failures:
                break
            if number > MAX_PARTS:
                raise SizeLimitExceeded(
                    f"{key}: more than {MAX_PARTS} parts needed in {store}; "
                    "raise the part size or the store's max_object_bytes",
                    key=key,
                    store=store,
                )
            stored += len(body)
            if stored > max_object_bytes:
                raise SizeLimitExceeded(
                    f"{key}: object exceeds the limit of {max_object_bytes} bytes in {store}",
                    key=key,
                    store=store,
                )
            slots.acquire()
            # The worker pops the part out of this holder, so once it has been sent nothing
            # keeps it alive (the executor's work item would otherwise hold it a little longer).
            holder = [body]
            del body
            future = executor.submit(
                _upload_part, client, bucket, s3_key, upload_id, number, holder, key, store, slots,
                abandoned,
            )
            future.add_done_callback(lambda f: _record_failure(f, failures))
            futures.append(future)
            if number == 2:
                fault_point("mid_parts")
        executor.shutdown(wait=True)
        if failures:
            raise _cause(failures)
        before_complete()
        fault_point("after_parts_before_complete")
        done = [f.result() for f in futures]
        extra = {"IfNoneMatch": "*"} if conditional else {}
        try:
            completed = client.complete_multipart_upload(
                Bucket=bucket,
                Key=s3_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": done},
                **extra,
            )
        except Exception as e:
            raise translate(e, key=key, store=store, action="complete multipart upload") from e
        return completed.get("ETag"), stored
    except BaseException as error:
        # Abort without waiting for parts in flight: one stalled on a dead connection
        # (read timeout 120 s) must not hold back the abort or a soft time limit (C8).
        # A part finishing after the abort is refused by the server (NoSuchUpload), and
        # a stalled one is not retried (``abandoned``), so its thread ends at its timeout.
        abandoned.set()
        executor.shutdown(wait=False, cancel_futures=True)
        if failures and error in failures:
            # The server refused a part (BadDigest...): the others are answering, so let
            # them end, briefly, before the abort, so that none lands after it.
            futures_wait(futures, timeout=PART_SETTLE_S)
        _abort(abort_client or (lambda: client), bucket, s3_key, upload_id, key, store)
        raise


def _record_failure(future: Future[dict[str, Any]], failures: list[BaseException]) -> None:
    """Remember every failure of a part, in the order they happened."""
    if not future.cancelled() and future.exception() is not None:
        failures.append(future.exception())  # type: ignore[arg-type]


def _cause(failures: list[BaseException]) -> BaseException:
    """Return the failure that explains the others: the first that is not UploadDropped.

    When rclone refuses a damaged part it fails the whole upload, and a sibling part can
    hear NoSuchUpload before the refused part hears BadDigest.
    """
    return next((f for f in failures if not isinstance(f, UploadDropped)), failures[0])


def _upload_part(
    client: Any,
    bucket: str,
    s3_key: str,
    upload_id: str,
    number: int,
    holder: list[bytes | FileSlice],
    key: str,
    store: str,
    slots: threading.BoundedSemaphore,
    abandoned: threading.Event,
) -> dict[str, Any]:
    """Upload one part with an explicit Content-MD5; return its CompleteMultipartUpload entry."""
    body = holder.pop()
    try:
        md5 = body.content_md5() if isinstance(body, FileSlice) else content_md5(body)
        with cancel_retries_on(abandoned):
            response = client.upload_part(
                Bucket=bucket,
                Key=s3_key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ContentMD5=md5,
            )
    except Exception as e:
        dropped = isinstance(e, ClientError) and error_code(e) == "NoSuchUpload"
        if dropped and not abandoned.is_set():
            raise UploadDropped(
                f"{key}: {store} dropped multipart upload {upload_id} during part {number} "
                "(NoSuchUpload; it refused another part, restarted or was told to abort)",
                key=key,
                store=store,
            ) from e
        raise translate(e, key=key, store=store, action=f"upload part {number}") from e
    finally:
        del body
        slots.release()  # only now may the reader load another part
    return {"PartNumber": number, "ETag": response["ETag"]}


def _abort(
    make_client: Callable[[], Any], bucket: str, s3_key: str, upload_id: str, key: str, store: str
) -> None:
    """Abort the upload; log (never raise) if that fails, so the original error propagates."""
    try:
        make_client().abort_multipart_upload(Bucket=bucket, Key=s3_key, UploadId=upload_id)
    except Exception as e:  # noqa: BLE001 - the upload's own error matters more
        code = getattr(e, "response", {}).get("Error", {}).get("Code")
        if code != "NoSuchUpload":
            log.warning(
                "%s: could not abort multipart upload %s in %s (left for archive cleanup): %s",
                key, upload_id, store, e,
            )
    else:
        log.info("%s: aborted multipart upload %s in %s", key, upload_id, store)

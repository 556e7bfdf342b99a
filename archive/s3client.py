"""boto3 client set-up for non-AWS S3 servers, and a response body that raises our errors."""

from __future__ import annotations

import base64
import hashlib
import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import urllib3.exceptions
from botocore.config import Config
from botocore.exceptions import HTTPClientError

from archive.s3errors import translate
from archive.streaming import OwningReader

# A client for the clean-up after a failure (aborting an upload, deleting probe objects):
# the endpoint may be the very thing that stalled, and the caller may be a task between
# its soft and hard time limits, so it must give up within seconds, not minutes.
CLEANUP_CONNECT_TIMEOUT_S = 2.0
CLEANUP_READ_TIMEOUT_S = 5.0
CLEANUP_MAX_ATTEMPTS = 2
# What the network can raise under botocore's catch-all HTTPClientError; anything else
# came from this process (a signal handler, a body reader) and is not the network's fault.
_NETWORK_ERRORS = (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError)
_cancel = threading.local()


def make_client(
    *,
    endpoint_url: str | None,
    region: str,
    credentials: tuple[str | None, str | None, str | None],
    checksum_mode: str,
    max_attempts: int,
    connect_timeout: float,
    read_timeout: float,
    pool_size: int,
) -> Any:
    """Return an S3 client configured per RELIABILITY.md's pitfalls (path style, checksums...)."""
    config = Config(
        signature_version="s3v4",  # presigned URLs carry X-Amz-Expires only with SigV4
        # Every request with a body we send carries a signed Content-MD5 (parts, objects,
        # DeleteObjects), which the server checks, and we re-read and re-hash every object
        # (I5); hashing each body a third time for SigV4 (botocore does so on plain http)
        # only costs CPU the server needs on a small machine.
        s3={"addressing_style": "path", "payload_signing_enabled": False} if endpoint_url else {},
        request_checksum_calculation=checksum_mode,
        response_checksum_validation=checksum_mode,
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        tcp_keepalive=True,
        max_pool_connections=pool_size,
    )
    access_key, secret_key, token = credentials
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=token,
        config=config,
    )
    # botocore stopped sending Content-MD5 on these (RELIABILITY pitfall 3).
    for op in ("DeleteObjects", "PutBucketLifecycleConfiguration"):
        client.meta.events.register(f"before-sign.s3.{op}", add_content_md5)
    client.meta.events.register_first("needs-retry.s3", refuse_pointless_retries)
    return client


def make_cleanup_client(
    *,
    endpoint_url: str | None,
    region: str,
    credentials: tuple[str | None, str | None, str | None],
    checksum_mode: str,
) -> Any:
    """Return a client with short timeouts and one retry, for aborts and deletes after a failure."""
    return make_client(
        endpoint_url=endpoint_url,
        region=region,
        credentials=credentials,
        checksum_mode=checksum_mode,
        max_attempts=CLEANUP_MAX_ATTEMPTS,
        connect_timeout=CLEANUP_CONNECT_TIMEOUT_S,
        read_timeout=CLEANUP_READ_TIMEOUT_S,
        pool_size=2,
    )


def refuse_pointless_retries(caught_exception: BaseException | None = None, **_: Any) -> None:
    """botocore ``needs-retry`` hook: stop retries that cannot help; raise instead.

    botocore wraps every exception raised while a request is in flight in HTTPClientError
    and retries it, so Celery's SoftTimeLimitExceeded (raised by a signal handler in the
    middle of a socket read) would become ten more attempts of 120 s each and never reach
    the task (RELIABILITY C8). Such an exception is re-raised as it was. And a request
    made for an upload that was since cancelled (see ``cancel_retries_on``) is not retried.
    """
    if type(caught_exception) is HTTPClientError:
        cause = getattr(caught_exception, "kwargs", {}).get("error")
        if isinstance(cause, Exception) and not isinstance(cause, _NETWORK_ERRORS):
            raise cause
    cancelled: threading.Event | None = getattr(_cancel, "event", None)
    if cancelled is not None and cancelled.is_set():
        raise RetryCancelled("not retried: the upload this request belongs to was abandoned")


class RetryCancelled(Exception):
    """A failed request was not retried because its upload had been abandoned meanwhile."""


@contextmanager
def cancel_retries_on(event: threading.Event) -> Iterator[None]:
    """In this thread, within the block, botocore stops retrying once ``event`` is set.

    A part stalled on a dead connection ends at its read timeout instead of being sent
    again, max_attempts times, to an upload that was already aborted.
    """
    _cancel.event = event
    try:
        yield
    finally:
        _cancel.event = None


def add_content_md5(request: Any, **_: Any) -> None:
    """Set Content-MD5 on a request whose body is in memory, before it is signed."""
    body = request.body
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, bytes | bytearray) or "Content-MD5" in request.headers:
        return
    request.headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode("ascii")


class ResponseBody(OwningReader):
    """Raw stream over a botocore StreamingBody that reports dropped connections as ours."""

    def __init__(self, body: Any, *, key: str, store: str) -> None:
        super().__init__()
        self._inner = body
        self._key = key
        self._store = store

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Read the next bytes of the response body into ``buffer``."""
        try:
            data = self._inner.read(len(buffer))
        except Exception as e:
            raise translate(e, key=self._key, store=self._store, action="read body") from e
        n = len(data)
        buffer[:n] = data
        return n


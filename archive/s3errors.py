"""Translate botocore exceptions into archive errors, deciding whether a retry can help."""

from __future__ import annotations

import http.client

import urllib3.exceptions
from botocore.exceptions import (
    BotoCoreError,
    ChecksumError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
)

from archive.errors import (
    ArchiveError,
    ObjectExists,
    ObjectNotFound,
    TransientArchiveError,
)

_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}
# Bad digests mean the bytes were damaged on the way; sending them again can succeed.
_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "BadDigest",
    "InvalidDigest",
    "XAmzContentSHA256Mismatch",
    "IncompleteBody",
}


# Failures of the store or of the way to it. Anything else raised during a request is not
# the store's to rename: above all Celery's SoftTimeLimitExceeded, which a signal handler
# raises in the middle of a socket read and the task must see as it is (RELIABILITY C8).
_STORE_FAILURES = (
    ArchiveError,
    ClientError,
    BotoCoreError,
    OSError,
    http.client.HTTPException,
    urllib3.exceptions.HTTPError,
)


def error_code(error: ClientError) -> str:
    """Return the S3 error code of a ClientError (the status code when the body had none)."""
    code = error.response.get("Error", {}).get("Code")
    return str(code or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def status_code(error: ClientError) -> int:
    """Return the HTTP status of a ClientError, or 0 if unknown."""
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_transient(error: BaseException) -> bool:
    """Return True for failures a retry may cure: 5xx, throttling, bad digest, lost connection."""
    if isinstance(error, TransientArchiveError):
        return True
    if isinstance(error, ClientError):
        return error_code(error) in _TRANSIENT_CODES or status_code(error) >= 500
    return isinstance(
        error, HTTPClientError | ConnectionError | IncompleteReadError | ChecksumError
    )


def translate(error: BaseException, *, key: str, store: str, action: str) -> ArchiveError:
    """Return the archive error for a botocore failure during ``action`` on ``key``.

    An exception that is not a store failure (a time limit, a bug) is re-raised unchanged.
    """
    if not isinstance(error, _STORE_FAILURES):
        raise error
    if isinstance(error, ArchiveError):
        return error
    if isinstance(error, ClientError):
        code = error_code(error)
        detail = f"{key}: {action} in {store} failed: {code} (HTTP {status_code(error)})"
        if code in _NOT_FOUND:
            return ObjectNotFound(f"{key}: no such object in {store}", key=key, store=store)
        if code == "PreconditionFailed" and action.startswith(("put", "complete")):
            return ObjectExists(f"{key}: an object already exists in {store}", key=key, store=store)
        if is_transient(error):
            return TransientArchiveError(detail, key=key, store=store)
        return ArchiveError(detail, key=key, store=store)
    if isinstance(error, BotoCoreError):
        detail = f"{key}: {action} in {store} failed: {error}"
        if is_transient(error):
            return TransientArchiveError(detail, key=key, store=store)
        return ArchiveError(detail, key=key, store=store)
    return ArchiveError(f"{key}: {action} in {store} failed: {error!r}", key=key, store=store)

"""Celery's soft time limit, raised by a signal handler in the middle of a stalled S3
request, ends the upload at once: it is not retried, not renamed into an archive error,
and no multipart upload is left behind (RELIABILITY C8)."""

from __future__ import annotations

import io
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from archive.s3 import S3Store
from tests.archive.conftest import PART, MiB, payload
from tests.archive.test_s3_faults import assert_nothing_left
from tests.support.s3servers import S3Server
from tests.support.tcpproxy import TcpProxy

# serial: soft time limits must stop stalled transfers within seconds of the limit.
pytestmark = pytest.mark.serial

Proxied = Callable[..., tuple[S3Store, TcpProxy]]
SOFT_LIMIT_S = 1.0
# Far longer than the time the test allows, so a retried or waited-for request shows.
PATIENT = {"read_timeout": 60, "max_attempts": 5, "upload_attempts": 3}


@contextmanager
def soft_limit_after(seconds: float) -> Iterator[None]:
    """Raise SoftTimeLimitExceeded in this (the main) thread after ``seconds``, as Celery does.

    The alarm repeats every second until the block ends. One alarm was once lost on a
    loaded machine (the put went on retrying for minutes; an exception raised while the
    interpreter runs a finalizer is printed and dropped, one way that happens). Code
    that swallows the exception itself still fails the test: it swallows every repeat.
    """

    def fire(signum: int, frame: Any) -> None:
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def put_until_the_soft_limit(store: S3Store, key: str, size: int) -> float:
    """Put ``size`` bytes, expect the soft limit to end it; return the seconds it took."""
    started = time.monotonic()
    with pytest.raises(SoftTimeLimitExceeded), soft_limit_after(SOFT_LIMIT_S):
        store.put(key, io.BytesIO(payload(size)))
    return time.monotonic() - started


def probe_uploads(server: S3Server) -> set[str]:
    """Return the ids of the multipart uploads the capability probe has open in the bucket."""
    listed = server.client().list_multipart_uploads(Bucket=server.bucket)
    return {u["UploadId"] for u in listed.get("Uploads", []) if "_probe/" in u["Key"]}


def test_the_soft_limit_ends_a_stalled_single_put_without_a_retry(
    s3_server: S3Server, proxied_store: Proxied
) -> None:
    store, proxy = proxied_store(s3_server, **PATIENT)
    proxy.stall(120, after=256 * 1024, times=None)
    seconds = put_until_the_soft_limit(store, "k/stalled-put", MiB)
    assert seconds < SOFT_LIMIT_S + 3
    proxy.clear()
    assert s3_server.store(store.prefix, probe=False).head("k/stalled-put") is None


def test_the_soft_limit_aborts_a_multipart_upload_whose_parts_stalled(
    s3_server: S3Server, proxied_store: Proxied
) -> None:
    store, proxy = proxied_store(s3_server, **PATIENT)
    proxy.stall(120, after=MiB, times=None)  # every part's connection hangs
    seconds = put_until_the_soft_limit(store, "k/stalled-parts", 3 * PART)
    assert seconds < SOFT_LIMIT_S + 3, "the abort did not wait for the stalled parts"
    proxy.clear()
    assert_nothing_left(s3_server, store, "k/stalled-parts")


def test_the_soft_limit_during_the_capability_probe_aborts_the_probe_upload(
    s3_server: S3Server, proxied_store: Proxied
) -> None:
    before = probe_uploads(s3_server)
    store, proxy = proxied_store(s3_server, probe=True, **PATIENT)
    proxy.stall(120, after=MiB, times=None)  # the probe's 5 MiB part hangs
    seconds = put_until_the_soft_limit(store, "k/never-probed", MiB)
    assert seconds < SOFT_LIMIT_S + 3
    assert probe_uploads(s3_server) <= before

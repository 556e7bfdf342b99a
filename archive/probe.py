"""Startup capability probe of an S3 endpoint (RELIABILITY.md), run once and cached.

The result is kept for the life of the process and, when the store is given a cache
directory and a time to live, in a small file there, so the short processes of a script
(``archive put`` after ``archive put``) do not each spend a probe's round trips (about a
quarter of a second on loopback) before their first byte. Only a passing probe is kept:
a refused endpoint is probed again by the next process. The cost is that a server
changed behind the same URL is noticed up to that time to live later. A kept result
from a version of this module that probed less (a field missing) counts as no result.
Whatever the probe said, an object is only ever counted verified by its SHA-256: read
back, or reported by a store the probe saw refuse a wrong one (``sha256_checksums``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from archive.errors import EndpointRefused
from archive.multipart import MIN_PART_SIZE, checksum_sha256, content_md5
from archive.s3errors import error_code, status_code, translate

log = logging.getLogger(__name__)

PROBE_PREFIX = "_probe/"


@dataclass(frozen=True)
class Capabilities:
    """What an endpoint was seen to do; round trips must pass or the endpoint is refused."""

    endpoint: str
    checksum_mode: str
    single_roundtrip: bool
    multipart_roundtrip: bool
    delete_objects: bool
    conditional_writes: bool
    content_md5_checked: bool
    # PutObject with x-amz-checksum-sha256: a wrong digest is refused, and HeadObject with
    # checksum mode reports the full-object SHA-256 back (S3Store.confirm relies on both).
    sha256_checksums: bool = False
    seconds: float = 0.0


@dataclass(frozen=True)
class ProbeTarget:
    """The endpoint and bucket to probe, as whom (``client``) and under which key prefix.

    ``cleanup_client`` returns the client (one with short timeouts) that removes the
    probe's objects and upload after a failure; None: ``client`` itself.
    """

    client: Any
    bucket: str
    endpoint: str
    checksum_mode: str
    cleanup_client: Callable[[], Any] | None = None
    prefix: str = ""


_cache: dict[tuple[str, str, str], Capabilities] = {}
_lock = threading.Lock()


def _new_lock_in_child() -> None:
    # A child forked while another thread held the lock (a Celery pool child started
    # during a probe) would wait on it for ever: it gets a fresh one.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


def reset_cache() -> None:
    """Forget every cached probe result (tests, or after reconfiguring endpoints)."""
    with _lock:
        _cache.clear()


def cached_probe(
    target: ProbeTarget,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    ttl_s: float = 0.0,
) -> Capabilities:
    """Return the capabilities of the target's (endpoint, bucket, mode), probing on first use.

    With ``cache_dir`` and ``ttl_s`` > 0, a result another process kept there less than
    ``ttl_s`` seconds ago counts as this process's first use.

    The probe writes under the target's ``prefix`` (the store's own), so an upload of it
    that an abort missed is found by that store's ``archive cleanup``.
    """
    cache_key = (target.endpoint, target.bucket, target.checksum_mode)
    with _lock:
        if cache_key not in _cache:
            kept = _disk_path(cache_dir, cache_key) if cache_dir and ttl_s > 0 else None
            caps = _load(kept, cache_key, ttl_s) if kept else None
            if caps is None:
                caps = probe(target)
                if kept:
                    _save(kept, cache_key, caps)
            _cache[cache_key] = caps
        return _cache[cache_key]


def _disk_path(cache_dir: str | os.PathLike[str], cache_key: tuple[str, str, str]) -> Path:
    name = hashlib.sha256("\0".join(cache_key).encode()).hexdigest()[:32]
    return Path(cache_dir) / f"probe-{name}.json"


def _load(path: Path, cache_key: tuple[str, str, str], ttl_s: float) -> Capabilities | None:
    """Return the kept result for ``cache_key`` if it is younger than ``ttl_s``, else None."""
    try:
        record = json.loads(path.read_text())
        if record["key"] != list(cache_key):
            return None
        age = time.time() - float(record["probed_at"])
        kept = record["capabilities"]
        missing = {f.name for f in dataclasses.fields(Capabilities)} - {"seconds"} - set(kept)
        if missing:  # kept by an older probe: what it did not try is unknown, not False
            log.info("probe cache %s lacks %s; probing afresh", path, ", ".join(sorted(missing)))
            return None
        caps = Capabilities(**kept)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:  # unreadable: probe afresh
        log.info("probe cache %s ignored: %s", path, e)
        return None
    if not 0 <= age < ttl_s:
        return None
    log.debug("capability probe of %s/%s from %s (%.0f s old)", cache_key[0], cache_key[1],
              path, age)
    return caps


def _save(path: Path, cache_key: tuple[str, str, str], caps: Capabilities) -> None:
    """Keep a passing probe's result; a cache that cannot be written only costs time."""
    record = {"key": list(cache_key), "probed_at": time.time(),
              "capabilities": dataclasses.asdict(caps)}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp.write_text(json.dumps(record))
        os.replace(tmp, path)  # readers in other processes see the old file or the new
    except OSError as e:
        log.warning("probe cache %s not written: %s", path, e)
        tmp.unlink(missing_ok=True)


def probe(target: ProbeTarget) -> Capabilities:
    """Probe the endpoint with objects under ``prefix + _probe/``; EndpointRefused if bytes change.

    After a failure the probe's objects and upload are removed with the target's cleanup
    client. Exceptions that are not the endpoint's (KeyboardInterrupt, Celery's
    SoftTimeLimitExceeded) propagate unchanged.
    """
    started = time.monotonic()
    client, bucket, checksum_mode = target.client, target.bucket, target.checksum_mode
    tidy = target.cleanup_client or (lambda: client)
    base = f"{target.prefix}{PROBE_PREFIX}{uuid.uuid4().hex}/"
    where = f"{target.endpoint}/{bucket}"
    created: list[str] = []
    try:
        single = _single_roundtrip(client, bucket, base + "single", created)
        if not single:
            raise EndpointRefused(
                f"{where}: PutObject then GetObject returned different bytes "
                f"(checksum mode {checksum_mode}); refusing to use this endpoint",
                key=base + "single",
                store=where,
            )
        multi = _multipart_roundtrip(client, tidy, bucket, base + "multipart", created)
        if not multi:
            raise EndpointRefused(
                f"{where}: a 2-part multipart upload read back different bytes "
                f"(checksum mode {checksum_mode}); refusing to use this endpoint",
                key=base + "multipart",
                store=where,
            )
        conditional = _conditional_write(client, bucket, base + "single")
        md5_checked = _md5_checked(client, bucket, base + "badmd5", created)
        sha256_checked = _sha256_checked(client, bucket, base + "sha256", created)
        deleted = _delete_objects(client, bucket, created)
    except ClientError as e:
        _cleanup(tidy(), bucket, created)
        raise EndpointRefused(
            f"{where}: capability probe failed: {error_code(e)} (HTTP {status_code(e)})",
            key=base,
            store=where,
        ) from e
    except BotoCoreError as e:
        _cleanup(tidy(), bucket, created)
        raise translate(e, key=base, store=where, action="capability probe") from e
    except BaseException:
        _cleanup(tidy(), bucket, created)
        raise
    caps = Capabilities(
        endpoint=target.endpoint,
        checksum_mode=checksum_mode,
        single_roundtrip=single,
        multipart_roundtrip=multi,
        delete_objects=deleted,
        conditional_writes=conditional,
        content_md5_checked=md5_checked,
        sha256_checksums=sha256_checked,
        seconds=time.monotonic() - started,
    )
    log.info("capability probe of %s: %s", where, caps)
    return caps


def _single_roundtrip(client: Any, bucket: str, key: str, created: list[str]) -> bool:
    body = os.urandom(64 * 1024 + 17)
    created.append(key)
    client.put_object(Bucket=bucket, Key=key, Body=body, ContentMD5=content_md5(body))
    return bool(client.get_object(Bucket=bucket, Key=key)["Body"].read() == body)


def _multipart_roundtrip(
    client: Any, abort_client: Callable[[], Any], bucket: str, key: str, created: list[str]
) -> bool:
    # Part 1 must reach S3's 5 MiB minimum for a non-final part.
    parts = [os.urandom(MIN_PART_SIZE), os.urandom(1021)]
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        done = []
        for number, body in enumerate(parts, start=1):
            response = client.upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ContentMD5=content_md5(body),
            )
            done.append({"PartNumber": number, "ETag": response["ETag"]})
        client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
        )
    except BaseException:
        try:
            abort_client().abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except (ClientError, BotoCoreError) as e:
            log.warning("probe: could not abort %s of %s: %s", upload_id, key, e)
        raise
    created.append(key)
    return bool(client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"".join(parts))


def _conditional_write(client: Any, bucket: str, existing_key: str) -> bool:
    """Return True if PutObject with If-None-Match: * on an existing key gets 412."""
    body = b"conditional write probe"
    try:
        client.put_object(
            Bucket=bucket,
            Key=existing_key,
            Body=body,
            ContentMD5=content_md5(body),
            IfNoneMatch="*",
        )
    except ClientError as e:
        if status_code(e) == 412:
            return True
        # 501 NotImplemented, or moto 5.2.0's 500: the header is not supported.
        log.info("probe: If-None-Match answered %s; conditional writes unsupported", error_code(e))
        return False
    return False


def _md5_checked(client: Any, bucket: str, key: str, created: list[str]) -> bool:
    """Return True if a PutObject with a wrong Content-MD5 is rejected."""
    body = b"content-md5 probe"
    try:
        created.append(key)
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentMD5=content_md5(b"other"))
    except ClientError as e:
        if error_code(e) in ("BadDigest", "InvalidDigest") or status_code(e) == 400:
            return True
        raise
    return False


def _sha256_checked(client: Any, bucket: str, key: str, created: list[str]) -> bool:
    """Return True if the store reports a supplied SHA-256 back and refuses a wrong one.

    Both are needed: rclone stores the header it is sent and reports it on HEAD without
    ever checking it, so a reported digest alone proves nothing. Three requests where
    the store checks (two PUTs and a HEAD), two where it does not.
    """
    body = b"sha-256 checksum probe"
    digest = checksum_sha256(hashlib.sha256(body).hexdigest())
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentMD5=content_md5(body),
                          ChecksumSHA256=digest)
        created.append(key)
        head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as e:  # the header or the mode refused: the store cannot do this
        log.info("probe: SHA-256 checksums answered %s; unsupported", error_code(e))
        return False
    if head.get("ChecksumSHA256") != digest or head.get("ChecksumType") not in (
            None, "FULL_OBJECT"):
        return False
    wrong = checksum_sha256(hashlib.sha256(b"other").hexdigest())
    try:
        client.put_object(Bucket=bucket, Key=key + ".wrong", Body=body,
                          ContentMD5=content_md5(body), ChecksumSHA256=wrong)
    except ClientError as e:
        if error_code(e) in ("BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch") \
                or status_code(e) == 400:
            return True
        raise
    created.append(key + ".wrong")
    return False


def _delete_objects(client: Any, bucket: str, keys: list[str]) -> bool:
    """Delete the probe's objects with one DeleteObjects call; return True if it worked."""
    try:
        response = client.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )
    except ClientError as e:
        log.warning("probe: DeleteObjects failed (%s); falling back to DeleteObject", error_code(e))
        _cleanup(client, bucket, keys)
        return False
    if response.get("Errors"):
        _cleanup(client, bucket, keys)
        return False
    keys.clear()
    return True


def _cleanup(client: Any, bucket: str, keys: list[str]) -> None:
    """Delete probe objects one by one, ignoring failures (the probe's result matters more)."""
    for key in keys:
        try:
            client.delete_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as e:
            log.warning("probe: could not delete %s: %s", key, e)

"""Verified store-to-store copies. Which stores a policy names is catalog.policies' rule."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from archive.errors import ObjectNotFound, TransientArchiveError
from archive.stores import Store

log = logging.getLogger(__name__)

_RECORDED = {"sha256", "size", "codec", "content-type"}


@dataclass(frozen=True)
class CopyResult:
    """One verified copy: where it went, what it holds, how long it took."""

    store: str
    key: str
    size: int
    stored_size: int
    sha256: str
    etag: str | None
    verified: bool
    seconds: float


def replicate(
    key: str,
    source_store: Store,
    target_stores: Sequence[Store],
    *,
    expected_sha256: str | None = None,
    codec: str | None = None,
    attempts: int = 3,
) -> list[CopyResult]:
    """Stream ``key`` from ``source_store`` to each target, then re-read and re-hash each copy.

    The source is checked against ``expected_sha256`` (else its recorded SHA-256) while it
    streams, so a corrupt source never produces a copy. The codec is kept; ``codec`` names
    it when the source's metadata was lost (as the catalog knows it).
    """
    info = source_store.head(key)
    if info is None:
        raise ObjectNotFound(
            f"{key}: no such object in {source_store.name}", key=key, store=source_store.name
        )
    digest = expected_sha256 or info.sha256
    codec = codec or info.codec or "none"
    extra = {k: v for k, v in info.metadata.items() if k not in _RECORDED}
    results = []
    for target in target_stores:
        started = time.monotonic()
        for attempt in range(1, attempts + 1):
            try:
                with source_store.open(key, expected_sha256=digest, codec=codec) as stream:
                    put = target.put(
                        key,
                        stream,
                        size=info.size,
                        codec=codec,
                        content_type=info.content_type or "application/octet-stream",
                        metadata=extra,
                        sha256=digest,
                    )
                break
            except TransientArchiveError as e:
                if attempt == attempts:
                    raise
                log.warning("%s: copy to %s failed (%s); retrying", key, target.name, e)
                time.sleep(0.5 * attempt)
        checked = target.verify(key, put.sha256)
        results.append(
            CopyResult(
                store=target.name,
                key=key,
                size=put.size,
                stored_size=checked.stored_size,
                sha256=put.sha256,
                etag=checked.etag,
                verified=True,
                seconds=time.monotonic() - started,
            )
        )
    return results

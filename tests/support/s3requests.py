"""Counting the S3 requests a store sends: what a store did, not how long it took."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from archive.s3 import S3Store


@contextmanager
def requests_of(store: S3Store) -> Iterator[Counter[str]]:
    """Count the S3 operations the store's client sends inside the block, by name.

    HeadObject sent with checksum mode counts as "HeadObject+checksum". The store's probe
    runs before the block, so its requests are not counted.
    """
    seen: Counter[str] = Counter()

    def note(model: Any, params: dict[str, Any], **_: Any) -> None:
        checksum = model.name == "HeadObject" and params.get("ChecksumMode") == "ENABLED"
        seen[model.name + ("+checksum" if checksum else "")] += 1

    store.capabilities()
    events = store.client.meta.events
    events.register("before-parameter-build.s3", note, unique_id="requests-of")
    try:
        yield seen
    finally:
        events.unregister("before-parameter-build.s3", unique_id="requests-of")

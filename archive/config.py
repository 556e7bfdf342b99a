"""Building stores from URLs, and a small per-process registry of named stores."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import unquote, urlsplit

from archive import probe
from archive.local import LocalStore
from archive.s3 import S3Store
from archive.stores import Store

StoreSpec = str | tuple[str, dict[str, Any]]

_specs: dict[str, tuple[str, dict[str, Any]]] = {}
_stores: dict[str, Store] = {}
_lock = threading.Lock()


def open_store(url: str, **options: Any) -> Store:
    """Return a store for ``file:///abs/path``, a plain directory path, or ``s3://bucket/prefix``.

    ``options`` go to the store's constructor (endpoint_url, access_key, part_size, ...).
    """
    if url.startswith("s3://"):
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"store URL {url!r} names no bucket")
        return S3Store(bucket, prefix, **options)
    if url.startswith("file://"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"store URL {url!r}: file URLs must be file:///absolute/path")
        return LocalStore(unquote(parts.path), **options)
    if "://" in url:
        raise ValueError(f"store URL {url!r}: unsupported scheme (use s3:// or file://)")
    if not url:
        raise ValueError("store URL is empty")
    return LocalStore(url, **options)


def configure(stores: dict[str, StoreSpec]) -> None:
    """Declare named stores, e.g. ``{"primary": (url, options), "offsite": url}``; open none."""
    specs = {}
    for name, spec in stores.items():
        url, options = (spec, {}) if isinstance(spec, str) else spec
        specs[name] = (url, dict(options))
    with _lock:
        _specs.clear()
        _specs.update(specs)
        _stores.clear()


def get_store(name: str = "primary") -> Store:
    """Return the named store, creating it on first use in this process (never at import)."""
    with _lock:
        store = _stores.get(name)
        if store is None:
            if name not in _specs:
                known = ", ".join(sorted(_specs)) or "none"
                raise LookupError(f"no store named {name!r} is configured (configured: {known})")
            url, options = _specs[name]
            options = {"name": name, **options}
            store = _stores[name] = open_store(url, **options)
        return store


def configured_names() -> list[str]:
    """Return the names of the configured stores."""
    with _lock:
        return sorted(_specs)


def reset() -> None:
    """Forget configured stores, opened stores and cached endpoint probes."""
    with _lock:
        _specs.clear()
        _stores.clear()
    probe.reset_cache()

"""Building stores from URLs, and the per-process registry every entry point opens stores by.

Django (catalog.apps) and compute nodes (hpc.sources) both configure it from the same
reader, archive.envconfig; stores are made lazily, on first use, never at import.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from archive import probe
from archive.envconfig import StoreConfig
from archive.local import LocalStore
from archive.s3 import S3Store
from archive.stores import Store

StoreSpec = str | tuple[str, dict[str, Any]]
UrlOptions = Callable[[str], dict[str, Any]]

_specs: dict[str, tuple[str, dict[str, Any]]] = {}
_stores: dict[str, Store] = {}
_by_url: dict[str, Store] = {}
_configured = False
_lock = threading.Lock()


def _new_lock_in_child() -> None:
    # As in archive/probe.py: a lock held by another thread at fork would never be freed.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


def open_store(url: str, **options: Any) -> Store:
    """Return a store for ``file:///abs/path``, a plain directory path, or ``s3://bucket/prefix``.

    ``options`` go to the store's constructor (endpoint_url, access_key, part_size, ...).
    Entry points use ``get_store``/``store_for_url`` instead, which pass the configured ones.
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


def configure(stores: StoreConfig | Mapping[str, StoreSpec]) -> None:
    """Declare named stores, from a StoreConfig or ``{"primary": (url, options), "x": url}``.

    Opens none; forgets the stores opened before, by name and by URL.
    """
    if isinstance(stores, StoreConfig):
        stores = stores.specs()
    specs = {}
    for name, spec in stores.items():
        url, options = (spec, {}) if isinstance(spec, str) else spec
        specs[name] = (url, dict(options))
    global _configured
    with _lock:
        _specs.clear()
        _specs.update(specs)
        _stores.clear()
        _by_url.clear()
        _configured = True


def is_configured() -> bool:
    """Return True once ``configure`` ran in this process (Django's app, or a compute node)."""
    return _configured


def get_store(name: str = "primary") -> Store:
    """Return the named store, creating it on first use in this process (never at import)."""
    with _lock:
        return _named(name)


def _named(name: str) -> Store:
    store = _stores.get(name)
    if store is None:
        if name not in _specs:
            known = ", ".join(sorted(_specs)) or "none"
            raise LookupError(f"no store named {name!r} is configured (configured: {known})")
        url, options = _specs[name]
        store = _stores[name] = open_store(url, **{"name": name, **options})
    return store


def store_for_url(url: str, options: UrlOptions) -> Store:
    """Return the configured store at ``url``, else one opened with ``options(url)``, kept.

    Batch jobs name stores by URL (manifests, ``--out s3://...``): a URL of a named store
    gets that store, its own endpoint and keys included; any other gets the options the
    caller's configuration gives every store of its kind.
    """
    wanted = url.rstrip("/")
    with _lock:
        for name, (spec_url, _) in _specs.items():
            if spec_url.rstrip("/") == wanted:
                return _named(name)
        store = _by_url.get(wanted)
        if store is None:
            store = _by_url[wanted] = open_store(url, **options(url))
        return store


def spec(name: str) -> tuple[str, dict[str, Any]]:
    """Return the URL and constructor options configured for ``name``; LookupError if none.

    For a caller that needs the same store with other options, kept apart from the shared
    one (ops.heal: verification reads with a short retry budget).
    """
    with _lock:
        if name not in _specs:
            known = ", ".join(sorted(_specs)) or "none"
            raise LookupError(f"no store named {name!r} is configured (configured: {known})")
        url, options = _specs[name]
        return url, dict(options)


def configured_names() -> list[str]:
    """Return the names of the configured stores."""
    with _lock:
        return sorted(_specs)


def forget_opened() -> None:
    """Drop the stores opened so far (after a fork, or a change of credentials); keep specs."""
    with _lock:
        _stores.clear()
        _by_url.clear()


def reset() -> None:
    """Forget configured stores, opened stores and cached endpoint probes."""
    global _configured
    with _lock:
        _specs.clear()
        _stores.clear()
        _by_url.clear()
        _configured = False
    probe.reset_cache()

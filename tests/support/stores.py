"""Putting the process's store registry back after a test pointed it elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import archive.config
from archive.stores import Store
from catalog.apps import store_specs
from tests.support.s3servers import S3Server


def restore_stores() -> None:
    """Configure the stores settings describe, exactly as the app does at start.

    Through `store_specs()`, not by pairing every URL with ARCHIVE_STORE_OPTIONS: those
    are S3 options (endpoint_url, region, ...), which a file:// store refuses, so a
    hand-built restore breaks every later test that opens the primary store.
    """
    archive.config.configure(store_specs())


@contextmanager
def stores_on(settings: Any, stores: dict[str, str], server: S3Server) -> Iterator[None]:
    """Configure ``stores`` (name -> URL) with ``server``'s endpoint and keys; put back after.

    ``settings`` is pytest-django's fixture, which restores the settings themselves.
    """
    original = store_specs()
    settings.ARCHIVE_STORES = stores
    settings.ARCHIVE_STORE_OPTIONS = {**settings.ARCHIVE_STORE_OPTIONS, **server.store_options()}
    archive.config.configure(store_specs())
    try:
        yield
    finally:
        archive.config.configure(original)


@contextmanager
def local_primary(root: Path) -> Iterator[Store]:
    """Make a local directory at ``root`` the only store, as primary; put back after."""
    original = store_specs()
    archive.config.configure({"primary": root.as_uri()})
    try:
        yield archive.config.get_store("primary")
    finally:
        archive.config.configure(original)

"""Putting the process's store registry back after a test pointed it elsewhere."""

from __future__ import annotations

import archive.config
from catalog.apps import store_specs


def restore_stores() -> None:
    """Configure the stores settings describe, exactly as the app does at start.

    Through `store_specs()`, not by pairing every URL with ARCHIVE_STORE_OPTIONS: those
    are S3 options (endpoint_url, region, ...), which a file:// store refuses, so a
    hand-built restore breaks every later test that opens the primary store.
    """
    archive.config.configure(store_specs())

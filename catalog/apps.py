"""The catalog app: wires the configured stores into archive/ and checks settings."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig

from archive.envconfig import StoreConfig


def store_config() -> StoreConfig:
    """Return the store configuration settings hold (read by archive.envconfig at start)."""
    from django.conf import settings

    return StoreConfig(urls=dict(settings.ARCHIVE_STORES),
                       options=dict(settings.ARCHIVE_STORE_OPTIONS),
                       per_store=dict(getattr(settings, "ARCHIVE_STORE_OVERRIDES", {})))


def store_specs() -> dict[str, tuple[str, dict[str, Any]]]:
    """Return settings' stores as archive.config specs, options per store kind."""
    return store_config().specs()


class CatalogConfig(AppConfig):
    name = "catalog"

    def ready(self) -> None:
        import archive.config
        from catalog import checks  # noqa: F401  (registers the system checks)

        # Only the description of each store is registered here; clients are made
        # lazily on first use, never at import (STYLE 15).
        archive.config.configure(store_config())

"""The catalog app: wires the configured stores into archive/ and checks settings."""

from __future__ import annotations

from django.apps import AppConfig

# Options a local directory store understands; the rest are for S3 endpoints.
LOCAL_OPTIONS = ("max_object_bytes",)


def store_specs() -> dict[str, tuple[str, dict]]:
    """Return settings.ARCHIVE_STORES as archive.config specs, options per store kind."""
    from django.conf import settings

    specs = {}
    for name, url in settings.ARCHIVE_STORES.items():
        options = dict(settings.ARCHIVE_STORE_OPTIONS)
        if not url.startswith("s3://"):
            options = {k: v for k, v in options.items() if k in LOCAL_OPTIONS}
        specs[name] = (url, options)
    return specs


class CatalogConfig(AppConfig):
    name = "catalog"

    def ready(self) -> None:
        import archive.config
        from catalog import checks  # noqa: F401  (registers the system checks)

        # Only the description of each store is registered here; clients are made
        # lazily on first use, never at import (STYLE 15).
        archive.config.configure(store_specs())

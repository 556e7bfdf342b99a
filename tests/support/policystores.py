"""Stores for policy tests, configured from environment variables by the real reader.

Three stores of three kinds, each with its own endpoint and keys where it has any:
primary on rclone's S3 server, offsite on SeaweedFS (keys from ``_FILE`` variables), and
tertiary a local directory, read by archive.envconfig exactly as settings read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import archive.config
from archive.envconfig import read_store_config
from catalog.apps import store_specs
from tests.support.s3servers import S3Server


def three_store_env(rclone: S3Server, seaweed: S3Server, root: Path, prefix: str,
                    *, offsite_endpoint: str | None = None) -> dict[str, str]:
    """Return the variables of primary (rclone), offsite (SeaweedFS) and tertiary (``root``).

    ``offsite_endpoint`` stands in for SeaweedFS's (a proxy in front of it, say).
    """
    keys = root / "secrets"
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "offsite-key").write_text(seaweed.access_key + "\n")
    (keys / "offsite-secret").write_text(seaweed.secret_key + "\n")
    return {
        "STORE_URL": f"s3://{rclone.bucket}/{prefix}/primary",
        "S3_ENDPOINT_URL": rclone.endpoint_url,
        "S3_REGION": rclone.region,
        "AWS_ACCESS_KEY_ID": rclone.access_key,
        "AWS_SECRET_ACCESS_KEY": rclone.secret_key,
        "STORES": f"offsite=s3://{seaweed.bucket}/{prefix}/offsite,"
                  f"tertiary={(root / 'tertiary').as_uri()}",
        "STORE_OFFSITE_ENDPOINT_URL": offsite_endpoint or seaweed.endpoint_url,
        "STORE_OFFSITE_REGION": seaweed.region,
        "STORE_OFFSITE_ACCESS_KEY_ID_FILE": str(keys / "offsite-key"),
        "STORE_OFFSITE_SECRET_ACCESS_KEY_FILE": str(keys / "offsite-secret"),
        "S3_PROBE_CACHE_SECONDS": "0",
    }


@contextmanager
def stores_from_env(settings: Any, environ: dict[str, str]) -> Iterator[None]:
    """Configure the stores ``environ`` describes, policies as settings derive them.

    ``settings`` is pytest-django's fixture, which restores the settings themselves; the
    process's store registry is put back here.
    """
    config = read_store_config(environ, default_url=None,
                               probe_cache_dir=str(settings.VAR_DIR / "cache" / "probes"))
    original = store_specs()
    names = list(config.urls)
    settings.ARCHIVE_STORES = config.urls
    settings.ARCHIVE_STORE_OPTIONS = config.options
    settings.ARCHIVE_STORE_OVERRIDES = config.per_store
    settings.ARCHIVE_POLICIES = {"single": ["primary"], "replicate": names[:2],
                                 "copy3": names[:3]}
    settings.ARCHIVE_POLICY_VARS = {}
    archive.config.configure(store_specs())
    try:
        yield
    finally:
        archive.config.configure(original)

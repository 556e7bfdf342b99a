"""Environment of a compute node: the one place in hpc/ that reads os.environ.

Compute nodes have no Django settings, so store credentials and options come from the
same variables config/settings.py reads (S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, S3_REGION, S3_CHECKSUM_MODE, S3_PROBE_CACHE_SECONDS and _DIR, with
``_FILE`` variants for the secrets). They are never written into a manifest or a report.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class EnvError(ValueError):
    """A variable of the environment is malformed; the message names it."""


def _secret(name: str) -> str | None:
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as e:
            raise EnvError(f"{name}_FILE={path!r} cannot be read: {e}") from e
    return os.environ.get(name) or None


def store_options(url: str) -> dict[str, Any]:
    """Return the constructor options for the store at ``url`` (S3 credentials from env)."""
    if not url.startswith("s3://"):
        return {}
    mode = os.environ.get("S3_CHECKSUM_MODE", "when_required")
    if mode not in ("when_required", "when_supported"):
        raise EnvError(f"S3_CHECKSUM_MODE={mode!r}: use when_required or when_supported")
    return {
        "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
        "region": os.environ.get("S3_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1",
        "access_key": _secret("AWS_ACCESS_KEY_ID"),
        "secret_key": _secret("AWS_SECRET_ACCESS_KEY"),
        "checksum_mode": mode,
        # As config/settings.py: a passing endpoint probe kept for the next rank or job.
        "probe_ttl_s": _seconds("S3_PROBE_CACHE_SECONDS", 600),
        "probe_cache_dir": os.environ.get("S3_PROBE_CACHE_DIR")
        or str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
               / "swathstore" / "probes"),
    }


def _seconds(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise EnvError(f"{name}={raw!r}: use a whole number of seconds, 0 or more")
    return value


def api_token() -> str | None:
    """Return the API token for ``Authorization: Token ...`` (SWATHSTORE_API_TOKEN), if set."""
    return _secret("SWATHSTORE_API_TOKEN")


def fault_spec() -> str:
    """Return HPC_FAULT (tests only): comma-separated ``kind:item-prefix[:n]`` entries."""
    return os.environ.get("HPC_FAULT", "")


def scratch_dir() -> str | None:
    """Return the node-local scratch directory for downloads (TMPDIR, as Slurm sets it)."""
    return os.environ.get("TMPDIR") or None


def use_default_django_settings() -> None:
    """Point Django at config.settings unless the caller chose (rank 0's --register only)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

"""Environment of a compute node: the one place in hpc/ that reads os.environ.

Compute nodes have no Django settings, so stores are read from the environment by the
same reader config/settings.py uses (archive.envconfig: STORE_URL, STORES, the S3_*
options, AWS_* and per-store STORE_<NAME>_* credentials, ``_FILE`` variants for the
secrets): ranks get the configured part size and concurrency. Credentials are never
written into a manifest or a report.
"""

from __future__ import annotations

import os
from pathlib import Path

from archive.envconfig import ConfigError, Env, StoreConfig, read_store_config

EnvError = ConfigError  # a malformed variable; the message names it


def store_config() -> StoreConfig:
    """Return the stores and options this node's environment describes."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    # As config/settings.py: a passing endpoint probe kept for the next rank or job.
    return read_store_config(os.environ, default_url=None,
                             probe_cache_dir=str(cache / "swathstore" / "probes"))


def api_token() -> str | None:
    """Return the API token for ``Authorization: Token ...`` (SWATHSTORE_API_TOKEN), if set."""
    return Env(os.environ).secret("SWATHSTORE_API_TOKEN") or None


def fault_spec() -> str:
    """Return HPC_FAULT (tests only): comma-separated ``kind:item-prefix[:n]`` entries."""
    return os.environ.get("HPC_FAULT", "")


def use_default_django_settings() -> None:
    """Point Django at config.settings unless the caller chose (rank 0's --register only)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

"""Store configuration from an environment mapping: the one reader, for Django and compute nodes.

config/settings.py passes ``os.environ`` in (through config/env.py); hpc/env.py does the
same on compute nodes, where there are no Django settings. Both therefore build the same
stores with the same part size, concurrency and credentials. Every error is a
``ConfigError`` that names the variable at fault; secrets also come from ``NAME_FILE``.

The primary store is ``STORE_URL``; ``STORES="name=url,..."`` adds named stores. S3
options are shared (``S3_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``S3_PART_SIZE_MB``, ...),
and a store may override its endpoint, region, checksum mode and keys with
``STORE_<NAME>_ENDPOINT_URL``, ``_REGION``, ``_CHECKSUM_MODE``, ``_ACCESS_KEY_ID`` and
``_SECRET_ACCESS_KEY`` (``_FILE`` variants accepted), NAME upper-cased with ``-`` as ``_``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MiB = 2**20
GiB = 2**30
CHECKSUM_MODES = ("when_required", "when_supported")
# Options a local directory store understands; the rest are for S3 endpoints.
LOCAL_OPTIONS = ("max_object_bytes",)
# Per-store variables (STORE_<NAME>_<SUFFIX>) and the S3Store option each sets.
PER_STORE = {"ENDPOINT_URL": "endpoint_url", "REGION": "region",
             "CHECKSUM_MODE": "checksum_mode", "ACCESS_KEY_ID": "access_key",
             "SECRET_ACCESS_KEY": "secret_key"}
SECRETS = ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY")
_PER_STORE_VAR = re.compile(rf"^STORE_(\w+?)_({'|'.join(PER_STORE)})(_FILE)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A variable of the environment is malformed or missing; the message names it."""


class Env:
    """Typed reads of one environment mapping; each error names the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str, default: str | None = None) -> str | None:
        """Return the variable's value, or the default when unset."""
        value = self.environ.get(name)
        return default if value is None else value

    def secret(self, name: str, default: str | None = None) -> str | None:
        """Return NAME, or the contents of the file named by NAME_FILE (Docker secrets)."""
        path = self.environ.get(f"{name}_FILE")
        if path:
            try:
                return Path(path).read_text().strip()
            except OSError as e:
                raise ConfigError(f"{name}_FILE={path!r} cannot be read: {e}") from e
        return self.text(name, default)

    def flag(self, name: str, default: bool) -> bool:
        """Return a boolean from 1/0, true/false, yes/no, on/off."""
        raw = self.environ.get(name)
        if raw is None:
            return default
        if raw.strip().lower() in _TRUE:
            return True
        if raw.strip().lower() in _FALSE:
            return False
        raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        """Return an integer, refusing junk and values under the minimum."""
        raw = self.environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError as e:
            raise ConfigError(f"{name}={raw!r} is not an integer") from e
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name}={value} is below the minimum {minimum}")
        return value

    def items(self, name: str, default: list[str]) -> list[str]:
        """Return a comma-separated list, stripped, empty items dropped."""
        raw = self.environ.get(name)
        if raw is None:
            return list(default)
        return [item.strip() for item in raw.split(",") if item.strip()]

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        """Return one of the allowed values."""
        value = (self.environ.get(name) or default).strip()
        if value not in choices:
            raise ConfigError(f"{name}={value!r} must be one of {', '.join(choices)}")
        return value


@dataclass(frozen=True)
class StoreConfig:
    """Named store URLs (primary first), shared options, and each store's own overrides."""

    urls: dict[str, str]
    options: dict[str, Any]
    per_store: dict[str, dict[str, Any]] = field(default_factory=dict)

    def options_for(self, url: str, name: str | None = None) -> dict[str, Any]:
        """Return the constructor options of the store at ``url`` (named ``name``, if any)."""
        if not url.startswith("s3://"):
            return {k: v for k, v in self.options.items() if k in LOCAL_OPTIONS}
        return {**self.options, **self.per_store.get(name or "", {})}

    def specs(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Return ``{name: (url, options)}`` for ``archive.config.configure``."""
        return {name: (url, self.options_for(url, name)) for name, url in self.urls.items()}

    def name_of(self, url: str) -> str | None:
        """Return the name of the configured store at ``url`` (trailing slashes ignored)."""
        wanted = url.rstrip("/")
        return next((n for n, u in self.urls.items() if u.rstrip("/") == wanted), None)


def var_prefix(name: str) -> str:
    """Return the prefix of a store's own variables.

    >>> var_prefix("off-site")
    'STORE_OFF_SITE_'
    """
    return "STORE_" + name.upper().replace("-", "_") + "_"


def read_store_config(environ: Mapping[str, str], *, default_url: str | None,
                      probe_cache_dir: str) -> StoreConfig:
    """Return the stores and their options the environment describes.

    ``default_url`` stands in for an unset STORE_URL (None: no primary store, as on a
    compute node that reads only the URLs in its manifest); ``probe_cache_dir`` for an
    unset S3_PROBE_CACHE_DIR. Raises ConfigError naming the variable at fault.
    """
    env = Env(environ)
    options = _shared_options(env, probe_cache_dir)
    urls: dict[str, str] = {}
    primary = env.text("STORE_URL") or default_url
    if primary:
        urls["primary"] = primary
    for item in env.items("STORES", []):
        name, _, url = (part.strip() for part in item.partition("="))
        if not name or not url:
            raise ConfigError(f"STORES item {item!r} is not NAME=URL")
        if not _NAME.match(name):
            raise ConfigError(f"STORES item {item!r}: a store name is 1-64 letters, digits, "
                              "'-' or '_'")
        if name in urls:
            raise ConfigError(f"STORES item {item!r}: a store named {name!r} is already "
                              "configured" + (" (STORE_URL)" if name == "primary" else ""))
        urls[name] = url
    return StoreConfig(urls=urls, options=options, per_store=_per_store(env, urls))


def _shared_options(env: Env, probe_cache_dir: str) -> dict[str, Any]:
    """Return the options every S3 store shares (a local store takes only its own)."""
    return {
        "endpoint_url": env.text("S3_ENDPOINT_URL") or None,
        "region": env.text("S3_REGION") or env.text("AWS_DEFAULT_REGION") or "us-east-1",
        "access_key": env.secret("AWS_ACCESS_KEY_ID") or None,
        "secret_key": env.secret("AWS_SECRET_ACCESS_KEY") or None,
        "checksum_mode": env.choice("S3_CHECKSUM_MODE", "when_required", CHECKSUM_MODES),
        # A floor: larger files and unknown-size streams get larger parts (choose_part_size).
        # 16 MiB beat 64 MiB on 1 GiB uploads in three stage runs (docs/BENCHMARKS.md).
        "part_size": env.integer("S3_PART_SIZE_MB", 16, minimum=5) * MiB,
        # Files up to this size: one PutObject streamed from the file (archive/fileput.py),
        # as boto3's TransferConfig and s5cmd (50 MB) do; the body is re-read from the
        # page cache, so it costs no memory.
        "multipart_threshold": env.integer("S3_MULTIPART_THRESHOLD_MB", 64, minimum=5) * MiB,
        "concurrency": env.integer("S3_CONCURRENCY", 4, minimum=1),
        "max_object_bytes": env.integer("ARCHIVE_MAX_OBJECT_GB", 512, minimum=1) * GiB,
        "presign_max_s": env.integer("PRESIGN_MAX_SECONDS", 900, minimum=1),
        # A passing endpoint probe is kept this long for the next process (archive/probe.py).
        "probe_ttl_s": env.integer("S3_PROBE_CACHE_SECONDS", 600, minimum=0),
        "probe_cache_dir": env.text("S3_PROBE_CACHE_DIR") or probe_cache_dir,
    }


def _per_store(env: Env, urls: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Return each store's own endpoint, region, checksum mode and keys, if it has any."""
    by_prefix = {var_prefix(name): name for name in urls}
    if len(by_prefix) < len(urls):
        raise ConfigError(f"STORES: the names {sorted(urls)} give the same STORE_<NAME>_ "
                          "variables ('-' reads as '_'): rename one")
    found: dict[str, dict[str, Any]] = {}
    for var in sorted(env.environ):
        match = _PER_STORE_VAR.match(var)
        if not match:
            continue
        prefix, suffix, from_file = f"STORE_{match.group(1)}_", match.group(2), match.group(3)
        name = by_prefix.get(prefix)
        if name is None:
            known = ", ".join(sorted(urls)) or "none"
            raise ConfigError(f"{var} names no configured store (configured: {known})")
        if not urls[name].startswith("s3://"):
            raise ConfigError(f"{var} is set, but store {name!r} is {urls[name]}, not s3://")
        if suffix in SECRETS:
            value = env.secret(prefix + suffix)
        elif from_file:
            raise ConfigError(f"{var}: only the keys are read from files; set "
                              f"{prefix + suffix} itself")
        elif suffix == "CHECKSUM_MODE":
            value = env.choice(var, "when_required", CHECKSUM_MODES)
        else:
            value = env.text(var)
        if value:
            found.setdefault(name, {})[PER_STORE[suffix]] = value
    return found

"""Typed readers of environment variables; the only place that touches os.environ.

The parsing is archive.envconfig's (the reader compute nodes use too); here each
ConfigError becomes ImproperlyConfigured, so a broken configuration stops the process
at start with a message, naming the variable, that a person can act on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from archive.envconfig import ConfigError, Env, StoreConfig, read_store_config

_env = Env(os.environ)


@contextmanager
def _improperly_configured() -> Iterator[None]:
    try:
        yield
    except ConfigError as e:
        raise ImproperlyConfigured(str(e)) from e


def env_str(name: str, default: str | None = None) -> str | None:
    """Return the variable's value, or the default when unset."""
    return _env.text(name, default)


def env_secret(name: str, default: str | None = None) -> str | None:
    """Return NAME, or the contents of the file named by NAME_FILE (Docker secrets)."""
    with _improperly_configured():
        return _env.secret(name, default)


def env_bool(name: str, default: bool) -> bool:
    """Return a boolean from 1/0, true/false, yes/no, on/off."""
    with _improperly_configured():
        return _env.flag(name, default)


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """Return an integer, refusing junk and values under the minimum."""
    with _improperly_configured():
        return _env.integer(name, default, minimum=minimum)


def env_list(name: str, default: list[str]) -> list[str]:
    """Return a comma-separated list, stripped, empty items dropped."""
    return _env.items(name, default)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """Return one of the allowed values."""
    with _improperly_configured():
        return _env.choice(name, default, choices)


def env_stores(var_dir: Path) -> StoreConfig:
    """Return the stores the environment describes (archive.envconfig), local ones under var/."""
    with _improperly_configured():
        return read_store_config(os.environ, default_url=(var_dir / "objects").as_uri(),
                                 probe_cache_dir=str(var_dir / "cache" / "probes"))

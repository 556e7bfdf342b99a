from __future__ import annotations

from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: the commands and beat tasks that repair and check the archive."""

    name = "ops"

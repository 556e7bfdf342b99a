from __future__ import annotations

from django.apps import AppConfig


class HpcConfig(AppConfig):
    name = "hpc"

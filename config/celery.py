"""The Celery app. Without CELERY_BROKER_URL tasks run in-process (settings)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("swathstore")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def probe_primary_store(**kwargs: object) -> None:
    """Probe the primary store once at worker start: an endpoint that corrupts a
    round-trip stops the worker here instead of archiving bad bytes (RELIABILITY S9)."""
    import logging

    import archive.config

    store = archive.config.get_store("primary")
    capabilities = getattr(store, "capabilities", None)
    if capabilities is not None:
        logging.getLogger("swathstore.worker").info("primary store %s: %s", store.name,
                                                     capabilities())

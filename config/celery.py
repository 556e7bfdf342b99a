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
    """Probe the primary store once at worker start and log what it honours.

    An endpoint that corrupts a round trip is logged as CRITICAL here, at start, where an
    operator looks; the worker keeps running (Celery only logs a signal handler's error)
    but the store refuses every upload, so no bad bytes are archived (RELIABILITY S9)."""
    import logging

    import archive.config
    from archive.errors import EndpointRefused

    log = logging.getLogger("swathstore.worker")
    store = archive.config.get_store("primary")
    capabilities = getattr(store, "capabilities", None)
    if capabilities is None:
        return
    try:
        log.info("primary store %s: %s", store.name, capabilities())
    except EndpointRefused as e:
        log.critical("primary store %s refused: %s; every upload will fail until the "
                     "endpoint is fixed", store.name, e)

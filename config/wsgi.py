"""WSGI entry point (gunicorn config.wsgi)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Without a broker, subset cuts go to a worker thread of each web process, never the request.
from subset.dispatch import serve_in_process  # noqa: E402 - needs the app set up first

serve_in_process()

# swathstore application image: the web app (gunicorn) and Celery workers.
FROM debian:12-slim
ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 WITH_BROWSER=0
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      python3 python3-venv python3-dev sudo make && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY scripts/ scripts/
COPY requirements.txt requirements-dev.txt ./
RUN bash scripts/setup-system.sh && PYTHON=python3 bash scripts/setup-venv.sh
COPY . .
# The pages' front-end packages (Leaflet, Swagger UI, OpenLayers) from npm, then static files.
RUN bash web/build.sh && .venv/bin/python manage.py collectstatic --no-input -v0
EXPOSE 8000
# Threaded workers: a sync worker streaming one download or export for longer than
# --timeout (30 s) would be killed mid-response by gunicorn's arbiter. Idle connections
# are kept past aiohttp's 15 s (fsspec, reading chunk references): a server closing first
# races the client's next request on the connection, which then fails with a reset.
CMD [".venv/bin/gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--worker-class", "gthread", "--threads", "4", "--keep-alive", "30"]

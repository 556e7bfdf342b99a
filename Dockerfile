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
# Worker class, threads, keep-alive and limits: config/gunicorn.conf.py (why, there).
CMD [".venv/bin/gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py", "--bind", "0.0.0.0:8000", "--workers", "4"]

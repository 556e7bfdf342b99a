# swathstore: two commands set up a fresh Debian/Ubuntu machine.
#   make run    set up, migrate, load demo swaths, serve http://127.0.0.1:$(PORT)
#   make test   set up, start test services on loopback, lint (ruff, import-linter, mypy), run the whole suite
#   make stack  the production column on this machine, in the foreground (Ctrl-C or make stack-stop)
SHELL := /bin/bash
PY := .venv/bin/python
PORT ?= 8000
# The suite's own database, store and var/ stay apart from the demo's. Every process
# probes its endpoint: the suite's servers come and go on reused loopback ports.
TEST_ENV := DATABASE_URL=postgis://postgres@127.0.0.1:5432/swathstore \
            VAR_DIR=$(CURDIR)/var/test CELERY_BROKER_URL= STORE_URL= S3_PROBE_CACHE_SECONDS=0

.PHONY: setup run demo test lint test-faults check-deploy stack stack-stop stack-check peers bench-archive bench-ingest \
        bench-register bench-register-pgstac bench-fsck bench-heal bench-api bench-subset bench-hpc bench-load clean help

help:
	@sed -n '1,5p' Makefile

setup:  ## system packages, .venv with the pinned requirements, the map's vendored JS (idempotent)
	@bash scripts/setup-system.sh
	@bash scripts/setup-venv.sh
	@bash web/build.sh

run: setup  ## migrate, demo data on an empty archive, serve on 127.0.0.1:$(PORT)
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py demo
	$(PY) manage.py collectstatic --no-input -v0
	@echo "swathstore: http://127.0.0.1:$(PORT)/"
	.venv/bin/gunicorn config.wsgi --bind 127.0.0.1:$(PORT) -c config/gunicorn.conf.py --workers 2 --access-logfile -

test: setup  ## test services on loopback, the whole lint, the whole pytest suite (two workers, then time-bound tests alone)
	@bash scripts/test-services.sh
	@$(MAKE) --no-print-directory lint
	$(TEST_ENV) $(PY) -m pytest -n 2 --dist loadscope -m "not serial" --durations=40
	$(TEST_ENV) $(PY) -m pytest -m serial --durations=20

lint:  ## ruff; import-linter's layer contracts (pyproject.toml); mypy over archive/, hpc/, the subset kernel
	.venv/bin/ruff check .
	.venv/bin/lint-imports --no-logo
	.venv/bin/mypy

test-faults: setup  ## the fault and fuzz tiers at their large sizes (-rA: each test's figures)
	@bash scripts/test-services.sh
	$(TEST_ENV) SWATHSTORE_FAULT_TIER=large $(PY) -m pytest -rA -m "faults or large"

check-deploy: setup  ## Django's deployment checks with production-like values
	SWATHSTORE_PRODUCTION=1 SECRET_KEY=$$(head -c 48 /dev/urandom | base64 | tr -d '\n') \
	  DATABASE_URL=postgis://postgres@127.0.0.1:5432/swathstore STORE_URL=s3://swathstore-prod \
	  AWS_ACCESS_KEY_ID=check-deploy-placeholder AWS_SECRET_ACCESS_KEY=check-deploy-placeholder \
	  ALLOWED_HOSTS=archive.example.org \
	  $(PY) manage.py check --deploy --fail-level WARNING

# The production column on this machine (stack/launch.py): PostGIS (the local cluster),
# Redis, SeaweedFS (master, two volume servers, filer, S3), gunicorn, two Celery workers
# and beat under honcho, with docker-compose.yml's variables. STACK_PORT_BASE (8100),
# STACK_DIR (var/stack) and STACK_DB (swathstore_stack) place a second one elsewhere.
stack: setup  ## start, health-check, print the URLs; runs in the foreground until Ctrl-C
	$(PY) stack/launch.py up

stack-stop:  ## stop the stack `make stack` runs (from another shell)
	$(PY) stack/launch.py stop

stack-check:  ## the stack's health checks, one line per service
	$(PY) stack/launch.py check

peers:  ## .venv-peers: awscli, pypgstac (benchmarks only)
	@bash scripts/setup-peers.sh

# Benchmarks: not part of the test suite; each writes the figures docs/BENCHMARKS.md quotes.
bench-archive: setup peers  ## upload/download/RSS vs s5cmd and aws s3 cp; codecs; local put
	$(PY) benchmarks/archive_bench.py

bench-ingest: setup peers  ## 100 x 50 MB ingest vs s5cmd cp of the same tree, and vs cp + cat | sha256sum
	@bash scripts/test-services.sh
	$(PY) benchmarks/ingest_bench.py

bench-register: setup  ## catalog-only registration vs raw COPY, 1,000,000 rows
	@bash scripts/test-services.sh
	$(PY) benchmarks/catalog_register.py --rows 1000000 --repeat 3

bench-register-pgstac: setup peers  ## registration vs pypgstac load (insert) vs raw COPY, CPU seconds, 1,000,000 rows
	@bash scripts/test-services.sh
	$(PY) benchmarks/register_pgstac.py --rows 1000000 --repeat 3

bench-fsck: setup  ## fsck over 10,000 rows and --full over 2 GB vs s5cmd cat | sha256sum
	@bash scripts/test-services.sh
	$(PY) benchmarks/fsck_bench.py --rows 10000 --repeat 3

bench-heal: setup  ## rebuild 1 GiB of lost copies from a replica vs s5cmd between the same two stores
	@bash scripts/test-services.sh
	$(PY) benchmarks/heal_bench.py --repeat 5

bench-api: setup peers  ## /stac/search on 1,000,000 swaths vs bare SQL and pgSTAC
	@bash scripts/test-services.sh
	$(PY) benchmarks/api_search.py

bench-subset: setup  ## ranged-read subsets vs download + l2ss-py
	$(PY) benchmarks/subset_bench.py

bench-hpc: setup  ## mpirun -n 1 vs -n 2, dynamic vs static scheduling
	$(PY) benchmarks/hpc_bench.py

bench-load: setup  ## 50 clients for 60 s against gunicorn + PostGIS
	@bash scripts/test-services.sh
	$(PY) benchmarks/load_bench.py

clean:  ## remove the demo and test state (not the venv)
	rm -rf var

#!/usr/bin/env bash
# Make sure PostgreSQL with PostGIS answers on loopback for the test suite: use a
# running server where one answers, else start (or create) the Debian cluster.
# Redis, the S3 servers and the Celery worker are started by the suite itself.
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}

pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; }

if ! pg_up; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z "$version" ]]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -1)
    pg_createcluster "$version" main
  fi
  echo "postgres: starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster "$version" main start
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "postgres: no server answers on $PGHOST:$PGPORT" >&2; exit 1; }

psql_() { psql -v ON_ERROR_STOP=1 -qAt -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" "$@"; }
# PostGIS is not a trusted extension: put it in template1 once, so every test
# database created from it has it (ENVIRONMENT.md pitfall 4).
psql_ -d template1 -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
psql_ -d template1 -c "CREATE EXTENSION IF NOT EXISTS btree_gist" >/dev/null
if [[ -z $(psql_ -d postgres -c "SELECT 1 FROM pg_database WHERE datname='swathstore'") ]]; then
  psql_ -d postgres -c "CREATE DATABASE swathstore" >/dev/null
fi
echo "postgres: PostGIS $(psql_ -d swathstore -c 'SELECT postgis_lib_version()') on $PGHOST:$PGPORT"

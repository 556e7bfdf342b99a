#!/usr/bin/env bash
# Create .venv with the pinned requirements. Idempotent: re-installs only when a
# requirements file changed since the last successful run (stamp file).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt requirements-l2ss.txt scripts/setup-venv.sh \
  | sha256sum | cut -d' ' -f1)
if [[ -f $STAMP && "$(cat "$STAMP")" == "$want" ]]; then
  echo "venv: up to date"
  exit 0
fi

[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/pip --disable-pip-version-check -q"
$PIP install --upgrade pip setuptools wheel
$PIP install -r requirements-dev.txt

# GDAL bindings: same version as the system library, built against the numpy just
# installed (without --no-build-isolation gdal_array is silently left out; without
# --no-cache-dir pip may reuse such a broken wheel).
gdal_version=$(gdal-config --version)
if ! $VENV/bin/python -c "from osgeo import gdal, gdal_array; assert gdal.__version__ == '$gdal_version'" 2>/dev/null; then
  $PIP install --no-build-isolation --no-cache-dir "GDAL==$gdal_version"
fi

# SpatiaLite needs an sqlite3 module that can load extensions; pyenv's CPython is
# built without it, so link pysqlite3 against the system SQLite (settings swap it in).
if ! $VENV/bin/python -c "import sqlite3, sys; sys.exit(0 if hasattr(sqlite3.Connection, 'enable_load_extension') else 1)"; then
  $VENV/bin/python -c "import pysqlite3" 2>/dev/null || $PIP install --no-binary pysqlite3 --no-cache-dir pysqlite3==0.6.1
fi

# The reference subsetter (l2ss-py) and compliance-checker pin their own numpy/xarray:
# a venv of their own, called as subprocesses by tests/subset.
[[ -x .venv-l2ss/bin/python ]] || "$PY" -m venv .venv-l2ss
.venv-l2ss/bin/pip --disable-pip-version-check -q install --upgrade pip
.venv-l2ss/bin/pip --disable-pip-version-check -q install -r requirements-l2ss.txt

echo "$want" > "$STAMP"
echo "venv: ready"

#!/usr/bin/env bash
# manage.py against the stack `make stack` runs: its variables from $STACK_DIR/stack.env.
#   stack/manage.sh ingest ../shared/data/swaths --celery --collection real
set -euo pipefail
cd "$(dirname "$0")/.."
env_file=${STACK_DIR:-var/stack}/stack.env
[[ -f $env_file ]] || { echo "stack: $env_file is missing: start the stack with make stack" >&2; exit 1; }
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a
exec .venv/bin/python manage.py "$@"

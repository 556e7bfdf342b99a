#!/usr/bin/env bash
# The peers benchmarks measure us against (awscli, pypgstac), in .venv-peers.
# Idempotent; only `make bench-*` needs it, so `make test` does not pay for it.
set -euo pipefail
cd "$(dirname "$0")/.."
STAMP=.venv-peers/.requirements.sha256
want=$(sha256sum requirements-peers.txt | cut -d' ' -f1)
if [[ -f $STAMP && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
[[ -x .venv-peers/bin/python ]] || "${PYTHON:-python3}" -m venv .venv-peers
.venv-peers/bin/pip --disable-pip-version-check -q install -r requirements-peers.txt
echo "$want" > "$STAMP"

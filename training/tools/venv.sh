#!/usr/bin/env bash
# Creates (or brings up to date) the project's virtual environment .venv at the repository root from
# training/requirements.lock. Idempotent: a venv whose recorded lock hash matches is left as it is.
#   bash training/tools/venv.sh            # then: .venv/bin/python -m sayo_train ...
set -euo pipefail
cd "$(dirname "$0")/../.."
LOCK=training/requirements.lock
HASH=$(sha256sum "$LOCK" | cut -c1-16)
BASE_PY=${SAYO_PYTHON:-$(command -v python3.11 || command -v python3)}
if [ -x .venv/bin/python ] && [ "$(cat .venv/.lock-hash 2>/dev/null)" = "$HASH" ]; then
  echo "venv up to date (lock $HASH)"; exit 0
fi
rm -rf .venv
"$BASE_PY" -m venv .venv
.venv/bin/pip install --cache-dir "${PIP_CACHE_DIR:-$HOME/.cache/pip}" -q -r "$LOCK"
echo "$HASH" > .venv/.lock-hash
echo "venv installed (lock $HASH)"

#!/usr/bin/env bash
# Creates (or brings up to date) the project's virtual environment .venv at the repository root from
# training/requirements.lock, plus the development tools of training/requirements-dev.txt. Idempotent: a venv whose
# recorded lock hash matches is left as it is.
#   bash training/tools/venv.sh            # then: .venv/bin/python -m sayo_train ...
set -euo pipefail
cd "$(dirname "$0")/../.."
LOCK=training/requirements.lock
HASH=$(sha256sum "$LOCK" | cut -c1-16)
BASE_PY=${SAYO_PYTHON:-$(command -v python3.11 || command -v python3)}
DEV=training/requirements-dev.txt
DEV_HASH=$(sha256sum "$DEV" | cut -c1-16)
# The development tools (ruff) are installed on their own, so a change to them leaves the trainer's stack in place.
dev_tools() {
  if [ "$(cat .venv/.dev-hash 2>/dev/null)" != "$DEV_HASH" ]; then
    .venv/bin/pip install --cache-dir "${PIP_CACHE_DIR:-$HOME/.cache/pip}" -q -r "$DEV"
    echo "$DEV_HASH" > .venv/.dev-hash
  fi
}
if [ -x .venv/bin/python ] && [ "$(cat .venv/.lock-hash 2>/dev/null)" = "$HASH" ]; then
  dev_tools
  echo "venv up to date (lock $HASH, dev tools $DEV_HASH)"; exit 0
fi
rm -rf .venv
"$BASE_PY" -m venv .venv
.venv/bin/pip install --cache-dir "${PIP_CACHE_DIR:-$HOME/.cache/pip}" -q -r "$LOCK"
echo "$HASH" > .venv/.lock-hash
dev_tools
echo "venv installed (lock $HASH, dev tools $DEV_HASH)"

#!/usr/bin/env bash
# The shipped SAYO-mini run and its Table-2 ablations, one after the other (from training/):
#   nice -n -5 bash tools/run_sayo_mini.sh   → logs in runs/*.log
# sayo-mini.yaml regenerates data/heldout and public/samples only when they are absent (delete them to regenerate).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs
export PYTHONPATH=.
../.venv/bin/python -m sayo_train run jobs/sayo-mini.yaml > runs/sayo-mini.log 2>&1
for a in sayo-mini-ablation-accuracy sayo-mini-ablation-attention-accuracy; do
  ../.venv/bin/python -m sayo_train run "jobs/$a.yaml" > "runs/$a.log" 2>&1
done
../.venv/bin/python -m sayo_train fixtures > runs/fixtures.log 2>&1
../.venv/bin/python -m sayo_train metrics >> runs/fixtures.log 2>&1
echo done > runs/ALL_DONE

#!/usr/bin/env bash
# Baseline (BSL) benchmark: EmoDB LOSO and the six cross-corpus directions of EmoDB, CASIA and
# RAVDESS, IS10 features, 4 classes, 5 seeds; then the table for benchmarks/RESULTS.md.
# Needs the stores tfrecords/{emodb,casia,ravdess}_is10 (python -m emozoo.extract ...).
# Usage: bash benchmarks/baseline.sh [SEEDS] [RUNS_DIR]
set -euo pipefail
SEEDS=${1:-5}
RUNS=${2:-runs/benchmarks}
PY=${PYTHON:-python}
exps=(baseline/emodb/is10/loso)
for a in emodb casia ravdess; do
  for b in emodb casia ravdess; do
    [ "$a" = "$b" ] || exps+=("baseline/cross_corpus/${a}_to_${b}/is10")
  done
done
for e in "${exps[@]}"; do
  "$PY" -m emozoo.train --experiment "$e" --seeds "$SEEDS" --model-dir "$RUNS/${e//\//_}"
done
"$PY" benchmarks/baseline_table.py "$RUNS" --json benchmarks/results/baseline.json

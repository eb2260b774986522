#!/usr/bin/env bash
# Score shipped checkpoints with the independent referee (../shared/referee/referee.py):
# 10,000 samples each, made with the sampling CLI at the app's default settings.
#   scripts/referee_scores.sh DATASET MODEL [MODEL ...]
# Writes checkpoints/DATASET/MODEL/referee.json (unconditional, and cycling labels for conditional models).
set -euo pipefail
cd "$(dirname "$0")/.."
REFEREE=${REFEREE:-../shared/referee/referee.py}
PY=${PYTHON:-python}
dataset=$1; shift
tmp=$(mktemp -d)
for model in "$@"; do
  out=checkpoints/$dataset/$model/referee.json
  $PY -m genzoo sample --dataset "$dataset" --model "$model" --n 10000 --seed 0 --out "$tmp/u.npz" --no-progress
  uncond=$($PY "$REFEREE" score "$tmp/u.npz" --dataset "$dataset" --json)
  cond=null
  if $PY -m genzoo sample --dataset "$dataset" --model "$model" --n 10000 --labels cycle --seed 1 \
       --out "$tmp/c.npz" --no-progress 2>/dev/null; then
    cond=$($PY "$REFEREE" score "$tmp/c.npz" --dataset "$dataset" --json)
  fi
  printf '{"unconditional": %s, "labels_cycling": %s}\n' "$uncond" "$cond" > "$out"
  $PY -c "from genzoo.checkpoints import refresh_card; refresh_card('$dataset', '$model')"
  echo "$dataset/$model: $(cat "$out")"
done
rm -rf "$tmp"

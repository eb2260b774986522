#!/usr/bin/env bash
# Score shipped checkpoints with the independent referee (../shared/referee/referee.py):
# 10,000 samples each, made with the sampling CLI at the app's default settings (for the diffusion models: DDIM 50
# steps at the dataset's guidance strength, which referee.json records).
#   scripts/referee_scores.sh DATASET MODEL [MODEL ...]
# Writes checkpoints/DATASET/MODEL/referee.json (unconditional, and cycling labels for conditional models).
# With SAMPLES=DIR, samples already written by `python -m genzoo evaluate --samples DIR` are scored instead of
# drawing them again (they are the same images: seed 0 unconditional, seed 1 with labels cycling).
# KINDS=unconditional scores only the set drawn with no class asked (KINDS=cycle: only the labelled one); referee.json
# keeps its other entries.
# Each score records what it was drawn with, the weights' digest among it (genzoo.provenance); the Scoreboard shows
# a referee score only while it matches the app's settings and weights.
# PRECISION=bf16 draws with bfloat16 autocast (about twice as fast for the diffusion models on CPUs with AMX);
# with SAMPLES, give the --precision that evaluate used. referee.json records it, and the epoch of the weights scored.
# Drawings are made under artifacts/referee/ (git-ignored) and keep their progress there: a stopped run continues
# where it stopped when started again.
set -euo pipefail
cd "$(dirname "$0")/.."
REFEREE=${REFEREE:-../shared/referee/referee.py}
PY=${PYTHON:-python}
PRECISION=${PRECISION:-fp32}
KINDS=${KINDS:-both}        # unconditional, cycle or both: which of the two sets to draw and score again
dataset=$1; shift
work=artifacts/referee/$dataset
mkdir -p "$work"
draw() {  # draw MODEL KIND FILE [sampling options]
  local model=$1 kind=$2 file=$3; shift 3
  if [ -n "${SAMPLES:-}" ] && [ -f "$SAMPLES/$dataset/$model-$kind.npz" ]; then
    cp "$SAMPLES/$dataset/$model-$kind.npz" "$file"
  else
    $PY -m genzoo sample --dataset "$dataset" --model "$model" --n 10000 --out "$file" --no-progress \
      --precision "$PRECISION" "$@"
  fi
}
for model in "$@"; do
  out=checkpoints/$dataset/$model/referee.json
  uncond=skip
  cond=skip
  if [ "$KINDS" != cycle ]; then
    draw "$model" unconditional "$work/$model-u.npz" --seed 0
    uncond=$($PY "$REFEREE" score "$work/$model-u.npz" --dataset "$dataset" --json)
  fi
  if [ "$KINDS" != unconditional ]; then
    cond=null
    if draw "$model" cycle "$work/$model-c.npz" --seed 1 --labels cycle 2>/dev/null; then
      cond=$($PY "$REFEREE" score "$work/$model-c.npz" --dataset "$dataset" --json)
    fi
  fi
  # merged into referee.json, each score with what it was drawn with (the sampler settings, the precision, the
  # epoch of the weights and, with no class asked, the rule that chose the classes); other entries stay
  $PY - "$out" "$dataset" "$model" "$uncond" "$cond" "$PRECISION" <<'PYEOF'
import json, sys, time
from pathlib import Path
from genzoo.provenance import conditional, weights_digest
from genzoo.registry import describe_sampler
from models.base import NO_CLASS_RULE
out, dataset, model, uncond, cond, precision = sys.argv[1:]
path = Path(out)
r = json.loads(path.read_text()) if path.exists() else {}
epoch = json.loads((path.parent / "history.json").read_text())["epochs"][-1]["epoch"]
drawn = {"settings": describe_sampler(model, dataset), "precision": precision, "epoch": epoch,
         "weights": weights_digest(dataset, model), "date": time.strftime("%Y-%m-%d")}
if uncond != "skip":
    rule = {"no_class": NO_CLASS_RULE} if conditional(dataset, model) else {}
    r["unconditional"] = {**json.loads(uncond), "drawn": {**drawn, **rule}}
if cond != "skip" and cond != "null":      # the labelled set, and where the model draws in steps, its setting
    from genzoo.checkpoints import load_model
    from genzoo.registry import get_spec, sampler_settings
    settings = sampler_settings(model, dataset)
    runs = load_model(dataset, model).network_evaluations(**(settings.options() if settings else {}))
    key = settings.key(get_spec(model).kwargs.get("T", 0)) if settings else None
    r["labels_cycling"] = {**json.loads(cond), "drawn": {**drawn, "network_runs": runs, "key": key}}
elif cond == "null":
    r["labels_cycling"] = None
path.write_text(json.dumps(r, indent=1) + "\n")
PYEOF
  $PY -c "from genzoo.model_card import refresh_card; refresh_card('$dataset', '$model')"
  echo "$dataset/$model: $(cat "$out" | head -c 400)"
  rm -f "$work/$model-u.npz" "$work/$model-c.npz"
done

"""Score a diffusion model's samplers with the independent referee, and record them in its ``referee.json``.

    python scripts/sampler_scores.py DATASET MODEL SETTING [SETTING ...]

A SETTING is SAMPLER-STEPS[@LOW-HIGH], e.g. ``ddim-50``, ``dpm++2m-10``, ``ddim-4``, ``dpm++2m-10@0.4-5.42``
(guided only where the noise level sigma_t is in (0.4, 5.42]) (for a distilled model, its own step
counts). Each draws 10,000 pictures with labels cycling 0, 1, ..., 9 (seed 1, float32, the dataset's guidance
strength: the same pictures as ``scripts/referee_scores.sh``'s labelled set), times the drawing, scores it with
``../shared/referee/referee.py`` and writes it under ``"samplers"`` in ``checkpoints/DATASET/MODEL/referee.json``,
with its network runs a picture. ``ddim-50`` is taken from the file's own labelled score when that was drawn at
DDIM 50 (the app's former default), instead of drawing it again.

Then it names the fastest setting whose FID is within 10 % of DDIM 50's as ``"fastest_within_10pct"``; the
registry's default for the model should be that one (a test checks they agree). Drawing keeps its progress under
``artifacts/referee/`` (git-ignored): a stopped run continues where it stopped.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from genzoo.checkpoints import load_model, write_json
from genzoo.measurements import sampler_scores
from genzoo.registry import sampler_options
from models.samplers import SamplerSettings
from genzoo.sampling import partial_path, resolve_labels, sample_batched, write_samples

ROOT = Path(__file__).resolve().parents[1]
REFEREE = Path(os.environ.get("REFEREE", ROOT.parent / "shared" / "referee" / "referee.py"))
N = int(os.environ.get("N", 10_000))
TOLERANCE = 1.10


def score(dataset: str, model_name: str, setting: str) -> dict:
    chosen = SamplerSettings.from_key(setting)
    sampler, steps = chosen.sampler, chosen.steps
    model = load_model(dataset, model_name)
    options = {**sampler_options(model_name, dataset, sampler), "sampler": sampler, "steps": steps}
    if chosen.guidance_interval is not None:
        options["guidance_interval"] = chosen.guidance_interval
    work = ROOT / "artifacts" / "referee" / dataset
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"{model_name}-{setting}.npz"
    t0 = time.time()
    images, labels = sample_batched(model, N, resolve_labels(model, N, "cycle"), seed=1, progress=True,
                                    resume=partial_path(out), **options)
    seconds = time.time() - t0
    write_samples(images, labels, out)
    partial_path(out).unlink(missing_ok=True)
    result = json.loads(subprocess.run([sys.executable, str(REFEREE), "score", str(out), "--dataset", dataset,
                                        "--json"], check=True, capture_output=True, text=True).stdout)
    out.unlink()
    runs = model.network_evaluations(**options)
    interval = {"guidance_interval": list(chosen.guidance_interval)} if chosen.guidance_interval else {}
    return {**result, "sampler": sampler, "steps": steps, "guidance": options.get("guidance"), **interval,
            "network_runs": runs, "draw_s": round(seconds, 1), "threads": torch.get_num_threads(),
            "number_format": "fp32"}


def fastest_within(samplers: dict, baseline: str = "ddim-50") -> str | None:
    """The setting with the fewest network runs whose FID is within 10 % of the baseline's."""
    if baseline not in samplers:
        return None
    bar = TOLERANCE * samplers[baseline]["fid"]
    good = [k for k, v in samplers.items() if v["fid"] <= bar]
    return min(good, key=lambda k: (samplers[k]["network_runs"], samplers[k]["fid"]))


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        raise SystemExit(__doc__)
    dataset, model_name, settings = argv[0], argv[1], argv[2:]
    path = ROOT / "checkpoints" / dataset / model_name / "referee.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    samplers = record["samplers"] = sampler_scores(path.parent)
    for setting in settings:
        samplers[setting] = score(dataset, model_name, setting)
        print(f"{dataset}/{model_name} {setting}: {json.dumps(samplers[setting])}", flush=True)
        record["fastest_within_10pct"] = fastest_within(samplers)
        write_json(path, record)


if __name__ == "__main__":
    main(sys.argv[1:])

"""A checkpoint's model card (``README.md`` beside its weights): what it is, how it was trained, on what, for how
long, and what it scored, written from the files in its folder."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

from models import ZooModel, count_parameters
from models.samplers import SamplerSettings

from .checkpoints import CONFIG, load_folder, load_history, model_dir, recipe
from .data import dataset_info
from .registry import ModelSpec, get_spec

log = logging.getLogger(__name__)


def by_epochs(epochs: list[dict], key: str, planned: str) -> str:
    """A fact each epoch records (``key``), in runs of epochs, e.g. "bf16 (epochs 1-8), fp32 (epochs 9-10)";
    ``planned`` where an epoch did not record it."""
    runs: list[list] = []
    for e in epochs:
        p = e.get(key, planned)
        if runs and runs[-1][0] == p:
            runs[-1][2] = e["epoch"]
        else:
            runs.append([p, e["epoch"], e["epoch"]])
    if len(runs) <= 1:
        return runs[0][0] if runs else planned
    return ", ".join(f"{p} (epochs {a}-{b})" if a != b else f"{p} (epoch {a})" for p, a, b in runs)


def precisions(epochs: list[dict], planned: str) -> str:
    """The number formats the epochs ran in; the recipe's where the epochs did not record one."""
    return by_epochs(epochs, "precision", planned)


def write_model_card(folder: Path, spec: ModelSpec, dataset: str, model: ZooModel, history: dict,
                     metrics: Optional[dict] = None) -> None:
    """A README.md that says what the model is and how it was trained (from ``history['recipe']``)."""
    info = dataset_info(dataset)
    epochs = history.get("epochs", [])
    total = sum(e["time_s"] for e in epochs)
    config = json.loads((folder / CONFIG).read_text()) if (folder / CONFIG).exists() else spec.kwargs
    # a checkpoint from before recipes were recorded: the registry's settings, and no claim about its data
    r = history.get("recipe") or recipe(spec, None, history.get("batch_size", spec.batch_size))
    images = "number of training images not recorded" if r["train_images"] is None else (
        f"{r['train_images']:,} training images{' (a smoke run)' if history.get('smoke') else ''}")
    lines = [
        f"# {r['title']} — {info.title}", "",
        r["summary"], "",
        "| fact | value |", "|---|---|",
        f"| model name | `{spec.name}` |",
        f"| class | `models.{type(model).__name__}` ({model.family}) |",
        f"| parameters | {count_parameters(model):,} |",
        f"| configuration | `{json.dumps(config)}` |",
        f"| data | {info.title}, {images} |",
        f"| epochs | {len(epochs)} of {history.get('planned_epochs', spec.epochs_for(dataset))} |",
        f"| batch size / learning rate | {r['batch_size']} / {r['lr']} ({r['lr_schedule']}) |",
        f"| EMA decay | {r['ema_decay'] or 'none'} |",
        f"| training precision | {precisions(epochs, r['precision'])} |",
        f"| wall time | {total / 60:.1f} min |",
        f"| hardware | {by_epochs(epochs, 'hardware', history.get('hardware', 'unknown'))} |",
    ]
    if r["base"]:
        lines.append(f"| built on | `{r['base']}` (its weights are stored inside this checkpoint) |")
    if "decoder" in history:
        d = history["decoder"]
        lines.append(f"| decoder | taken from `{d['from']}` after its epoch {d['after_epoch']} ({d['date']}); "
                     "same encoder, so the same codes |")
    for r in history.get("restarts", []):
        then = (
            "the learning-rate schedule was stretched to the new length and eased back in over a short warm-up"
            if r["why"].startswith("extended")
            else "the optimiser started afresh with a short learning-rate warm-up"
        )
        lines.append(
            f"| restart | after epoch {r['after_epoch']} ({r['date']}), from `{r['from']}`: {r['why']}, so {then} |"
        )
    referee = folder / "referee.json"
    scored_at, samplers, fastest, drawn = None, {}, None, None
    if metrics is None and referee.exists():
        scores = json.loads(referee.read_text())
        drawn = (scores.get("unconditional") or {}).get("drawn")
        scored_at = scores.get("sampling", {}).pop("epoch", None)
        samplers, fastest = scores.pop("samplers", {}), scores.pop("fastest_within_10pct", None)
        metrics = {
            f"{k} ({part.replace('_', ' ')})": v for part, d in scores.items() if isinstance(d, dict)
            for k, v in d.items() if k != "n" and not isinstance(v, dict)      # what a score was drawn with: below
        }
    if metrics:
        earlier = f"; measured on the weights after epoch {scored_at}, before the epochs since" if (
            scored_at and epochs and scored_at != epochs[-1]["epoch"]) else ""
        lines += ["", f"## Measured (independent referee, 10,000 samples against the test set{earlier})", "",
                  "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()]
        if drawn:
            lines += ["", f"With no class asked: {drawn.get('no_class', 'as the app draws')}; {drawn['settings']} "
                      f"(guidance 1 when no class is asked), drawn in {drawn['precision']} on "
                      f"{drawn.get('date', 'an earlier date')}, weights after epoch {drawn['epoch']}."]
    if samplers:
        lines += ["", "## Sampler settings (independent referee, 10,000 samples, labels cycling)", "",
                  "| setting | guidance | network runs a picture | FID | precision | recall | class right |",
                  "|---|---|---|---|---|---|---|"]
        for key, v in sorted(samplers.items(), key=lambda kv: -kv[1]["network_runs"]):
            words = SamplerSettings.from_key(key).words() + (" (the app's default)" if key == fastest else "")
            right = f"{v['cond_acc']:.2%}" if "cond_acc" in v else "—"
            lines.append(f"| {words} | {v.get('guidance', '—')} | {v['network_runs']} | {v['fid']:.2f} | "
                         f"{v['precision']:.3f} | {v['recall']:.3f} | {right} |")
        if fastest:
            lines += ["", f"The app's default is the fastest setting within 10 % of DDIM 50's FID: `{fastest}`."]
    if epochs:
        last = epochs[-1]
        lines += ["", "## Last epoch", "", ", ".join(f"{k} = {v:.4g}" for k, v in last.items()
                                                    if isinstance(v, float) and k != "time_s")]
    lines += ["", "Files: `model.safetensors` + `config.json` (load with `genzoo.load_model`), "
              "`history.json` (per-epoch losses), `samples/epoch_NNN.png` (one fixed noise batch).", ""]
    (folder / "README.md").write_text("\n".join(lines))


# -- loading ------------------------------------------------------------------------
def matches_spec(config: dict, spec: ModelSpec) -> bool:
    """Whether a checkpoint's config.json has the registry's current settings (it may hold more keys: defaults)."""
    return all(config.get(k) == v for k, v in json.loads(json.dumps(spec.kwargs)).items())


def refresh_card(dataset: str, name: str, root: Optional[Path] = None) -> Path:
    """Rewrite a checkpoint's model card from its files (after new measurements land beside it).

    A checkpoint trained before the registry's settings changed keeps the card written when it was trained:
    the batch size, learning rate and the rest come from the registry, and would be wrong for it."""
    folder = model_dir(dataset, name, root)
    spec = get_spec(name)
    if not matches_spec(json.loads((folder / CONFIG).read_text()), spec):
        log.warning(
            "%s/%s predates the registry's current settings; its card from training time is kept", dataset, name
        )
        return folder / "README.md"
    write_model_card(folder, spec, dataset, load_folder(spec.cls, folder), load_history(folder))
    return folder / "README.md"

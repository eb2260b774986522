"""Measured comparison: quality, diversity, conditioning, sharpness and speed of every model,
in the feature space of the project's own evaluator classifier.

Every measurement uses fixed seeds, so reruns agree except for timings; the metrics themselves are defined in
``genzoo.metrics``, and ``genzoo.measurements`` reads what this module writes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from models import GenerativeModel, count_parameters

from . import explore
from .checkpoints import checkpoint_root, hardware, load_history, load_model, write_json
from .data import dataset_info, load_split, to_unit
from .evaluator import Evaluator, latency, precision_check
from .measurements import Measurements
from .provenance import provenance, stale_parts
from . import registry
from .registry import GENERATIVE, SPECS
from .sampling import partial_path, reconstruct_batched, sample_batched, write_samples

LATENCY_BATCHES = (1, 16, 64)
GUIDANCE_CURVE = (0.0, 1.0, 1.5, 2.0, 3.0, 5.0)


COMPARED = (("ddim", 50), ("ddim", 20), ("ddpm", None))     # the settings timed beside each model's own default


def sampler_settings(name: str, dataset: str) -> dict[str, dict]:
    """The sampler settings the app offers for a model on ``dataset``, its own default first (the one samples are
    scored with), then DDIM 50 and 20 and DDPM over all T steps, all at the dataset's guidance strength; keyed by
    name (``ddim-50``, ``ddpm-1000``)."""
    default = registry.sampler_settings(name, dataset)
    if default is None:
        return {"default": {}}
    T = SPECS[name].kwargs.get("T", 1000)
    cls = SPECS[name].cls       # the settings compared are the ones in the model's own vocabulary
    settings = [default] + [default.replace(sampler=s, steps=n) for s, n in COMPARED
                            if s in cls.samplers and not cls.distilled]
    return {s.key(T): s.options() for s in settings}


def noise_walk_smoothness(model: GenerativeModel, default: dict) -> float:
    """Mean smoothness of 10-frame walks between pairs of seeds' noise (10 pairs for one-run models, else 3, drawn
    with at most 20 sampler steps)."""
    opts = {**default, "steps": min(default["steps"], 20)} if default.get("steps") else default
    runs = model.network_evaluations(**opts)
    return float(np.mean([explore.smoothness(explore.noise_path(model, 2 * i, 2 * i + 1, 10,
                                                                0 if model.requires_labels else None, **opts))
                          for i in range(10 if runs == 1 else 3)]))


def _timings(model: GenerativeModel, opts: dict[str, dict], latency_batches: Sequence[int], skip_slow: bool,
             budget_s: float) -> tuple[dict, dict]:
    """Network runs and latency of every setting in ``opts`` (the model's default first)."""
    timed, runs = {}, {}
    for setting, o in opts.items():
        runs[setting] = model.network_evaluations(**o, labels_given=False)
        slow = o.get("sampler") == "ddpm"    # every one of 1,000 steps: a batch of 64 takes minutes, so fewer runs
        if slow and skip_slow:
            timed[setting] = "skipped"
            continue
        timed[setting] = [latency(model, b, o, budget_s=1.0 if slow else budget_s,
                                  max_runs=(1 if b >= 64 else 2) if slow else 10) for b in latency_batches]
    return timed, runs


def evaluate_model(name: str, dataset: str, model: GenerativeModel, ev: Evaluator, n: int, seed: int,
                   latency_batches: Sequence[int] = LATENCY_BATCHES, guidance_curve: bool = True,
                   progress: bool = True, skip_slow: bool = False, latency_budget_s: float = 10.0,
                   samples_dir: Optional[Path] = None, precision: str = "fp32", curve_n: int = 2000,
                   partial_dir: Optional[Path] = None, previous: Optional[dict] = None, timing: bool = True,
                   root: Optional[Path] = None) -> dict:
    """Every measurement of one model. Each part records what it was measured on (``genzoo.provenance``); a part of
    ``previous`` (the model's former row) that is still fresh is kept rather than drawn again, as is its guidance
    curve (labelled with the settings it was drawn with) unless ``guidance_curve`` and it is stale. ``timing=False``
    keeps the former timings (to time later on a quiet machine).

    With ``samples_dir``, the scored samples are also written there as ``<name>-unconditional.npz`` and
    ``<name>-cycle.npz``: the very images the sampling CLI makes with ``--seed S`` and ``--seed S+1 --labels cycle``
    (and ``--precision``), so an outside scorer can check them. With ``partial_dir`` (default: ``samples_dir``),
    drawing those two sets keeps its progress there (``<name>-<kind>.npz.partial.pt``, removed at the end), so an
    interrupted evaluation continues when rerun."""
    spec, previous = SPECS[name], previous or {}
    partial_dir = partial_dir or samples_dir
    partials = {kind: partial_path(Path(partial_dir) / f"{name}-{kind}.npz") if partial_dir else None
                for kind in ("unconditional", "cycle")}
    opts = sampler_settings(name, dataset)
    default = next(iter(opts.values()))
    stale = stale_parts(previous or None, name, dataset, root)
    out: dict = {
        "title": spec.title,
        "family": model.family,
        "parameters": count_parameters(model),
        "conditional": model.conditional,
        "requires_labels": model.requires_labels,
        "sampler": default,
        "precision": precision,
    }
    keep = [p for p in ("unconditional", "conditional_samples") if p in previous and p not in stale]
    out.update({p: previous[p] for p in keep})
    if "unconditional" in keep:              # the number format of the pictures scored, not of this run
        out["precision"] = previous["unconditional"].get("number_format", previous.get("precision", precision))
    checked = None                             # the set a lower precision is checked on: the conditional one if any
    if "unconditional" not in keep:
        images, drawn = sample_batched(
            model, n, None, seed=seed, progress=progress, precision=precision, resume=partials["unconditional"],
            **default, **({"class_prior": dataset_info(dataset).class_prior} if model.conditional else {}))
        out["unconditional"] = {**ev.score(images), "drawn": provenance(name, dataset, "unconditional", root),
                                "number_format": precision}
        checked = (images, None, seed)
        if samples_dir is not None:
            write_samples(images, drawn, Path(samples_dir) / f"{name}-unconditional.npz")
    if model.conditional and "conditional_samples" not in keep:
        labels = torch.arange(n) % model.num_classes
        images_c, _ = sample_batched(model, n, labels, seed=seed + 1, progress=progress, precision=precision,
                                     resume=partials["cycle"], **default)
        out["conditional_samples"] = {**ev.score(images_c, labels), "number_format": precision,
                                      "drawn": provenance(name, dataset, "conditional_samples", root)}
        if samples_dir is not None:
            write_samples(images_c, labels, Path(samples_dir) / f"{name}-cycle.npz")
        checked = (images_c, labels, seed + 1)
    if model.conditional and "guidance" in default:
        curve_fresh = previous.get("curve_drawn") == {"settings": provenance(name, dataset, "curve", root)["settings"]}
        if "guidance_curve" in previous and (curve_fresh or not guidance_curve):
            out["guidance_curve"] = previous["guidance_curve"]
            out["curve_drawn"] = previous.get("curve_drawn", {"settings": previous.get("sampler")})
        elif guidance_curve:
            curve, m = [], min(n, curve_n)
            labels = torch.arange(m) % model.num_classes
            for g in GUIDANCE_CURVE:
                imgs, _ = sample_batched(model, m, labels, seed=seed + 2, progress=progress, precision=precision,
                                         **{**default, "guidance": g})
                s = ev.score(imgs, labels)
                curve.append({"guidance": g, "cond_acc": s["cond_acc"], "fid": s["fid"], "n": m})
            out["guidance_curve"] = curve
            out["curve_drawn"] = {"settings": provenance(name, dataset, "curve", root)["settings"]}
    if precision != "fp32" and checked is not None:
        out["precision_check"] = precision_check(model, ev, *checked, default)
    elif "precision_check" in previous and out["precision"] != "fp32":     # the kept pictures' check
        out["precision_check"] = previous["precision_check"]
    if model.can_encode:
        out.update(encoder_scores(model, ev, seed))
    else:                   # no encoder: walk between two seeds' noise (GANs, pixel and latent diffusion alike)
        out["interpolation_smoothness"] = noise_walk_smoothness(model, default)
    if timing or "latency" not in previous:
        out["latency"], out["network_evaluations"] = _timings(model, opts, latency_batches, skip_slow,
                                                              latency_budget_s)
        out["latency_drawn"] = {**provenance(name, dataset, "latency", root), "machine": hardware()}
    else:
        out.update({k: previous[k] for k in ("latency", "network_evaluations", "latency_drawn") if k in previous})
    for path in partials.values():
        if path is not None:
            path.unlink(missing_ok=True)
    return out


def encoder_scores(model: GenerativeModel, ev: Evaluator, seed: int) -> dict:
    """Reconstruction error, the likelihood bound where the model has one, and interpolation smoothness between
    pairs of test pictures."""
    out = {}
    x = ev.test_images
    with torch.no_grad():
        labels = torch.as_tensor(ev.embed(x)[1]) if model.conditional else None
        recon = reconstruct_batched(model, x, labels)
    out["reconstruction_mse"] = float((recon - x).pow(2).mean())
    if hasattr(model, "terms"):         # a VAE: its bound's two terms, and the code dimensions it uses
        torch.manual_seed(seed)
        with torch.no_grad():
            nll, kl = zip(*[model.terms(x[i:i + 500], labels[i:i + 500] if labels is not None else None)
                            for i in range(0, len(x), 500)])
        out["elbo_nats"] = float(-(torch.cat(nll) + torch.cat(kl)).mean())
        out["kl_nats"] = float(torch.cat(kl).mean())
        out["kl_per_dimension"] = model.kl_per_dimension(x, labels).tolist()
    g = torch.Generator().manual_seed(seed)
    pairs = torch.randint(0, len(x), (50, 2), generator=g)
    out["interpolation_smoothness"] = float(np.mean([
        explore.smoothness(explore.latent_path(model, x[a][None], x[b][None], 10,
                                               labels[a:a + 1] if labels is not None else None))
        for a, b in pairs.tolist()]))
    return out


def fmt_number(v, digits: int = 3) -> str:
    """A table cell: blank for None, ``digits`` significant digits for floats, thousands separators for ints."""
    return (
        "" if v is None else f"{v:.{digits}g}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
    )


def percent(v: float) -> str:
    """A share as a percentage with one decimal, or as many more (up to three) as it takes not to round a
    near-perfect score up to 100%."""
    for digits in (1, 2, 3):
        text = f"{v:.{digits}%}"
        if v >= 1 or not text.startswith("100."):
            break
    return text


def metrics_table(m: dict) -> str:
    """``metrics.json`` as a Markdown table (written beside it as ``metrics.md``)."""
    ms = Measurements.from_dict(m)
    head = ["model", "FID", "precision", "recall", "class KL", "class acc.", "sharpness", "on a training picture",
            "smoothness", "recon. MSE", "ELBO (nats)", "ms / image", "network runs", "parameters", "train min"]
    machines = sorted({r.machine for r in ms.models.values() if r.machine})
    rows = [f"FID against {ms.n:,} samples; real-data floor {ms.floor_fid:.3g}; evaluator test accuracy "
            f"{ms.classifier_accuracy:.4f}; timed on {', '.join(machines) or ms.hardware}. \"On a training "
            f"picture\": the share of pictures closer to a training picture than 99 % of unseen test pictures are "
            f"(about 1 % when a model does not copy).", "",
            "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in ms.models.values():
        cells = [r.name, fmt_number(r.fid), fmt_number(r.precision), fmt_number(r.recall), fmt_number(r.class_kl, 2),
                 fmt_number(r.cond_acc, 4), fmt_number(r.sharpness, 2),
                 f"{r.copying['close_share']:.2%}" if r.copying else "", fmt_number(r.smoothness, 3),
                 fmt_number(r.reconstruction_mse, 3), fmt_number(r.elbo_nats, 4), fmt_number(r.ms_per_image, 3),
                 fmt_number(r.network_runs), fmt_number(r.parameters), fmt_number(round(r.train_minutes))]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def evaluate(dataset: str, names: Optional[Sequence[str]] = None, n: int = 10000, seed: int = 0,
             data_root: Optional[str] = None, root: Optional[Path] = None, progress: bool = True,
             latency_batches: Sequence[int] = LATENCY_BATCHES, skip_slow: bool = False,
             latency_budget_s: float = 10.0, samples_dir: Optional[Path] = None, precision: str = "fp32",
             curve_n: int = 2000, stale_only: bool = False, timing: bool = True, curves: bool = True) -> Path:
    """Score every (or the named) generative model of a dataset; writes ``checkpoints/<dataset>/metrics.json``.

    Models already in that file from a run with the same ``n`` and ``seed`` are kept, so models can be
    scored one at a time as their training finishes; of a model scored again, the parts still fresh are kept
    (``evaluate_model``); ``stale_only``: only models with a stale part are scored. ``timing=False`` keeps the
    former timings; ``curves=False`` keeps a stale guidance curve (labelled with its settings). The two big sample
    sets of a model keep their progress in ``samples_dir`` (else beside ``metrics.json``), so a run that is stopped
    continues when started again."""
    root = Path(root or checkpoint_root())
    classifier = load_model(dataset, "classifier", root=root)
    x, _ = load_split(dataset, True, data_root)
    xt, yt = load_split(dataset, False, data_root)
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:10000]
    ev = Evaluator(classifier, to_unit(xt), to_unit(x[idx]), to_unit(x))
    _, test_pred = ev.embed(to_unit(xt))
    out = {"dataset": dataset, "n": n, "seed": seed, "floor_fid": ev.floor(),
           "classifier_test_accuracy": float((test_pred == yt.numpy()).mean()),
           "hardware": hardware(), "models": {}}
    path = root / dataset / "metrics.json"
    if path.exists():
        old = json.loads(path.read_text())
        if (old.get("n"), old.get("seed")) == (n, seed):
            out["models"] = {k: v for k, v in old.get("models", {}).items() if k in SPECS}
    names = list(names or [m for m in GENERATIVE if (root / dataset / m / "config.json").exists()])
    if stale_only:
        names = [m for m in names if stale_parts(out["models"].get(m), m, dataset, root)]
    for name in tqdm(names, desc="models", disable=not progress):
        model = load_model(dataset, name, root=root)
        hist = load_history(root / dataset / name)
        result = evaluate_model(
            name, dataset, model, ev, n, seed, latency_batches, guidance_curve=curves, progress=progress,
            skip_slow=skip_slow, latency_budget_s=latency_budget_s, samples_dir=samples_dir, precision=precision,
            curve_n=curve_n, partial_dir=samples_dir or root / dataset, previous=out["models"].get(name),
            timing=timing, root=root,
        )
        result["training"] = {"epochs": len(hist.get("epochs", [])),
                              "time_s": sum(e["time_s"] for e in hist.get("epochs", [])),
                              "hardware": hist.get("hardware")}
        out["models"][name] = result
        out["models"] = {k: out["models"][k] for k in SPECS if k in out["models"]}     # registry order
        write_json(path, out)          # after every model, so a long run loses nothing
        path.with_suffix(".md").write_text(metrics_table(out))
    return path

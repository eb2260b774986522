"""``checkpoints/<dataset>/metrics.json`` (what ``python -m genzoo evaluate`` wrote), read through one typed view."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


def _ms_per_image(latency: dict) -> Optional[float]:
    """ms per picture at batch 16 (else the largest batch measured) with the model's own default sampler."""
    first = next(iter(latency.values()))
    if not isinstance(first, list) or not first:
        return None
    return ([r for r in first if r["batch"] == 16] or first[-1:])[0]["ms_per_image"]


@dataclass(frozen=True)
class ModelScores:
    """One model's measurements. FID, precision, recall, class KL and sharpness are for pictures drawn without a
    class (models that need one get random classes); ``cond_acc`` for labels cycling 0..9."""

    name: str
    title: str
    fid: float
    precision: float
    recall: float
    class_kl: float
    sharpness: float
    cond_acc: Optional[float]
    smoothness: Optional[float]
    reconstruction_mse: Optional[float]
    elbo_nats: Optional[float]
    ms_per_image: Optional[float]
    network_runs: int
    parameters: int
    train_minutes: float
    requires_labels: bool
    guidance_curve: tuple[dict, ...]
    number_format: str
    precision_check: Optional[dict]
    copying: Optional[dict] = None          # ``genzoo.metrics.copying`` of the pictures drawn with no class asked
    machine: Optional[str] = None           # where the timings were measured
    curve_settings: Optional[dict] = None   # the sampler settings the guidance curve was drawn with
    referee_fid: Optional[float] = None     # the referee's FID at the same settings and weights, where scored
    stale: tuple[str, ...] = ()             # parts measured on other settings or weights than the app's now

    @classmethod
    def from_result(cls, name: str, r: dict, referee_fid: Optional[float] = None,
                    stale: tuple[str, ...] = ()) -> "ModelScores":
        u = r["unconditional"]
        return cls(name=name, title=r["title"], fid=u["fid"], precision=u["precision"], recall=u["recall"],
                   class_kl=u["class_kl"], sharpness=u["sharpness"],
                   cond_acc=r.get("conditional_samples", {}).get("cond_acc"),
                   smoothness=r.get("interpolation_smoothness"), reconstruction_mse=r.get("reconstruction_mse"),
                   elbo_nats=r.get("elbo_nats"), ms_per_image=_ms_per_image(r["latency"]),
                   network_runs=next(iter(r["network_evaluations"].values())), parameters=r["parameters"],
                   train_minutes=r["training"]["time_s"] / 60, requires_labels=r["requires_labels"],
                   guidance_curve=tuple(r.get("guidance_curve", ())), number_format=r.get("precision", "fp32"),
                   precision_check=r.get("precision_check"), copying=u.get("copying"),
                   machine=(r.get("latency_drawn") or {}).get("machine"),
                   curve_settings=(r.get("curve_drawn") or {}).get("settings"), referee_fid=referee_fid,
                   stale=tuple(stale))


@dataclass(frozen=True)
class Measurements:
    dataset: str
    n: int
    floor_fid: float
    classifier_accuracy: float
    hardware: str
    models: dict[str, ModelScores]

    @classmethod
    def from_dict(cls, m: dict, root: Optional[Path] = None) -> "Measurements":
        """The measurements; with ``root`` (the checkpoint root), each row also says which of its parts are stale
        and carries the referee's FID where the referee scored the same settings and weights."""
        def row(name: str, r: dict) -> ModelScores:
            if root is None:
                return ModelScores.from_result(name, r)
            from .provenance import referee_fid, stale_parts

            return ModelScores.from_result(name, r, referee_fid(m["dataset"], name, root),
                                           tuple(stale_parts(r, name, m["dataset"], root)))

        return cls(dataset=m["dataset"], n=m["n"], floor_fid=m["floor_fid"],
                   classifier_accuracy=m["classifier_test_accuracy"], hardware=m["hardware"],
                   models={name: row(name, r) for name, r in m["models"].items()})

    @classmethod
    def load(cls, path: Path) -> Optional["Measurements"]:
        """The file's measurements (``checkpoints/<dataset>/metrics.json``), or None when it does not exist yet."""
        path = Path(path)
        return cls.from_dict(json.loads(path.read_text()), path.parent.parent) if path.exists() else None


def sampler_scores(folder: Optional[Path]) -> dict[str, dict]:
    """A model's referee scores by sampler setting ("ddim-50", "dpm++2m-10", ...; 10,000 pictures, labels cycling),
    from its ``referee.json``: those ``scripts/sampler_scores.py`` wrote, the labelled set scored at the app's setting
    (``scripts/referee_scores.sh`` records which), and the one scored for the app's former default (DDIM 50) when it
    was drawn that way."""
    path = Path(folder) / "referee.json" if folder is not None else None
    if path is None or not path.exists():
        return {}
    record = json.loads(path.read_text())
    scores = dict(record.get("samplers", {}))
    old = record.get("labels_cycling")
    drawn = (old or {}).get("drawn") or {}
    if drawn.get("key") and drawn["key"] not in scores:          # the labelled set, drawn at the app's setting
        scores[drawn["key"]] = {**old, "network_runs": drawn["network_runs"], "number_format": drawn["precision"],
                                "note": "the labelled set scored at the app's setting"}
    if "ddim-50" not in scores and old and "DDIM, 50 steps" in record.get("sampling", {}).get("settings", ""):
        scores["ddim-50"] = {**old, "sampler": "ddim", "steps": 50, "network_runs": 100,
                             "note": "the labelled set scored for the app's former default"}
    return scores

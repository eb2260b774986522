"""How likely each model finds real pictures, in bits per dimension on one scale for all.

Every model with a likelihood (``model.likelihood``: exact, or a lower bound) scores 8-bit pictures: −log₂ p(x) / 784,
the bits a model would need to store each pixel of the picture. No class is given (a class-conditional model answers
with the mean over the classes of p(x | y)), so a model of clothes can score digits, and digits clothes: the other
dataset's test pictures are scored too (Nalisnick et al., ICLR 2019, found Fashion-MNIST models giving MNIST digits
*higher* likelihood than clothes). A model whose bound tightens with more draws (``importance_samples``) also reports
the tighter bound.

``python -m genzoo likelihood`` writes ``checkpoints/<dataset>/likelihood.json``; each row records the weights it was
measured with, so a row whose model has changed since is not shown.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from models import GenerativeModel

from .checkpoints import checkpoint_root, load_model, write_json
from .data import DATASETS, load_split, to_unit
from .provenance import weights_digest
from .registry import SPECS

FILE = "likelihood.json"
DIMS = 28 * 28
#: the test set's bits per dimension kept as these percentiles (0, 1, ..., 100), to place any picture among them
PERCENTILES = np.arange(101)
#: published bits per dimension on MNIST's test set (8-bit, dequantized), as anchors beside the table
PUBLISHED_MNIST = (("RealNVP", 1.06), ("Glow", 1.05), ("FFJORD", 0.99))
PUBLISHED_SOURCE = "Grathwohl et al., FFJORD (ICLR 2019), Table 2"


def bits_per_dim(nats: torch.Tensor | float) -> torch.Tensor | float:
    """−log₂ p(x) / 784 from log p(x) in nats."""
    return -nats / (DIMS * math.log(2))


@torch.no_grad()
def picture_nats(model: GenerativeModel, x: torch.Tensor, batch: int = 250, k: int = 1, seed: int = 0,
                 progress: Optional[Callable[[int, int], None]] = None) -> torch.Tensor:
    """log p(x) (or its bound; ``k`` draws where the bound tightens with them) of every picture, no class given."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)                          # a flow's dequantization noise
    extra = {"k": k, "generator": g} if model.importance_samples else {}
    out = []
    for i in range(0, len(x), batch):
        out.append(model.log_likelihood(x[i:i + batch].to(model.device), None, **extra).double().cpu())
        if progress is not None:
            progress(min(i + batch, len(x)), len(x))
    return torch.cat(out)


def summary(bits: torch.Tensor) -> dict:
    """The mean bits per dimension of a set of pictures and its percentiles."""
    return {"bits_per_dim": float(bits.mean()), "n": len(bits),
            "percentiles": [round(float(q), 4) for q in np.percentile(bits.numpy(), PERCENTILES)]}


def measure_model(model: GenerativeModel, test: dict[str, torch.Tensor], own: str, iw_n: int = 1000,
                  progress: Optional[Callable[[str], None]] = None) -> dict:
    """A model's row: its own test set, the other datasets' test sets, and where its bound tightens, the tighter
    bound on the first ``iw_n`` of its own test pictures."""
    row: dict = {"kind": model.likelihood}
    bits = {}
    for dataset, x in test.items():
        if progress:
            progress(f"scoring {dataset} test pictures")
        bits[dataset] = bits_per_dim(picture_nats(model, x))
        row["own" if dataset == own else dataset] = summary(bits[dataset])
    if model.importance_samples:
        if progress:
            progress(f"importance-weighted bound, k = {model.importance_samples}")
        k_bits = bits_per_dim(picture_nats(model, test[own][:iw_n], batch=100, k=model.importance_samples))
        row["importance_weighted"] = {"k": model.importance_samples, "n": len(k_bits),
                                      "bits_per_dim": float(k_bits.mean()),
                                      "one_draw_bits_per_dim": float(bits[own][:iw_n].mean())}    # same pictures
    return row


def likelihood_models(dataset: str, root: Optional[Path] = None) -> list[str]:
    """The registry's models with a likelihood that have a checkpoint for ``dataset``."""
    return [n for n, s in SPECS.items() if s.generative and s.cls.likelihood != "none"
            and weights_digest(dataset, n, root) is not None]


#: the most network runs a model's likelihood may take on one dataset's test pictures: a costly one (a diffusion
#: model's bound, an ODE) is measured on the first ``RUNS_BUDGET // model.likelihood_runs`` pictures
RUNS_BUDGET = 100_000


def measure(dataset: str, names: Optional[Sequence[str]] = None, n: int = 10000, data_root=None,
            root: Optional[Path] = None, progress: bool = True, budget: int = RUNS_BUDGET) -> Path:
    """Score ``names`` (default: every model with a likelihood) on ``n`` test pictures of each dataset (fewer for a
    costly likelihood: ``budget`` network runs a dataset), and write the rows into ``likelihood.json`` (other rows
    are kept)."""
    root = Path(root) if root else checkpoint_root()
    names = list(names) if names else likelihood_models(dataset, root)
    test = {d: to_unit(load_split(d, train=False, root=data_root)[0][:n]) for d in DATASETS}
    test = {dataset: test[dataset], **{d: x for d, x in test.items() if d != dataset}}
    path = root / dataset / FILE
    table = json.loads(path.read_text()) if path.exists() else {"dataset": dataset, "models": {}}
    for name in names:
        if name not in SPECS or SPECS[name].cls.likelihood == "none":
            raise ValueError(f"{name!r} has no likelihood to measure")
        model = load_model(dataset, name, root=root).eval()
        say = (lambda what, name=name: print(f"{dataset}/{name}: {what}", flush=True)) if progress else None
        m = max(1, min(n, budget // model.likelihood_runs))
        pictures = {d: x[:m] for d, x in test.items()}
        table["models"][name] = {**measure_model(model, pictures, dataset, progress=say),
                                 "weights": weights_digest(dataset, name, root)}
        write_json(path, table)                      # each model's row kept as soon as it is measured
    return path


def read(dataset: str, root: Optional[Path] = None) -> dict[str, dict]:
    """The rows of ``likelihood.json`` still measured on the weights each model has now."""
    root = Path(root) if root else checkpoint_root()
    path = root / dataset / FILE
    if not path.exists():
        return {}
    rows = json.loads(path.read_text()).get("models", {})
    return {n: r for n, r in rows.items() if n in SPECS and r.get("weights") == weights_digest(dataset, n, root)}


def percentile(row: dict, bits: float) -> float:
    """The share (0-100) of the model's own test pictures that it finds *more* likely than a picture of ``bits``
    bits per dimension: how surprising the picture is to it."""
    qs = np.asarray(row["own"]["percentiles"])
    return float(np.interp(bits, qs, PERCENTILES, left=0.0, right=100.0))

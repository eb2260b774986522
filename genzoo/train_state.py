"""What a training run keeps so that it can stop and go on: the weights' running average (EMA), the optimiser's
state (safetensors + JSON, never pickle), and the record of restarts that ease the learning rate back in."""
from __future__ import annotations

import contextlib
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Optional

import torch
from safetensors.torch import load_file, save_file

from models import ZooModel

from .checkpoints import WEIGHTS, load_folder, write_json
from .registry import ModelSpec

STATE_WEIGHTS, STATE_JSON = "training_state.safetensors", "training_state.json"


class EMA:
    """Exponential moving average of a model's parameters: shadow = d * shadow + (1 - d) * param."""

    def __init__(self, model: ZooModel, decay: float):
        self.decay = decay
        self.params = model.ema_parameters()
        self.shadow = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))   # warm-up: early weights are not averaged in for long
        torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1 - d)

    @torch.no_grad()
    def commit(self) -> None:
        """Put the averaged weights into the model, and go on averaging from there (a new training stage)."""
        for p, s in zip(self.params, self.shadow):
            p.copy_(s)

    @contextlib.contextmanager
    def swapped(self):
        """Temporarily put the averaged weights into the model."""
        backup = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for p, s in zip(self.params, self.shadow):
                p.copy_(s)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, b in zip(self.params, backup):
                    p.copy_(b)


# -- training state (for --resume): safetensors + JSON, never pickle ---------------------
def save_state(folder: Path, model: ZooModel, optimizers: list, ema: Optional[EMA], meta: dict) -> None:
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    groups = []
    for j, opt in enumerate(optimizers):
        sd = opt.state_dict()
        for idx, st in sd["state"].items():
            for k, v in st.items():
                tensors[f"opt{j}.{idx}.{k}"] = v.detach().contiguous() if torch.is_tensor(v) else torch.tensor(v)
        groups.append(sd["param_groups"])
    if ema is not None:
        tensors.update({f"ema.{i}": s.contiguous() for i, s in enumerate(ema.shadow)})
    tmp = folder / (STATE_WEIGHTS + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(folder / STATE_WEIGHTS)
    write_json(folder / STATE_JSON, {**meta, "param_groups": groups})


def load_state(folder: Path, model: ZooModel, optimizers: list, ema: Optional[EMA], device) -> dict:
    meta = json.loads((folder / STATE_JSON).read_text())
    tensors = load_file(str(folder / STATE_WEIGHTS), device=str(device))
    missing, unexpected = model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
                                                strict=False)
    fresh = model.new_parts()
    not_fresh = [k for k in missing if not k.startswith(fresh)] if fresh else missing
    if not_fresh or unexpected:
        raise ValueError(f"{folder / STATE_WEIGHTS} does not fit this model: missing {not_fresh[:5]}, "
                         f"unexpected {unexpected[:5]}; train it afresh without --resume")
    for j, opt in enumerate(optimizers[:len(meta["param_groups"])]):     # an optimiser of new parts starts fresh
        state: dict = defaultdict(dict)
        for k, v in tensors.items():
            if k.startswith(f"opt{j}."):
                _, idx, name = k.split(".", 2)
                state[int(idx)][name] = v
        opt.load_state_dict({"state": dict(state), "param_groups": meta["param_groups"][j]})
    if ema is not None:
        for i, s in enumerate(ema.shadow):
            s.copy_(tensors[f"ema.{i}"])
    return meta


def rewarm(step: int, restarts: list[int], steps: int) -> float:
    """Learning-rate factor after a restart (a fresh optimiser, or a longer plan): linear from 1/steps back to 1."""
    since = [step - r for r in restarts if step >= r]
    return min(1.0, (min(since) + 1) / steps) if since else 1.0


def restart_from_weights(folder: Path, spec: ModelSpec, model: ZooModel, ema: Optional[EMA], device,
                         history: dict) -> dict:
    """Continue a run whose training state is gone (a fresh clone holds only the shipped checkpoint).

    The shipped weights (the averaged ones where the model keeps an EMA), stored in float16, become the weights being
    trained (and the average). The optimiser's moments cannot be recovered, so it starts afresh; ``rewarm`` eases the
    learning rate back in. ``history`` (the folder's) records the restart and is returned to continue."""
    shipped = load_folder(spec.cls, folder, map_location=str(device))
    model.load_state_dict(shipped.state_dict())
    if ema is not None:
        ema.shadow = [p.detach().clone() for p in ema.params]
    history.setdefault("restarts", []).append(
        {
            "after_epoch": history["epochs"][-1]["epoch"],
            "from": f"{WEIGHTS} ({'averaged weights, ' if ema else ''}float16)",
            "why": "training state missing",
            "date": time.strftime("%Y-%m-%d"),
        }
    )
    return history


def extend(history: dict, done: int, planned: int, epochs: int) -> None:
    """Record that a run planned for ``planned`` epochs goes on to ``epochs``. The learning-rate schedule is a function
    of the planned length, so stretching it lifts the rate at once (for a finished cosine run, from 10 % of the peak to
    about 55 %); like a restart, ``rewarm`` eases that rise in. The optimiser keeps its moments."""
    history.setdefault("restarts", []).append({
        "after_epoch": done, "from": f"{STATE_WEIGHTS} (optimiser kept)",
        "why": f"extended from {planned} to {epochs} epochs", "date": time.strftime("%Y-%m-%d")})

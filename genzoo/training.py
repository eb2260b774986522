"""The training loop every model shares: seeded, resumable, with EMA, progress bars,
per-epoch history, test-set losses and sample grids from one fixed noise batch."""
from __future__ import annotations

import contextlib
import functools
import json
import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from models import ZooModel

from .checkpoints import (HISTORY, WEIGHTS, checkpoint_root, hardware, load_folder, load_history, load_model, recipe,
                          save_model, training_precision, write_json)
from .model_card import write_model_card
from .data import load_split, to_unit
from .imaging import save_grid
from .registry import ModelSpec, get_spec, sampler_options
from .train_state import (EMA, STATE_JSON, STATE_WEIGHTS, extend, load_state, restart_from_weights, rewarm,
                          save_state)

REWARM_STEPS = 500          # learning-rate warm-up after a restart with a fresh optimiser, for specs without one
GRID_EPOCHS = (1, 2, 3, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100)
GRID_SEED = 1234
SMOKE_TRAIN, SMOKE_TEST = 256, 64


@dataclass
class TrainOptions:
    dataset: str
    model: str
    epochs: Optional[int] = None
    batch_size: Optional[int] = None
    device: str = "auto"
    data_root: Optional[str] = None
    out_root: Optional[str] = None
    resume: bool = False
    smoke: bool = False
    seed: int = 0
    threads: Optional[int] = None
    progress: bool = True


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA GPU is available")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def grid_epochs(total: int) -> list[int]:
    """Epochs at which sample grids are saved: 1, 2, 3, 5, 10, 15, 20, 25, ... and the last."""
    return sorted({e for e in GRID_EPOCHS if e <= total} | {total})


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """Linear warm-up, then constant or cosine decay to 10% of the peak."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def grid_inputs(model: ZooModel, n: int = 100) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The fixed noise batch (and labels: one class per row, for conditional models) of every grid."""
    g = torch.Generator().manual_seed(GRID_SEED)
    noise = model.noise(n, g)
    labels = torch.arange(n, device=model.device) // (n // 10) if model.conditional else None
    return noise, labels


@torch.no_grad()
def test_logs(model: ZooModel, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> dict[str, float]:
    """The model's loss terms on held-out images (fixed seed, so epochs compare)."""
    torch.manual_seed(0)
    sums: dict[str, float] = defaultdict(float)
    for i in range(0, len(x), batch):
        _, logs = model.loss(x[i:i + batch].to(model.device), y[i:i + batch].to(model.device))
        for k, v in logs.items():
            sums[k] += v * len(x[i:i + batch])
    return {f"test_{k}": v / len(x) for k, v in sums.items()}


def train(opts: TrainOptions) -> Path:
    """Train ``opts.model`` on ``opts.dataset``; returns the checkpoint folder."""
    spec: ModelSpec = get_spec(opts.model)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    device = resolve_device(opts.device)
    seed_everything(opts.seed)
    epochs = opts.epochs or (2 if opts.smoke else spec.epochs_for(opts.dataset))
    batch_size = opts.batch_size or (32 if opts.smoke else spec.batch_size)
    root = Path(opts.out_root) if opts.out_root else checkpoint_root()
    folder = root / opts.dataset / spec.name

    x_u8, y = load_split(opts.dataset, train=True, root=opts.data_root)
    xt_u8, yt = load_split(opts.dataset, train=False, root=opts.data_root)
    if opts.smoke:
        x_u8, y, xt_u8, yt = x_u8[:SMOKE_TRAIN], y[:SMOKE_TRAIN], xt_u8[:SMOKE_TEST], yt[:SMOKE_TEST]
    else:
        xt_u8, yt = xt_u8[:2000], yt[:2000]
    x, xt = to_unit(x_u8), to_unit(xt_u8)

    model = spec.build(tiny=opts.smoke).to(device)
    if spec.base:
        model.set_base(load_model(opts.dataset, spec.base, root=root, map_location=str(device)), x[:10000])
    optimizers = model.configure_optimizers(spec.lr)
    ema = EMA(model, spec.ema_decay) if spec.ema_decay else None
    precision = training_precision(spec, device)
    if precision != spec.precision:
        print(f"{opts.dataset}/{spec.name}: this {device.type.upper()} has no native bfloat16, so it trains in float32 "
              f"(its recipe's bf16 would be emulated, many times slower)", flush=True)
    autocast = functools.partial(torch.autocast, device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    steps_per_epoch = len(x) // batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"batch size {batch_size} is larger than the {len(x)} training images")
    total_steps = epochs * steps_per_epoch
    warmup = min(spec.warmup_steps, total_steps // 5)  # a short (smoke) run still gets most of its steps at full rate

    history = {"model": spec.name, "dataset": opts.dataset, "planned_epochs": epochs, "batch_size": batch_size,
               "device": str(device), "hardware": hardware(), "smoke": opts.smoke,
               "recipe": recipe(spec, len(x), batch_size), "epochs": []}
    start = 1
    if opts.resume and (folder / STATE_JSON).exists():
        meta = load_state(folder, model, optimizers, ema, device)
        history = meta["history"]
        planned = history.get("planned_epochs", epochs)
        if epochs > planned:
            extend(history, meta["epoch"], planned, epochs)
        history["planned_epochs"] = epochs
        start = meta["epoch"] + 1
        print(f"resuming {opts.dataset}/{spec.name} after epoch {meta['epoch']}"
              + (f", now planned for {epochs} epochs instead of {planned}" if epochs > planned else ""))
    elif opts.resume and (folder / WEIGHTS).exists() and (shipped := load_history(folder))["epochs"]:
        done = shipped["epochs"][-1]["epoch"]
        if done >= epochs:
            print(f"{opts.dataset}/{spec.name} has finished its {done} epochs; nothing to resume")
            return folder
        history = restart_from_weights(folder, spec, model, ema, device, shipped)
        history["planned_epochs"] = epochs
        start = history["epochs"][-1]["epoch"] + 1
        print(f"resuming {opts.dataset}/{spec.name} after epoch {start - 1} from its saved weights: its training state "
              f"(optimiser moments, un-averaged weights) is missing, so the optimiser starts afresh and the learning "
              f"rate warms up again over {spec.warmup_steps or REWARM_STEPS} steps")
    # a run started before recipes were recorded gets today's (the settings it resumes under)
    history.setdefault("recipe", recipe(spec, len(x), batch_size))
    restarts = [r["after_epoch"] * steps_per_epoch for r in history.get("restarts", [])]
    folder.mkdir(parents=True, exist_ok=True)
    noise, labels = grid_inputs(model, 20 if opts.smoke else 100) if model.generative else (None, None)
    grid_at = grid_epochs(epochs)
    grid_opts = sampler_options(spec.name, opts.dataset)
    if opts.smoke and "steps" in grid_opts:
        grid_opts["steps"] = 5

    for epoch in range(start, epochs + 1):
        t0 = time.time()
        torch.manual_seed(opts.seed * 1000 + epoch)        # order and noise depend only on (seed, epoch)
        perm = torch.randperm(len(x))
        model.train()
        if model.starts_stage(epoch) and ema is not None:
            ema.commit()                                   # a new stage starts from the averaged weights
        model.on_epoch_start(epoch)
        sums: dict[str, float] = defaultdict(float)
        bar = tqdm(range(steps_per_epoch), desc=f"{opts.dataset}/{spec.name} {epoch}/{epochs}",
                   disable=not opts.progress, dynamic_ncols=True)
        for i in bar:
            step = (epoch - 1) * steps_per_epoch + i
            for opt in optimizers:
                for g in opt.param_groups:
                    g["lr"] = spec.lr * lr_factor(step, total_steps, warmup, spec.lr_schedule) * rewarm(
                        step, restarts, spec.warmup_steps or REWARM_STEPS)
            idx = perm[i * batch_size:(i + 1) * batch_size]
            logs = model.train_step(x[idx].to(device), y[idx].to(device), optimizers, autocast)
            if ema is not None:
                ema.update(step)
            for k, v in logs.items():
                sums[k] += v
            if i % 10 == 0 or i == steps_per_epoch - 1:
                bar.set_postfix({k: f"{v / (i + 1):.4g}" for k, v in list(sums.items())[:3]})
        record = {"epoch": epoch, **{k: v / steps_per_epoch for k, v in sums.items()},
                  "lr": optimizers[0].param_groups[0]["lr"], "precision": precision, "hardware": hardware()}
        with ema.swapped() if ema is not None else contextlib.nullcontext():
            model.eval()
            model.on_epoch_end(x[:10000].to(device), y[:10000].to(device))
            record.update(test_logs(model, xt, yt))
            if epoch in grid_at and model.generative:
                g = torch.Generator().manual_seed(GRID_SEED + 1)
                save_grid(
                    model.generate(noise, labels, generator=g, **grid_opts),
                    folder / "samples" / f"epoch_{epoch:03d}.png",
                )
            record["time_s"] = time.time() - t0
            history["epochs"].append(record)
            save_model(model, folder, half=True)   # inference copy; training_state keeps float32
        save_state(folder, model, optimizers, ema, {"epoch": epoch, "history": history})
        write_json(folder / HISTORY, history)
        write_model_card(folder, spec, opts.dataset, model, history)
        print(f"{opts.dataset}/{spec.name} epoch {epoch}: " + ", ".join(
            f"{k}={v:.4g}" for k, v in record.items() if isinstance(v, float)), flush=True)
    return folder


def refresh_decoder(dataset: str, name: str = "ldm", root: Optional[Path] = None) -> Path:
    """Give a trained latent diffusion model the current decoder (and code prior) of the autoencoder it is built on.

    Its denoiser learned the codes that autoencoder's encoder makes, and any decoder of those same codes can draw
    them: so this is allowed only while the encoder is unchanged, as after the autoencoder's adversarial epochs, which
    freeze it. The checkpoint, its training state (so a later ``--resume`` keeps the new decoder) and its history
    (which records the swap) are rewritten; the denoiser is untouched. Returns the checkpoint folder."""
    spec = get_spec(name)
    if not spec.base:
        raise ValueError(f"{name} is not built on an autoencoder")
    root = Path(root) if root else checkpoint_root()
    folder, base_folder = root / dataset / name, root / dataset / spec.base
    model = load_folder(spec.cls, folder)
    base = load_folder(get_spec(spec.base).cls, base_folder)
    old, new = model.autoencoder.state_dict(), base.autoencoder_state()
    moved = [k for k in old if k.startswith("encoder.") and not torch.equal(old[k], new[k])]
    if moved:
        raise ValueError(
            f"{dataset}/{spec.base}'s encoder has changed since {name} learned its codes ({moved[0]}, ...): "
            f"its decoder cannot be swapped in; train {name} again"
        )
    model.autoencoder.load_state_dict(new)
    save_model(model, folder, half=True)
    history, base_epochs = load_history(folder), load_history(base_folder).get("epochs", [])
    history["decoder"] = {"from": spec.base, "after_epoch": len(base_epochs), "date": time.strftime("%Y-%m-%d")}
    if (folder / STATE_JSON).exists():
        tensors = load_file(str(folder / STATE_WEIGHTS))
        tensors.update({f"model.autoencoder.{k}": v.float().contiguous() for k, v in new.items()})
        save_file(tensors, str(folder / (STATE_WEIGHTS + ".tmp")))
        (folder / (STATE_WEIGHTS + ".tmp")).replace(folder / STATE_WEIGHTS)
        meta = json.loads((folder / STATE_JSON).read_text())
        meta["history"]["decoder"] = history["decoder"]
        write_json(folder / STATE_JSON, meta)
    write_json(folder / HISTORY, history)
    write_model_card(folder, spec, dataset, model, history)
    return folder

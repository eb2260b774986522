"""Checkpoints: ``checkpoints/<dataset>/<model>/`` with ``model.safetensors`` + ``config.json``
(``save_pretrained``), ``history.json``, epoch sample grids and a model card.

Loading reads the local folder, or a Hugging Face Hub repo when one is
configured (``$GENZOO_HUB_REPO``), falling back to the local folder when the
Hub cannot be reached. Weights are only ever read through safetensors with
strict key checking; nothing is unpickled.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import platform
from pathlib import Path
from typing import Optional

import torch

from models import ZooModel

from .data import dataset_info
from .registry import ModelSpec, get_spec

log = logging.getLogger(__name__)

WEIGHTS, CONFIG, HISTORY = "model.safetensors", "config.json", "history.json"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated or does not match its model."""


def checkpoint_root() -> Path:
    """``$GENZOO_CHECKPOINTS``, else the project's ``checkpoints/``."""
    return Path(os.environ.get("GENZOO_CHECKPOINTS", PROJECT_ROOT / "checkpoints"))


def model_dir(dataset: str, name: str, root: Optional[Path] = None) -> Path:
    dataset_info(dataset)
    get_spec(name)
    return Path(root or checkpoint_root()) / dataset / name


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def native_bf16(device: torch.device) -> bool:
    """Whether bfloat16 arithmetic is native here (a CUDA GPU that has it, or a CPU with AVX-512 BF16 or AMX). Where
    it is not, autocast emulates it: measured 70 times slower than float32 for the distillation step on an AVX2 CPU."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def training_precision(spec: ModelSpec, device: torch.device) -> str:
    """The number format a training run uses: the recipe's bf16 only where the hardware does bf16 natively."""
    return "bf16" if spec.precision == "bf16" and native_bf16(device) else "fp32"


def hardware() -> str:
    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    return f"CPU: {cpu_name()}, {torch.get_num_threads()} threads"


# -- saving -------------------------------------------------------------------------
def write_json(path: Path, obj) -> None:
    """Write JSON atomically (a crash leaves the old file, never half a file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def save_model(model: ZooModel, folder: Path, half: bool = False) -> None:
    """``save_pretrained`` into a temporary folder, then move the files in place.

    ``half`` stores floating-point weights as float16 (half the size, for the
    shipped checkpoints); loading casts them back into the float32 model.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / ".saving"
    if half:
        model = copy.deepcopy(model).half()
    model.save_pretrained(tmp)
    for f in (WEIGHTS, CONFIG):
        os.replace(tmp / f, folder / f)
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()


def recipe(spec: ModelSpec, train_images: Optional[int], batch_size: int) -> dict:
    """How a checkpoint is being trained, written into its ``history.json`` when training starts: the card and the
    app read these facts from there, never from the registry of a later day."""
    return {"title": spec.title, "summary": spec.summary, "train_images": train_images, "batch_size": batch_size,
            "lr": spec.lr, "lr_schedule": spec.lr_schedule, "warmup_steps": spec.warmup_steps,
            "ema_decay": spec.ema_decay, "precision": spec.precision, "base": spec.base}


def hub_repo() -> Optional[str]:
    return os.environ.get("GENZOO_HUB_REPO") or None


_UNREACHABLE: set[str] = set()     # Hub repos that failed once: not asked again by this process


def _from_hub(repo_id: str, dataset: str, name: str) -> Optional[Path]:
    """Download one model folder from the Hub; None when the Hub cannot be reached or lacks it."""
    from huggingface_hub import snapshot_download

    if repo_id in _UNREACHABLE:
        return None
    try:
        local = snapshot_download(repo_id, allow_patterns=[f"{dataset}/{name}/*"], etag_timeout=5)
    except Exception as exc:  # offline, unknown repo, ...
        _UNREACHABLE.add(repo_id)
        log.warning("Hugging Face Hub repo %s unreachable (%s); using local checkpoints", repo_id, type(exc).__name__)
        return None
    folder = Path(local) / dataset / name
    return folder if (folder / CONFIG).exists() else None


#: what the app reads from a checkpoint repository (the layout ``python -m genzoo publish`` uploads)
HUB_PATTERNS = ("{ds}/*.json", "{ds}/*.npz", "{ds}/*/*.json", "{ds}/*/*.safetensors", "{ds}/*/README.md",
                "{ds}/*/samples/*.png")


def hub_snapshot(repo_id: str, datasets) -> Optional[Path]:
    """Download the app's part of a checkpoint repository (all of it but training state) in one go, and return its
    folder; None when the Hub cannot be reached or the repository is unknown (the app then uses local files)."""
    from huggingface_hub import snapshot_download

    if repo_id in _UNREACHABLE:
        return None
    try:
        local = snapshot_download(repo_id, allow_patterns=[p.format(ds=ds) for ds in datasets for p in HUB_PATTERNS],
                                  ignore_patterns=["*/training_state*"], etag_timeout=5)
    except Exception as exc:  # offline, unknown repo, no permission, ...
        _UNREACHABLE.add(repo_id)
        log.warning("Hugging Face Hub repo %s unreachable (%s); using local checkpoints", repo_id, type(exc).__name__)
        return None
    return Path(local)


def find_checkpoint(dataset: str, name: str, root: Optional[Path] = None, repo_id: Optional[str] = None) -> Path:
    """The folder to load from: the Hub's copy when configured and reachable, else the local one."""
    repo_id = repo_id if repo_id is not None else hub_repo()
    local = model_dir(dataset, name, root)
    if repo_id:
        folder = _from_hub(repo_id, dataset, name)
        if folder is not None:
            return folder
    if not (local / CONFIG).exists() or not (local / WEIGHTS).exists():
        missing = [f for f in (CONFIG, WEIGHTS) if not (local / f).exists()]
        hub = f"the Hub repo {repo_id} does not have it and " if repo_id else ""
        raise CheckpointError(f"no checkpoint for {dataset}/{name}: {hub}{local} lacks {' and '.join(missing)}. "
                              f"Train it with "
                              f"`python -m genzoo train --dataset {dataset} --model {name}`.")
    return local


def load_folder(cls: type, folder: Path, map_location: str = "cpu") -> ZooModel:
    """Build ``cls`` from ``config.json`` and load ``model.safetensors`` with strict key checking."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        config = json.loads((folder / CONFIG).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{folder / CONFIG} is missing or not valid JSON ({exc})") from None
    try:
        model = cls(**config)
    except TypeError as exc:
        raise CheckpointError(f"{folder / CONFIG} does not fit {cls.__name__} ({exc})") from None
    try:
        state = load_file(str(folder / WEIGHTS), device=str(map_location))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{folder / WEIGHTS} is missing, truncated or not a safetensors file ({exc})") from None
    expected = set(model.state_dict())
    missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or extra:
        raise CheckpointError(f"{folder / WEIGHTS} does not match its config.json: "
                              f"missing keys {missing[:5]}{'…' if len(missing) > 5 else ''}, "
                              f"unexpected keys {extra[:5]}{'…' if len(extra) > 5 else ''}")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{folder / WEIGHTS} does not match its config.json ({str(exc).splitlines()[-1].strip()})"
        ) from None
    return model.to(map_location).eval()


def load_model(dataset: str, name: str, root: Optional[Path] = None, map_location: str = "cpu",
               repo_id: Optional[str] = None) -> ZooModel:
    """Load ``<dataset>/<name>`` in inference mode, from the Hub when configured, else locally."""
    spec = get_spec(name)
    return load_folder(spec.cls, find_checkpoint(dataset, name, root, repo_id), map_location)


def load_history(folder: Path) -> dict:
    path = Path(folder) / HISTORY
    return json.loads(path.read_text()) if path.exists() else {"epochs": []}

"""Batched sampling to ``.npz`` (uint8 images, 0 = background, plus labels) or a ``.png`` grid."""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from tqdm.auto import tqdm

from models import GenerativeModel

from .imaging import as_numpy_uint8, save_grid

Labels = Union[None, int, str]


@dataclass(frozen=True)
class DrawRequest:
    """One request to draw: ``n`` pictures from ``model`` of ``dataset`` with ``seed``, of class ``label`` (None: no
    class asked, so the one rule of ``GenerativeModel.sample``), with the model's sampler ``options`` (sorted
    name-value pairs; empty for a one-pass model). Checked once, when made; hashable, so it is its own cache key; and
    whole, so ``sample_kwargs`` is all that ``model.sample`` is told."""
    dataset: str
    model: str
    n: int
    seed: int
    label: Optional[int] = None
    options: tuple = ()

    def __post_init__(self):
        from .data import dataset_info
        from .registry import get_spec

        info = dataset_info(self.dataset)
        if not get_spec(self.model).generative:
            raise ValueError(f"{self.model} does not draw pictures")
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"the number of pictures must be a whole number of at least 1, got {self.n!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"the seed must be a whole number of at least 0, got {self.seed!r}")
        if self.label is not None and not 0 <= int(self.label) < len(info.class_names):
            raise ValueError(f"the class must lie in 0..{len(info.class_names) - 1}, got {self.label!r}")

    @classmethod
    def at_defaults(cls, dataset: str, model: str, n: int, seed: int, label: Optional[int] = None,
                    **overrides) -> "DrawRequest":
        """A request with the model's sampler settings for the dataset (the registry's), with ``overrides``
        (``sampler``, ``steps``, ``guidance``) checked and applied."""
        from .registry import sampler_options

        return cls(dataset, model, n, seed, label, tuple(sorted(sampler_options(model, dataset, **overrides).items())))

    def sample_kwargs(self) -> dict:
        """What ``model.sample(n, label, generator, **...)`` is told: the sampler options and, with no class asked,
        the training set's class shares."""
        from .data import dataset_info

        prior = {} if self.label is not None else {"class_prior": dataset_info(self.dataset).class_prior}
        return {**dict(self.options), **prior}


def resolve_labels(model: GenerativeModel, n: int, label: Labels) -> Optional[torch.Tensor]:
    """``None`` (unconditional), one class index, or ``"cycle"`` for 0, 1, ..., 9, 0, 1, ..."""
    if label is None:
        return None
    if not model.conditional:
        raise ValueError("this model is unconditional: it cannot be asked for a class")
    if label == "cycle":
        return torch.arange(n) % model.num_classes
    k = int(label)
    if not 0 <= k < model.num_classes:
        raise ValueError(f"label must lie in 0..{model.num_classes - 1}, got {k}")
    return torch.full((n,), k)


#: images per network call when drawing many: measured fastest per image for the DDPM UNet on 2 CPU cores
#: (5.1 ms per image at 100, 8.0 ms at 500, fp32). The images depend on it: same seed and batch, same images.
SAMPLE_BATCH = 100
#: number formats for drawing: "fp32" everywhere (the app's), or "bf16" autocast, about twice as fast for the
#: diffusion UNet on CPUs with native bfloat16 (AMX) and used to draw the 10,000-image scoring sets there
PRECISIONS = ("fp32", "bf16")


def _fingerprint(model: GenerativeModel, n: int, labels: Optional[torch.Tensor], **settings) -> str:
    """What a drawing depends on: the model's weights, the labels asked for and every setting."""
    h = hashlib.sha1(f"{type(model).__name__} {n} {sorted(settings.items())!r}".encode())
    for name, value in model.state_dict().items():
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    if labels is not None:
        h.update(torch.as_tensor(labels).to(torch.int64).numpy().tobytes())
    return h.hexdigest()


def _load_progress(path: Optional[Path], key: str) -> Optional[dict]:
    if path is None or not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=True)
    except Exception:                      # a file cut short by a crash: start again
        return None
    return state if state.get("key") == key else None


def _save_progress(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)                  # never a half-written file, even if stopped mid-save


def partial_path(out: Path) -> Path:
    """Where a long drawing meant for ``out`` keeps its progress (``sample_batched(resume=...)``)."""
    return Path(out).with_name(Path(out).name + ".partial.pt")


@torch.no_grad()
def sample_batched(model: GenerativeModel, n: int, labels: Optional[torch.Tensor] = None, seed: int = 0,
                   batch_size: int = SAMPLE_BATCH, progress: bool = True, precision: str = "fp32",
                   resume: Optional[Path] = None, save_every_s: float = 60.0,
                   **options) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Draw ``n`` images in batches from one seeded generator: same seed, same images. ``precision="bf16"``
    runs the networks under bfloat16 autocast; the noise, the running image and the output stay float32.

    With ``resume`` (a file), the pictures drawn so far and the generator's state are saved there every
    ``save_every_s`` seconds and at the end; a later call with the same model, labels and settings continues
    from the last save (or returns the finished set at once) and draws exactly the pictures an uninterrupted run
    would. The caller removes the file when it no longer needs it."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    g = torch.Generator().manual_seed(seed)
    out, drawn, start = [], [], 0
    if resume is not None:
        resume = Path(resume)
        key = _fingerprint(model, n, labels, seed=seed, batch_size=batch_size, precision=precision, **options)
        state = _load_progress(resume, key)
        if state is not None:
            start = state["next"]
            out = [state["images"]]
            drawn = [state["labels"]] if state["labels"] is not None else []
            g.set_state(state["generator"])
    last_save = time.monotonic()

    def save(i: int) -> None:
        _save_progress(resume, {"key": key, "next": i, "images": torch.cat(out),
                                "labels": torch.cat(drawn) if drawn else None, "generator": g.get_state()})

    for i in tqdm(range(start, n, batch_size), desc="sampling", disable=not progress, dynamic_ncols=True,
                  initial=-(-start // batch_size), total=-(-n // batch_size)):
        m = min(batch_size, n - i)
        lab = labels[i:i + m] if labels is not None else None
        with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out.append(model.sample(m, lab, generator=g, **options).float().cpu())
        if lab is not None:
            drawn.append(torch.as_tensor(lab).cpu())
        if resume is not None and i + m < n and time.monotonic() - last_save >= save_every_s:
            save(i + m)
            last_save = time.monotonic()
    if resume is not None and start < n:
        save(n)
    return torch.cat(out), (torch.cat(drawn) if drawn else None)


@torch.no_grad()
def reconstruct_batched(model: GenerativeModel, x: torch.Tensor, labels: Optional[torch.Tensor] = None,
                        batch_size: int = 500) -> torch.Tensor:
    """``model.reconstruct`` of images in [0, 1], ``batch_size`` at a time (labels only for conditional models)."""
    return torch.cat([model.reconstruct(x[i:i + batch_size].to(model.device),
                                        labels[i:i + batch_size].to(model.device) if labels is not None else None).cpu()
                      for i in range(0, len(x), batch_size)])


def write_samples(images: torch.Tensor, labels: Optional[torch.Tensor], out: Path) -> Path:
    """``.npz`` with ``images`` uint8 [N, 28, 28] (and ``labels``), or a ``.png`` grid."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        arrays = {"images": as_numpy_uint8(images)}
        if labels is not None:
            arrays["labels"] = labels.numpy().astype(np.int64)
        np.savez_compressed(out, **arrays)
    elif out.suffix == ".png":
        save_grid(images, out, nrow=10)
    else:
        raise ValueError(f"--out must end in .npz or .png, got {out.name}")
    return out

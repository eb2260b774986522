"""The app's view of the checkpoints: every model of every dataset, loaded once,
each either ready or unavailable with the reason; and the small data subset
shipped beside them (the app never needs the full datasets)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from models import count_parameters

from .checkpoints import (CheckpointError, checkpoint_root, find_checkpoint, hub_repo, hub_snapshot, load_folder,
                          load_history)
from .data import DATASETS, dataset_info, load_split
from .hosting import Served
from .registry import SPECS, ModelSpec

log = logging.getLogger(__name__)
SUBSET = "data_subset.npz"
SUBSET_TRAIN, SUBSET_TEST = 6000, 2000


@dataclass
class Entry:
    dataset: str
    spec: ModelSpec
    model: Optional[Served] = None        # its networks run through the device boundary (``hosting``)
    folder: Optional[Path] = None
    error: Optional[str] = None
    history: dict = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.model is not None

    @property
    def epochs_done(self) -> tuple[int, int]:
        """(epochs trained, epochs planned) from the checkpoint's history; (0, 0) without one."""
        return len(self.history.get("epochs", [])), int(self.history.get("planned_epochs", 0))

    @property
    def in_training(self) -> bool:
        """True for a checkpoint saved part-way through its training run (shipped so visitors can watch it grow)."""
        done, planned = self.epochs_done
        return 0 < done < planned

    @property
    def parameters(self) -> Optional[int]:
        return count_parameters(self.model.cpu) if self.model is not None else None


@dataclass
class DataSubset:
    """A fixed random subset of the training and test images, and the full per-class counts."""
    train_images: torch.Tensor      # float [N, 1, 28, 28] in [0, 1]
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    counts: dict[str, list[int]]    # split -> images per class in the full dataset


def export_subset(dataset: str, data_root: Optional[str] = None, root: Optional[Path] = None) -> Path:
    """Write ``checkpoints/<dataset>/data_subset.npz`` from the full dataset."""
    x, y = load_split(dataset, True, data_root)
    xt, yt = load_split(dataset, False, data_root)
    g = torch.Generator().manual_seed(0)
    i = torch.randperm(len(x), generator=g)[:SUBSET_TRAIN]
    j = torch.randperm(len(xt), generator=g)[:SUBSET_TEST]
    out = Path(root or checkpoint_root()) / dataset / SUBSET
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, train_images=x[i].numpy(), train_labels=y[i].numpy(), test_images=xt[j].numpy(),
                        test_labels=yt[j].numpy(), counts_train=np.bincount(y.numpy(), minlength=10),
                        counts_test=np.bincount(yt.numpy(), minlength=10))
    return out


def load_subset(path: Path) -> DataSubset:
    with np.load(path, allow_pickle=False) as z:
        def f(a):
            return torch.from_numpy(z[a]).float().div(255).unsqueeze(1)
        return DataSubset(f("train_images"), torch.from_numpy(z["train_labels"]).long(), f("test_images"),
                          torch.from_numpy(z["test_labels"]).long(),
                          {"train": z["counts_train"].tolist(), "test": z["counts_test"].tolist()})


class Zoo:
    """Loads every registry model for every dataset once; a missing or broken one is kept with its reason."""

    def __init__(self, root: Optional[Path] = None, repo_id: Optional[str] = None,
                 datasets: tuple[str, ...] = tuple(DATASETS), names: Optional[list[str]] = None):
        self.root = Path(root or checkpoint_root())
        repo_id = repo_id if repo_id is not None else hub_repo()
        hub = hub_snapshot(repo_id, datasets) if repo_id else None
        if hub is not None:            # the Hub's copy of the whole layout: models, data subsets and measurements
            self.root, repo_id = hub, ""
        self.entries: dict[str, dict[str, Entry]] = {}
        self.data: dict[str, Optional[DataSubset]] = {}
        self.data_errors: dict[str, str] = {}
        for ds in datasets:
            self.entries[ds] = {}
            for name in names or list(SPECS):
                self.entries[ds][name] = self._load(ds, SPECS[name], repo_id)
            try:
                self.data[ds] = load_subset(self.root / ds / SUBSET)
            except (OSError, KeyError, ValueError) as exc:
                self.data[ds] = None
                self.data_errors[ds] = f"the data subset {self.root / ds / SUBSET} could not be read ({exc})"
                log.warning(self.data_errors[ds])

    def _load(self, dataset: str, spec: ModelSpec, repo_id: Optional[str]) -> Entry:
        entry = Entry(dataset, spec)
        try:
            entry.folder = find_checkpoint(dataset, spec.name, self.root, repo_id)
            # loaded on the CPU, then moved once (on ZeroGPU, loading straight to CUDA needs a driver it lacks)
            entry.model = Served(load_folder(spec.cls, entry.folder, map_location="cpu"), f"{dataset}/{spec.name}")
            entry.history = load_history(entry.folder)
        except CheckpointError as exc:
            entry.error = str(exc)
            log.warning("%s/%s unavailable: %s", dataset, spec.name, exc)
        return entry

    def datasets(self) -> list[str]:
        return list(self.entries)

    def entry(self, dataset: str, name: str) -> Entry:
        dataset_info(dataset)
        if dataset not in self.entries:
            raise ValueError(f"dataset {dataset!r} is not loaded")
        if name not in self.entries[dataset]:
            raise ValueError(f"unknown model {name!r}; choose one of {', '.join(self.entries[dataset])}")
        return self.entries[dataset][name]

    def model(self, dataset: str, name: str) -> Served:
        """The loaded model, or a ValueError saying why it is unavailable."""
        e = self.entry(dataset, name)
        if e.model is None:
            raise ValueError(f"{e.spec.title} is unavailable for {dataset_info(dataset).title}: {e.error}")
        return e.model

    def subset(self, dataset: str) -> DataSubset:
        dataset_info(dataset)
        d = self.data.get(dataset)
        if d is None:
            raise ValueError(self.data_errors.get(dataset, f"no data subset for {dataset}"))
        return d

    def ready(self, dataset: str, predicate=lambda e: True) -> list[str]:
        return [n for n, e in self.entries.get(dataset, {}).items() if e.ready and predicate(e)]

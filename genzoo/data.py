"""Datasets: MNIST digits and Fashion-MNIST clothes through torchvision, held in memory as uint8."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch


class DataError(RuntimeError):
    """The dataset could not be found or downloaded."""


@dataclass(frozen=True)
class DatasetInfo:
    key: str
    title: str
    torchvision_name: str
    noun: str
    class_names: tuple[str, ...]
    train_counts: tuple[int, ...]           # pictures of each class in the training set

    @property
    def class_prior(self) -> tuple[float, ...]:
        """Each class's share of the training set: how often a model asked for no class draws it."""
        total = sum(self.train_counts)
        return tuple(c / total for c in self.train_counts)


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", "MNIST digits", "MNIST", "digit",
                         tuple(str(i) for i in range(10)),
                         (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)),
    "fashion": DatasetInfo("fashion", "Fashion-MNIST clothes", "FashionMNIST", "item of clothing",
                           ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
                           (6000,) * 10),
}


def dataset_info(dataset: str) -> DatasetInfo:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[dataset]


def default_data_root() -> Path:
    """``$GENZOO_DATA_ROOT``, else a git-ignored ``data/`` in the working directory."""
    return Path(os.environ.get("GENZOO_DATA_ROOT", "data"))


def load_split(dataset: str, train: bool = True, root: str | Path | None = None,
               download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``uint8 [N, 28, 28]`` (0 = background) and labels ``int64 [N]``."""
    import torchvision

    info = dataset_info(dataset)
    root = Path(root) if root is not None else default_data_root()
    cls = getattr(torchvision.datasets, info.torchvision_name)
    try:
        ds = cls(str(root), train=train, download=download)
    except Exception as exc:  # offline and missing, a corrupt file, ...
        reason = " ".join(str(exc).split())[:200]
        raise DataError(
            f"could not find {info.torchvision_name} under {root} and could not download it "
            f"({reason}). Put the files in {root}/{info.torchvision_name}/raw or pass --data-root."
        ) from None
    return ds.data.clone(), ds.targets.clone().long()


def to_unit(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float [N, 1, 28, 28] in [0, 1]."""
    return images_u8.float().div(255).unsqueeze(1)

"""A generated picture's nearest training pictures, as the evaluator sees them (its 128 features), beside how near
an unseen real picture typically comes: the check behind the Scoreboard's "sits on a training picture" column,
for one picture at a time."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
import torch

from .data import DataError, dataset_info, load_split, to_unit
from .metrics import nearest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingSearch:
    """The training pictures searched, their features, and the median distance from an unseen real picture to its
    nearest training picture (``typical``)."""
    images: torch.Tensor            # [N, 1, 28, 28] in [0, 1]
    features: np.ndarray
    typical: float
    searched: str                   # which training pictures, in words

    def nearest(self, features: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices ``[n, k]`` of each picture's ``k`` nearest training pictures."""
        return nearest(features, self.features, k)


@torch.no_grad()
def embed(classifier, images: torch.Tensor, batch: int = 1000) -> np.ndarray:
    """The evaluator's features of pictures in [0, 1], on the CPU (a small network, and no GPU lease to wait for)."""
    return torch.cat([classifier.features(images[i:i + batch]) for i in range(0, len(images), batch)]).numpy()


@functools.lru_cache(maxsize=4)
def training_search(zoo, dataset: str) -> TrainingSearch:
    """Every training picture when the dataset is on this machine (``GENZOO_DATA_ROOT``), else the tenth of them
    that ships with the app; the unseen pictures are the test pictures shipped with it."""
    classifier = zoo.model(dataset, "classifier").cpu
    subset = zoo.subset(dataset)
    try:
        x, _ = load_split(dataset, True, download=False)
        images = to_unit(x)
        searched = f"all {len(x):,} training pictures"
    except DataError:
        images = subset.train_images
        total = sum(subset.counts["train"])
        searched = (f"the {len(images):,} training pictures that ship with the app (of {total:,}; the Scoreboard's "
                    f"check searched them all)")
    features = embed(classifier, images)
    typical = float(np.median(nearest(embed(classifier, subset.test_images), features)[0][:, 0]))
    log.info("%s: searching %s for nearest pictures", dataset_info(dataset).title, searched)
    return TrainingSearch(images, features, typical, searched)


def nearest_pictures(zoo, dataset: str, images: torch.Tensor, k: int = 3
                     ) -> tuple[TrainingSearch, np.ndarray, torch.Tensor]:
    """For each picture, its ``k`` nearest training pictures: the search, the distances ``[n, k]`` and the pictures
    ``[n, k, 1, 28, 28]``."""
    search = training_search(zoo, dataset)
    d, i = search.nearest(embed(zoo.model(dataset, "classifier").cpu, images.cpu()), k)
    return search, d, search.images[torch.as_tensor(i)]

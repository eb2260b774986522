"""The evaluator: the project's classifier's features and predictions, scores of a picture set against the real
test pictures, and timings; ``genzoo.evaluation`` uses it to measure every model."""
from __future__ import annotations

import time
from typing import Optional

import numpy as np
import torch

from models import Classifier, GenerativeModel

from .metrics import class_kl, copying, frechet_distance, laplacian_variance, nearest, precision_recall
from .sampling import sample_batched


class Evaluator:
    """Features and predictions of the evaluator classifier, plus the real-data reference."""

    def __init__(self, classifier: Classifier, test_images: torch.Tensor, train_images: torch.Tensor,
                 all_train_images: Optional[torch.Tensor] = None):
        """``train_images``: a sample of the training set for the real-data floor; ``all_train_images`` (default:
        the same): every training picture, which a model's pictures are searched against for copies."""
        self.classifier = classifier.eval()
        self.test_features, _ = self.embed(test_images)
        self.train_features, _ = self.embed(train_images)
        self.all_train_features = (self.train_features if all_train_images is None
                                   else self.embed(all_train_images)[0])
        # how near unseen real pictures come to the training set: the same for every model, so measured once
        self.held_out_distances = nearest(self.test_features, self.all_train_features)[0][:, 0]
        self.real_sharpness = laplacian_variance(test_images)
        self.test_images = test_images

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        feats, preds = [], []
        for i in range(0, len(images), batch):
            f = self.classifier.features(images[i:i + batch])
            feats.append(f)
            preds.append(self.classifier.head(f).argmax(1))
        return torch.cat(feats).double().numpy(), torch.cat(preds).numpy()

    def floor(self) -> float:
        return frechet_distance(self.train_features, self.test_features)

    def score(self, images: torch.Tensor, labels: Optional[torch.Tensor] = None, pr_samples: int = 5000) -> dict:
        feats, pred = self.embed(images)
        rng = np.random.default_rng(0)
        m = min(pr_samples, len(feats), len(self.test_features))
        p, r = precision_recall(self.test_features[rng.choice(len(self.test_features), m, replace=False)],
                                feats[rng.choice(len(feats), m, replace=False)])
        out = {"fid": frechet_distance(feats, self.test_features), "precision": p, "recall": r,
               "class_kl": class_kl(pred), "sharpness": laplacian_variance(images) / self.real_sharpness}
        if labels is not None:
            out["cond_acc"] = float((pred == labels.numpy()).mean())
        else:                   # pictures drawn as a model draws them unasked: do they sit on training pictures?
            out["copying"] = copying(feats, self.test_features, self.all_train_features, self.held_out_distances)
        return out


def latency(model: GenerativeModel, batch: int, options: dict, budget_s: float = 20.0, max_runs: int = 10) -> dict:
    """Median and 95th percentile milliseconds per call, over as many runs as fit the budget (at least 2,
    unless ``max_runs`` is 1)."""
    model.sample(min(batch, 2), generator=torch.Generator().manual_seed(0), **options)   # warm-up
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_runs and (len(times) < min(2, max_runs) or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        model.sample(batch, generator=torch.Generator().manual_seed(len(times)), **options)
        times.append(1000 * (time.perf_counter() - t0))
    return {"batch": batch, "runs": len(times), "median_ms": float(np.median(times)),
            "p95_ms": float(np.percentile(times, 95)), "ms_per_image": float(np.median(times)) / batch}


def precision_check(model: GenerativeModel, ev: Evaluator, drawn: torch.Tensor, labels: Optional[torch.Tensor],
                    seed: int, options: dict, m: int = 100) -> dict:
    """Draw the first ``m`` of ``drawn`` (made at a lower precision from ``seed``) again in fp32, from the same
    noise, and say how close the two sets are: share classified alike and mean absolute pixel difference."""
    m = min(m, len(drawn))
    full, _ = sample_batched(model, m, labels[:m] if labels is not None else None, seed=seed, progress=False, **options)
    (_, pred_full), (_, pred_fast) = ev.embed(full), ev.embed(drawn[:m])
    return {"n": m, "same_class": float((pred_full == pred_fast).mean()),
            "mean_abs_pixel_diff": float((full - drawn[:m]).abs().mean())}



"""The metric functions of the measured comparison, each with known answers in the tests.

Metrics (fixed seeds, so reruns agree except for timings):
  fid           Frechet distance between feature Gaussians of samples and the test set
  floor_fid     the same for 10,000 real training images: what a perfect model would score
  precision     share of samples inside the k-NN balls of real features (Kynkäänniemi et al. 2019, k = 5)
  recall        share of real images inside the k-NN balls of sample features
  class_kl      KL(predicted-class histogram || uniform) of unconditional samples (0 = every class equally)
  cond_acc      share of conditional samples classified as the class asked for
  sharpness     mean variance of the Laplacian, relative to real test images (1 = as sharp as real)
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between the Gaussians fitted to two feature sets."""
    from scipy import linalg

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)      # dead feature dimensions make S singular
        covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
        if not np.isfinite(covmean).all():                          # as pytorch-fid: nudge the diagonals
            offset = np.eye(len(s1)) * 1e-6
            covmean, _ = linalg.sqrtm((s1 + offset) @ (s2 + offset), disp=False)
    covmean = covmean.real
    return float(max(0.0, ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)))


def _knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    return torch.cdist(x, x).kthvalue(k + 1, dim=1).values     # k+1: the point itself is at distance 0


def _inside(ref: torch.Tensor, radii: torch.Tensor, query: torch.Tensor) -> float:
    return float((torch.cdist(query, ref) <= radii[None]).any(dim=1).double().mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-nearest-neighbour balls."""
    r, f = torch.as_tensor(real, dtype=torch.float64), torch.as_tensor(fake, dtype=torch.float64)
    return _inside(r, _knn_radii(r, k), f), _inside(f, _knn_radii(f, k), r)


def class_kl(predicted: np.ndarray, num_classes: int = 10) -> float:
    """KL(histogram of predicted classes || uniform), in nats: 0 when every class is equally common."""
    hist = np.bincount(predicted, minlength=num_classes) / len(predicted)
    nz = hist > 0
    return float(np.sum(hist[nz] * np.log(hist[nz] * num_classes)))


def laplacian_variance(images: torch.Tensor) -> float:
    """Mean over images of the variance of the 3x3 Laplacian: low for blurry images."""
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])[None, None]
    return float(F.conv2d(images.float(), kernel).flatten(1).var(dim=1).mean())

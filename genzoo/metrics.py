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
from typing import Optional

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


def nearest(query: np.ndarray, reference: np.ndarray, k: int = 1, chunk: int = 1000,
            exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances ``[N, k]`` from each query row to its ``k`` nearest reference rows, nearest first, and
    their indices; ``exclude_self``: query and reference are the same set, so a point is not its own neighbour."""
    ref = torch.as_tensor(reference, dtype=torch.float32)
    dists, idx = [], []
    for i in range(0, len(query), chunk):
        d = torch.cdist(torch.as_tensor(query[i:i + chunk], dtype=torch.float32), ref)
        if exclude_self:
            d[torch.arange(len(d)), torch.arange(i, i + len(d))] = float("inf")
        v, j = d.topk(k, dim=1, largest=False)
        dists.append(v)
        idx.append(j)
    return torch.cat(dists).double().numpy(), torch.cat(idx).numpy()


#: a generated picture "sits on a training picture" when it is closer to its nearest training picture than all but
#: 1 % of unseen real pictures are to theirs; a model that does not copy has about 1 % of its pictures there
COPY_PERCENTILE = 1.0
#: the share of pictures there at which a model is flagged as copying: five times what chance gives
COPY_FLAG = 0.05


def copying(generated: np.ndarray, held_out: np.ndarray, train: np.ndarray,
            held_out_distances: Optional[np.ndarray] = None) -> dict:
    """How close generated pictures come to the training set, against how close unseen real (held-out) pictures
    come, all as features: ``ratio``, the median nearest-training distance of the generated over that of the
    held-out pictures (about 1 for a model that draws new pictures, near 0 for one that returns training pictures);
    ``close_share``, the share of generated pictures closer than the held-out pictures' 1st percentile (about
    0.01 when not copying); and ``flagged`` when that share reaches ``COPY_FLAG``. ``held_out_distances``: the
    held-out pictures' nearest-training distances, where already measured (they do not depend on the model)."""
    d_gen = nearest(generated, train)[0][:, 0]
    d_real = nearest(held_out, train)[0][:, 0] if held_out_distances is None else held_out_distances
    threshold = float(np.percentile(d_real, COPY_PERCENTILE))
    share = float((d_gen < threshold).mean())
    return {"ratio": float(np.median(d_gen) / np.median(d_real)), "close_share": share, "threshold": threshold,
            "held_out_median": float(np.median(d_real)), "flagged": share >= COPY_FLAG}


def path_bend(states: torch.Tensor) -> tuple[float, np.ndarray, np.ndarray]:
    """How far a path of states ``[K, ...]`` strays from the straight line between its first and last state: the
    largest distance from that line as a share of the line's length (0 for a straight path, 0.5 for a path out to a
    right-angled corner and back), and for each state how far along the line it lies and how far off it (as shares)."""
    x = states.reshape(len(states), -1).double()
    chord = x[-1] - x[0]
    length = chord.norm()
    if float(length) == 0:
        raise ValueError("the path ends where it starts: it has no straight line to compare with")
    rel = x - x[0]
    along = rel @ chord / length
    off = (rel - along[:, None] * chord / length).norm(dim=1)
    return float(off.max() / length), (along / length).numpy(), (off / length).numpy()

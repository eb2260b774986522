"""The maths behind the app's views, free of any UI code: interpolation paths and
their smoothness, PCA maps of latent spaces, nearest neighbours, drawings made
to look like dataset images, and noise-schedule curves."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from models import GenerativeModel, NoiseSchedule, slerp


@dataclass
class Timed:
    images: torch.Tensor
    seconds: float


@torch.no_grad()
def timed_sample(model: GenerativeModel, n: int, seed: int, labels=None, **options) -> Timed:
    """``model.sample`` from a seeded generator, with its wall time."""
    t0 = time.perf_counter()
    images = model.sample(n, labels, generator=torch.Generator().manual_seed(seed), **options)
    return Timed(images, time.perf_counter() - t0)


# -- interpolation ----------------------------------------------------------------------
def smoothness(frames: torch.Tensor) -> float:
    """Largest step / mean step between consecutive frames, in pixel space (1.0 = perfectly even)."""
    steps = (frames[1:] - frames[:-1]).flatten(1).norm(dim=1)
    mean = steps.mean()
    return float(steps.max() / mean) if mean > 0 else 1.0


@torch.no_grad()
def latent_path(model: GenerativeModel, a: torch.Tensor, b: torch.Tensor, frames: int,
                labels: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Decode the straight line between the codes of images ``a`` and ``b`` ([1, 1, 28, 28] each)."""
    za, zb = model.encode(a, labels), model.encode(b, labels)
    t = torch.linspace(0, 1, frames, device=za.device)[:, None]
    z = (1 - t) * za + t * zb
    lab = labels.expand(frames) if labels is not None else None
    return model.decode(z, lab)


@torch.no_grad()
def noise_path(model: GenerativeModel, seed_a: int, seed_b: int, frames: int, label: Optional[int] = None,
               **options) -> torch.Tensor:
    """Generate from the spherical path between two seeds' noise (GAN: z; DDPM via DDIM: x_T)."""
    na = model.noise(1, torch.Generator().manual_seed(seed_a))[0]
    nb = model.noise(1, torch.Generator().manual_seed(seed_b))[0]
    path = slerp(na, nb, torch.linspace(0, 1, frames))
    labels = model.check_labels(label, frames) if label is not None else None
    if labels is None and model.requires_labels:
        raise ValueError("this model needs a class for its path")
    return model.generate(path, labels, generator=torch.Generator().manual_seed(0), **options)


# -- latent maps -------------------------------------------------------------------------
@dataclass
class LatentMap:
    """Codes of a set of images and their 2-D projection (PCA, or the raw axes of a 2-D code)."""
    codes: np.ndarray          # [N, d]
    xy: np.ndarray             # [N, 2]
    labels: np.ndarray         # [N]
    mean: np.ndarray           # [d]
    axes: np.ndarray           # [2, d]: unit directions (identity rows for a 2-D code)
    explained: Optional[np.ndarray]   # explained variance ratio of the two axes (PCA only)

    def project(self, codes: np.ndarray) -> np.ndarray:
        return (codes - self.mean) @ self.axes.T

    def lift(self, xy: np.ndarray) -> np.ndarray:
        """A point of the map back to a code (the mean code plus the two axes)."""
        return self.mean + np.asarray(xy) @ self.axes


@torch.no_grad()
def encode_all(model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000) -> np.ndarray:
    out = []
    for i in range(0, len(images), batch):
        lab = labels[i:i + batch] if model.conditional else None
        out.append(model.encode(images[i:i + batch], lab).cpu())
    return torch.cat(out).numpy().astype(np.float64)


def latent_map(model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor) -> LatentMap:
    """Encode the images; 2-D codes are kept as they are, larger ones are projected by PCA."""
    codes = encode_all(model, images, labels)
    if codes.shape[1] == 2:
        return LatentMap(codes, codes.copy(), labels.numpy(), np.zeros(2), np.eye(2), None)
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=0).fit(codes)
    return LatentMap(codes, pca.transform(codes), labels.numpy(), pca.mean_, pca.components_,
                     pca.explained_variance_ratio_)


@torch.no_grad()
def decoded_plane(model: GenerativeModel, lo: float = -3.0, hi: float = 3.0, n: int = 15) -> torch.Tensor:
    """Decode an n x n grid of a 2-D code space (rows: second axis from high to low)."""
    u = torch.linspace(lo, hi, n)
    zs = torch.stack([torch.stack([x, y]) for y in u.flip(0) for x in u])
    return model.decode(zs)


def nearest(pool: torch.Tensor, query: torch.Tensor, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Indices and pixel distances of the ``k`` pool images closest to ``query`` ([1, 1, 28, 28])."""
    d = (pool.flatten(1) - query.flatten(1)).norm(dim=1)
    values, idx = d.topk(k, largest=False)
    return idx.numpy(), values.numpy()


# -- drawings ------------------------------------------------------------------------------
class DrawingError(ValueError):
    """The drawing cannot be turned into an image (empty, unreadable, ...)."""


def prepare_drawing(image: np.ndarray, box: int = 20, by_mass: bool = True) -> torch.Tensor:
    """A drawing (any size, grey/RGB/RGBA, dark-on-light or light-on-dark) -> ``[1, 1, 28, 28]`` in [0, 1].

    Done as MNIST was made: strokes made white on black, cropped to their bounding
    box, scaled so the longer side is ``box`` pixels (20 for digits; 28 for
    Fashion-MNIST), and centred by centre of mass (digits) or of the box.
    """
    from PIL import Image

    a = np.asarray(image)
    if a.ndim not in (2, 3) or a.size == 0 or min(a.shape[:2]) < 2:
        raise DrawingError("the drawing is empty or not an image")
    a = a.astype(np.float64)
    if a.max() > 1.0:
        a = a / 255.0
    if a.ndim == 3:
        if a.shape[2] == 4:             # RGBA: paint over white, so transparent means background
            alpha = a[..., 3:4]
            a = a[..., :3] * alpha + (1 - alpha)
        a = a[..., :3].mean(axis=2) if a.shape[2] >= 3 else a[..., 0]
    # make strokes bright on a dark background
    if np.median(a) > 0.5:
        a = 1.0 - a
    a = np.clip((a - 0.1) / 0.9, 0, 1)
    ys, xs = np.nonzero(a > 0.05)
    if len(ys) < 3:
        raise DrawingError("the drawing is empty: draw something first")
    if ys.max() - ys.min() >= a.shape[0] - 1 and xs.max() - xs.min() >= a.shape[1] - 1 and a.mean() > 0.9:
        raise DrawingError("the drawing fills the whole canvas: nothing stands out from the background")
    crop = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((nw, nh), Image.LANCZOS),
                       dtype=np.float64) / 255.0
    canvas = np.zeros((28, 28))
    top, left = (28 - nh) // 2, (28 - nw) // 2
    canvas[top:top + nh, left:left + nw] = small
    if by_mass and canvas.sum() > 0:
        yy, xx = np.mgrid[:28, :28]
        cy, cx = (canvas * yy).sum() / canvas.sum(), (canvas * xx).sum() / canvas.sum()
        canvas = np.roll(canvas, (int(round(13.5 - cy)), int(round(13.5 - cx))), axis=(0, 1))
    return torch.from_numpy(canvas).float().clamp(0, 1)[None, None]


# -- noise schedules ------------------------------------------------------------------------
def schedule_curves(T: int = 1000) -> dict[str, dict[str, np.ndarray]]:
    """beta_t, abar_t and SNR_t for the linear and cosine schedules."""
    out = {}
    for name in ("linear", "cosine"):
        s = NoiseSchedule(name, T)
        out[name] = {"beta": s.betas.numpy(), "alpha_bar": s.alphas_cumprod.numpy(), "snr": s.snr().numpy()}
    return out


def noised(image: torch.Tensor, t: int, schedule: str, seed: int = 0) -> torch.Tensor:
    """x_t from q(x_t | x_0) for one image in [0, 1], shown back in [0, 1]."""
    s = NoiseSchedule(schedule)
    x0 = image * 2 - 1
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    return ((s.q_sample(x0, torch.tensor([t]), eps) + 1) / 2).clamp(0, 1)


# -- the denoising scrubber ----------------------------------------------------------------------------
@dataclass
class Trace:
    """One drawing, step by step: before each step its t, the state x_t and the network's guess of x_0."""
    frames: list[tuple[int, torch.Tensor, torch.Tensor]]
    final: torch.Tensor
    labels: Optional[torch.Tensor]
    guidance: float


@torch.no_grad()
def denoising_trace(model, seed: int, labels: Optional[torch.Tensor], steps: int,
                    guidance: float) -> Trace:
    """Every step of one drawing from a seed's noise, with the model's own trajectory sampler (DDIM for
    diffusion): the sampler's own states, as ``denoise`` keeps them."""
    g = torch.Generator().manual_seed(seed)
    x0, frames = model.denoise(model.noise(1, g), labels, sampler=model.default_sampler.sampler, steps=steps,
                               guidance=guidance, generator=g, frames=steps)
    return Trace(frames, x0, labels, guidance)


@torch.no_grad()
def reverse_pictures(model, noise: torch.Tensor, labels: Optional[torch.Tensor], steps: int, frames: int,
                     generator: Optional[torch.Generator] = None, progress=None,
                     **options) -> tuple[torch.Tensor, list[tuple[int, torch.Tensor]]]:
    """One drawing with the model's own trajectory sampler (DDIM for diffusion) as pictures: the result, and at
    ``frames`` of its steps the noisy state beside the network's guess of the end result (a latent model's states are
    pictures only through its decoder: one job for all)."""
    x0, states = model.denoise(noise, labels, sampler=model.default_sampler.sampler, steps=steps,
                               generator=generator, progress=progress, frames=frames, **options)
    return model.to_images(x0), [(t, torch.cat([model.state_images(xt), model.to_images(pred)], dim=3))
                                 for t, xt, pred in states]


@torch.no_grad()
def trace_path(model, noise: torch.Tensor, labels: Optional[torch.Tensor], steps: int, guidance: float,
               frames: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """The states of one drawing with the model's path sampler, from the noise to the picture (model space,
    ``[steps + 1, 1, 28, 28]``), and ``frames`` of them as pictures, evenly spaced, the picture last."""
    steps = steps or model.default_sampler.steps        # a distilled model: the few steps it learned
    x0, snaps = model.denoise(noise, labels, sampler=model.path_sampler, steps=steps, guidance=guidance,
                              frames=steps)
    states = torch.cat([xt for _, xt, _ in snaps] + [x0])
    pick = torch.linspace(0, len(states) - 1, frames).round().long()
    return states, torch.cat([model.state_images(states[pick[:-1]]), model.to_images(x0)])


@torch.no_grad()
def step_pictures(model, xt: torch.Tensor, x0: torch.Tensor, t: int, labels: Optional[torch.Tensor],
                  guidance: float) -> dict[str, torch.Tensor]:
    """One step of a drawing, as the scrubber shows it: the state, the guess of the final picture, the guided noise
    guess and its two parts as pictures, and the two parts themselves (for the guidance sum)."""
    eps_u, eps_c, eps = model.guidance_terms(xt, t, labels, guidance)
    return {"state": model.state_images(xt), "final": model.to_images(x0), "eps": model.noise_images(eps),
            "eps_u": model.noise_images(eps_u), "eps_c": model.noise_images(eps_c),
            "push": model.noise_images(10 * (eps_c - eps_u)), "eps_u_raw": eps_u, "eps_c_raw": eps_c}


def guidance_sum(eps_u: torch.Tensor, eps_c: torch.Tensor, guidance: float, symbol: str = "ε") -> str:
    """Classifier-free guidance with the numbers of one step: at the position where the class changes the guess
    most, then over the whole picture; ``symbol``: what the network predicts (ε, the noise; v, a velocity)."""
    diff = (eps_c - eps_u).flatten()
    i = int(diff.abs().argmax())
    u, c, rms = float(eps_u.flatten()[i]), float(eps_c.flatten()[i]), float(diff.pow(2).mean().sqrt())
    e = symbol
    return (f"{e} = {e}_no class + s × ({e}_class − {e}_no class) = {u:+.2f} + {guidance:g} × ({c:+.2f} − "
            f"({u:+.2f})) "
            f"= **{u + guidance * (c - u):+.2f}**, where the class changes the guess most. Over the whole picture the "
            f"class moves the guess by {rms:.3f} (root mean square), and strength {guidance:g} makes that "
            f"{abs(guidance) * rms:.3f}.")


def tsne(codes: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 2-D t-SNE layout of the codes (scikit-learn; PCA start, so the same codes give the same layout)."""
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(codes) - 1) / 3)          # scikit-learn needs fewer neighbours than points
    return TSNE(n_components=2, init="pca", learning_rate="auto", perplexity=perplexity,
                random_state=seed).fit_transform(codes).astype(np.float64)


@dataclass
class MapFrame:
    """How a map's plane sits on its picture: ``lo``/``hi`` are the plane's corners (x, y), ``size`` the picture's
    side in pixels and ``margin`` the empty border; y grows upwards on the plane, downwards on the picture."""
    lo: np.ndarray
    hi: np.ndarray
    size: int
    margin: int

    @classmethod
    def around(cls, xy: np.ndarray, size: int = 640, margin: int = 24) -> "MapFrame":
        lo, hi = xy.min(0), xy.max(0)
        pad = (hi - lo) * 0.04 + 1e-9
        return cls(lo - pad, hi + pad, size, margin)

    def to_pixels(self, xy: np.ndarray) -> np.ndarray:
        inner = self.size - 2 * self.margin
        f = (np.asarray(xy, dtype=np.float64) - self.lo) / (self.hi - self.lo)
        return np.stack([self.margin + f[..., 0] * inner, self.margin + (1 - f[..., 1]) * inner], axis=-1)

    def to_plane(self, px: float, py: float) -> np.ndarray:
        inner = self.size - 2 * self.margin
        f = np.array([(px - self.margin) / inner, 1 - (py - self.margin) / inner])
        return self.lo + f * (self.hi - self.lo)

"""An autoregressive model: the gated PixelCNN (van den Oord et al., "Conditional Image Generation with PixelCNN
Decoders", 2016), with an exact likelihood.

A picture's 784 pixels are taken in reading order, and the network gives, for each pixel, a probability for each of
its 256 grey levels from the pixels before it: p(x | y) = prod_i p(x_i | x_<i, y). The log-likelihood is the sum of
the 784 log-probabilities the network gives the levels the picture has: exact, in one pass. Drawing is the slow
part: one pixel at a time, 784 steps.

Two stacks of convolutions keep the order (and have no blind spot): the vertical stack sees the rows above a pixel,
the horizontal stack the pixels to its left in its own row. The vertical stack's features reach the horizontal one
shifted down a row. Each layer is gated, tanh(a) * sigmoid(b), with the class added to both halves (a null class,
dropped in 10 % of training, gives an unconditional model too).

Drawing reuses work: the horizontal stack only looks along its own row, so the vertical stack runs once a row and
only the row being drawn goes through the horizontal stack at each pixel.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .base import GenerativeModel, ProgressFn

LEVELS = 256
SIDE = 28


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """Row i gets row i − 1's features (row 0 gets zeros)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def shift_right(x: torch.Tensor) -> torch.Tensor:
    """Column j gets column j − 1's features."""
    return F.pad(x, (1, 0))[..., :-1]


def gate(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    """One layer of both stacks. Vertical: a (k//2 + 1) × k convolution over the rows up to and including a pixel's
    own. Horizontal: a 1 × (k//2 + 1) convolution over the pixels up to its own (the first layer is shifted one
    pixel right so that it never sees the pixel it predicts), plus the vertical features of the row above."""

    def __init__(self, c_in: int, channels: int, kernel: int, num_classes: int, first: bool = False):
        super().__init__()
        self.k, self.first = kernel, first
        self.v = nn.Conv2d(c_in, 2 * channels, (kernel // 2 + 1, kernel))
        self.h = nn.Conv2d(c_in, 2 * channels, (1, kernel // 2 + 1))
        self.v_to_h = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.h_out = nn.Conv2d(channels, channels, 1)
        self.label = nn.Embedding(num_classes + 1, 4 * channels)       # a bias for each gate, per class

    def vertical(self, v: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """The vertical stack's gate inputs (before the gate); a pixel's see its own row and those above."""
        k = self.k
        return self.v(F.pad(v, (k // 2, k // 2, k // 2, 0))) + label[:, : label.shape[1] // 2, None, None]

    def horizontal(self, h: torch.Tensor, v_above: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """The horizontal stack's next features, from its own row (``h``) and the vertical stack's gate inputs of the
        row above (``v_above``, already shifted down)."""
        source = shift_right(h) if self.first else h
        pre = self.h(F.pad(source, (self.k // 2, 0))) + self.v_to_h(v_above) \
            + label[:, label.shape[1] // 2:, None, None]
        out = self.h_out(gate(pre))
        return out if self.first else h + out


class PixelCNN(GenerativeModel):
    """Class-conditional gated PixelCNN over 256 grey levels."""

    _conditional = True             # told a class (a null class draws without one)

    family = "autoregressive"
    likelihood = "exact"
    likelihood_runs = 10            # with no class: one pass per class
    network_methods = GenerativeModel.network_methods + ("logits", "log_likelihood")
    about = ("Draws a picture **one pixel at a time**, in reading order. For each pixel the network looks at the "
             "pixels already drawn and gives a probability to each of the 256 shades of grey; the drawing picks one "
             "and moves on. Multiplying those 784 probabilities gives the **exact** probability of a whole picture, "
             "so it can say how likely any picture is. Drawing takes 784 steps, so it is slow.")
    equation = (r"$$p(x \mid y) = \prod_{i=1}^{784} p\big(x_i \mid x_1, \dots, x_{i-1},\, y\big),\qquad "
                r"\log p(x \mid y) = \sum_{i=1}^{784} \log p\big(x_i \mid x_{<i},\, y\big)$$"
                "\n\nEach factor is a choice among 256 grey levels, made by masked convolutions that only see "
                "the pixels before $x_i$.")
    teaches = "An exact likelihood, one pixel at a time."

    def __init__(self, channels: int = 64, layers: int = 8, kernel: int = 5, first_kernel: int = 7,
                 hidden: int = 256, num_classes: int = 10, p_uncond: float = 0.1):
        super().__init__()
        self.num_classes, self.null_class, self.p_uncond = num_classes, num_classes, p_uncond
        self.stack = nn.ModuleList([GatedLayer(1, channels, first_kernel, num_classes, first=True)] + [
            GatedLayer(channels, channels, kernel, num_classes) for _ in range(layers - 1)])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, LEVELS, 1))

    # -- the network -------------------------------------------------------------------------------------------
    def _labels(self, labels: Optional[torch.Tensor], n: int, device) -> torch.Tensor:
        return torch.full((n,), self.null_class, device=device, dtype=torch.long) if labels is None else labels

    def vertical(self, x: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's vertical features of the row above each pixel, for pictures ``x`` in [-1, 1]."""
        above, v = [], x
        for layer in self.stack:
            pre = layer.vertical(v, layer.label(labels))
            above.append(shift_down(pre))
            v = gate(pre)
        return above

    def horizontal(self, x: torch.Tensor, above: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        """Logits ``[n, 256, rows, 28]`` for the rows of ``x`` given (any band of rows, with ``above`` cut alike)."""
        h = x
        for layer, v_above in zip(self.stack, above):
            h = layer.horizontal(h, v_above, layer.label(labels))
        return self.head(h)

    def logits(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits of every pixel's 256 levels ``[n, 256, 28, 28]`` for pictures in [0, 1] (no class: the null class)."""
        labels = self._labels(labels, len(x), x.device)
        xs = self.scaled(x)
        return self.horizontal(xs, self.vertical(xs, labels), labels)

    @staticmethod
    def levels(x: torch.Tensor) -> torch.Tensor:
        """Pictures in [0, 1] as their 8-bit grey levels."""
        return (x * (LEVELS - 1)).round().clamp(0, LEVELS - 1).long()

    @staticmethod
    def scaled(x: torch.Tensor) -> torch.Tensor:
        """The network's input: the 8-bit level of each pixel, on [-1, 1]."""
        return PixelCNN.levels(x).float() / (LEVELS - 1) * 2 - 1

    def conditional_log_likelihood(self, x: torch.Tensor, labels: Optional[torch.Tensor]) -> torch.Tensor:
        """log p(x | y) in nats per picture (``labels`` None: the model trained without a class)."""
        logp = self.logits(x, labels).float().log_softmax(1)
        return logp.gather(1, self.levels(x)).flatten(1).sum(1)

    def log_likelihood(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """log p(x | y) in nats per picture of its 8-bit levels; with no class, log p(x) = log of the mean over the
        classes of p(x | y) (each class equally likely): exact either way."""
        if labels is not None:
            return self.conditional_log_likelihood(x, labels)
        return self.mean_over_classes(lambda c: self.conditional_log_likelihood(x, c), len(x), x.device)

    def loss(self, x, y):
        drop = torch.rand(len(y), device=y.device) < self.p_uncond
        labels = torch.where(drop, torch.full_like(y, self.null_class), y)
        nll = F.cross_entropy(self.logits(x, labels).float(), self.levels(x).squeeze(1))
        bits = nll / math.log(2)
        return nll, {"loss": nll.item(), "bits_per_dim": bits.item()}

    # -- drawing -----------------------------------------------------------------------------------------------
    def noise(self, n, generator=None):
        """One uniform number per pixel: it picks the pixel's level from the model's probabilities."""
        return torch.rand(n, SIDE * SIDE, generator=generator).to(self.device)

    def network_evaluations(self, **_) -> int:
        return SIDE * SIDE

    @torch.no_grad()
    def generate(self, noise, labels=None, generator=None, progress: ProgressFn = None, **options):
        """Pixel by pixel in reading order, each level chosen by its uniform number through the inverse of the
        model's cumulative probabilities: the same noise always draws the same picture."""
        n = len(noise)
        labels = self._labels(labels, n, noise.device)
        u = noise.view(n, SIDE, SIDE)
        x = torch.zeros(n, 1, SIDE, SIDE, device=noise.device)         # levels drawn so far, on [-1, 1]
        out = torch.zeros(n, SIDE, SIDE, dtype=torch.long, device=noise.device)
        for i in range(SIDE):
            above = [a[:, :, i:i + 1] for a in self.vertical(x, labels)]
            for j in range(SIDE):
                p = self.horizontal(x[:, :, i:i + 1], above, labels)[:, :, 0, j].float().softmax(1)
                level = torch.searchsorted(p.cumsum(1), u[:, i, j, None].contiguous()).squeeze(1).clamp(max=LEVELS - 1)
                out[:, i, j] = level
                x[:, 0, i, j] = level.float() / (LEVELS - 1) * 2 - 1
            if progress is not None:
                progress(i + 1, SIDE)
        return (out.float() / (LEVELS - 1)).unsqueeze(1)

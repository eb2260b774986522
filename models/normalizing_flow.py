"""A normalizing flow in the style of RealNVP (Dinh, Sohl-Dickstein & Bengio, 2017) and Glow (Kingma & Dhariwal,
2018): an invertible network from pictures to noise, with an exact likelihood.

Each layer is invertible and its Jacobian's log-determinant is cheap, so the change-of-variables formula gives the
density of a picture exactly: log p(x) = log N(f(x); 0, I) + log |det df/dx|. Drawing runs the layers backwards from
noise.

- Dequantization: the 8-bit level k of a pixel becomes (k + u) / 256 with u uniform on [0, 1), and a logit undoes
  the [0, 1] bound. The density of those continuous values, times 256 per pixel, bounds the probability of the
  8-bit picture from below (and is what published bits-per-dimension figures report).
- Steps: an affine coupling (half the values, picked by a checkerboard or by channel, are scaled and shifted by
  amounts a small network reads from the other half, and the class), ActNorm, and Glow's invertible 1 × 1
  convolution, which mixes the channels.
- Three scales: 28 × 28 with checkerboard couplings, then 14 × 14 × 4 after a squeeze, where half the channels leave
  as noise (given a mean and a spread by the half that stays), then 7 × 7 × 8.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .base import GenerativeModel

LEVELS = 256
ALPHA = 1e-6        # the logit's margin: values are kept in [ALPHA, 1 − ALPHA] so the logit stays finite


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """[n, c, h, w] -> [n, 4c, h/2, w/2]: each 2 × 2 block becomes four channels."""
    n, c, h, w = x.shape
    return x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, 4 * c, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c // 4, 2 * h, 2 * w)


def checkerboard(c: int, h: int, w: int, parity: int) -> torch.Tensor:
    board = (torch.arange(h)[:, None] + torch.arange(w)[None]) % 2 == parity
    return board.float().expand(1, c, h, w).clone()


def half_channels(c: int, h: int, w: int, parity: int) -> torch.Tensor:
    keep = (torch.arange(c) < c // 2) == bool(parity)
    return keep.float().view(1, c, 1, 1).expand(1, c, h, w).clone()


class ActNorm(nn.Module):
    """A scale and a shift per channel, set from the first batch so that it comes out with mean 0 and spread 1."""

    def __init__(self, channels: int):
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x):
        if not self.initialized and self.training:
            with torch.no_grad():
                self.shift.copy_(-x.mean((0, 2, 3), keepdim=True))
                self.log_scale.copy_(-x.std((0, 2, 3), keepdim=True).clamp(min=1e-3).log())
                self.initialized.fill_(True)
        return (x + self.shift) * self.log_scale.exp(), self.log_scale.sum() * x.shape[2] * x.shape[3]

    def inverse(self, y):
        return y * (-self.log_scale).exp() - self.shift


class InvConv1x1(nn.Module):
    """Glow's invertible 1 × 1 convolution: a learned rotation-like mix of the channels at every position."""

    def __init__(self, channels: int):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels, generator=torch.Generator().manual_seed(channels)))
        self.weight = nn.Parameter(q)

    def forward(self, x):
        logdet = torch.linalg.slogdet(self.weight.double())[1].to(x.dtype) * x.shape[2] * x.shape[3]
        return F.conv2d(x, self.weight[:, :, None, None]), logdet

    def inverse(self, y):
        return F.conv2d(y, torch.linalg.inv(self.weight.double()).to(y.dtype)[:, :, None, None])


class Coupling(nn.Module):
    """y = x where the mask is 1; elsewhere y = (x + shift) · scale, with shift and scale read from the masked x and
    the class. log scale = tanh(·) keeps every step gentle (a factor between 1/e and e), and the identity at the
    start."""

    def __init__(self, mask: torch.Tensor, hidden: int, num_classes: int):
        super().__init__()
        c = mask.shape[1]
        self.register_buffer("mask", mask)
        self.inp = nn.Conv2d(c, hidden, 3, padding=1)
        self.label = nn.Embedding(num_classes + 1, hidden)
        self.mid = nn.Conv2d(hidden, hidden, 1)
        self.out = nn.Conv2d(hidden, 2 * c, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)              # starts as the identity

    def _shift_scale(self, x_kept, labels):
        h = F.relu(self.inp(x_kept) + self.label(labels)[:, :, None, None])
        shift, raw = self.out(F.relu(self.mid(h))).float().chunk(2, 1)
        log_scale = torch.tanh(raw)
        free = 1 - self.mask
        return shift * free, log_scale * free

    def forward(self, x, labels):
        shift, log_scale = self._shift_scale(x * self.mask, labels)
        return (x + shift) * log_scale.exp(), log_scale.flatten(1).sum(1)

    def inverse(self, y, labels):
        shift, log_scale = self._shift_scale(y * self.mask, labels)
        return y * (-log_scale).exp() - shift


class FlowStep(nn.Module):
    def __init__(self, mask: torch.Tensor, hidden: int, num_classes: int, mix: bool):
        super().__init__()
        c = mask.shape[1]
        self.norm = ActNorm(c)
        self.mix = InvConv1x1(c) if mix else None
        self.coupling = Coupling(mask, hidden, num_classes)

    def forward(self, x, labels):
        x, logdet = self.norm(x)
        if self.mix is not None:
            x, more = self.mix(x)
            logdet = logdet + more
        x, more = self.coupling(x, labels)
        return x, logdet + more

    def inverse(self, y, labels):
        y = self.coupling.inverse(y, labels)
        if self.mix is not None:
            y = self.mix.inverse(y)
        return self.norm.inverse(y)


def _log_normal(z: torch.Tensor) -> torch.Tensor:
    return (-0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)


class NormalizingFlow(GenerativeModel):
    """Class-conditional multi-scale flow on dequantized 8-bit pictures."""

    _conditional = True             # told a class (a null class draws without one)

    family = "normalizing-flow"
    likelihood = "exact"
    likelihood_runs = 10            # with no class: one pass per class
    can_encode = True
    network_methods = GenerativeModel.network_methods + ("log_likelihood", "to_noise", "from_noise")
    about = ("Builds a picture from noise with layers that can all be **run backwards exactly**, so every picture "
             "has exactly one noise that makes it, and back. Because each layer's stretching of space can be "
             "measured, it gives the **exact** probability of any picture. Drawing is one pass backwards through "
             "the layers.")
    equation = (r"$$z = f_\theta(x),\qquad \log p(x) = \log \mathcal{N}\big(z;\, 0, I\big) + "
                r"\log\Big|\det \frac{\partial f_\theta(x)}{\partial x}\Big|$$"
                "\n\nEach layer scales and shifts half of the numbers by amounts read from the other half, so it can "
                "be undone and its determinant is a simple product.")
    teaches = "An exact likelihood, and a picture's own noise, exactly."

    def __init__(self, hidden: int = 96, steps: tuple = (4, 8, 8), num_classes: int = 10, p_uncond: float = 0.1):
        super().__init__()
        self._latent_dim = 784
        self.num_classes, self.null_class, self.p_uncond = num_classes, num_classes, p_uncond
        k0, k1, k2 = steps
        self.level0 = nn.ModuleList([FlowStep(checkerboard(1, 28, 28, i % 2), hidden, num_classes, mix=False)
                                     for i in range(k0)])
        self.level1 = nn.ModuleList([FlowStep(half_channels(4, 14, 14, i % 2), hidden, num_classes, mix=True)
                                     for i in range(k1)])
        self.split_prior = nn.Conv2d(2, 4, 3, padding=1)             # mean and log-spread of the half that leaves
        nn.init.zeros_(self.split_prior.weight)
        nn.init.zeros_(self.split_prior.bias)
        self.level2 = nn.ModuleList([FlowStep(half_channels(8, 7, 7, i % 2), hidden, num_classes, mix=True)
                                     for i in range(k2)])

    def _labels(self, labels, n, device):
        return torch.full((n,), self.null_class, device=device, dtype=torch.long) if labels is None else labels

    # -- pictures <-> continuous values ------------------------------------------------------------------------
    @staticmethod
    def dequantize(x: torch.Tensor, generator: Optional[torch.Generator] = None, centre: bool = False
                   ) -> torch.Tensor:
        """8-bit pictures in [0, 1] -> (level + u) / 256; ``centre``: u = ½ (the deterministic middle)."""
        levels = (x * (LEVELS - 1)).round().clamp(0, LEVELS - 1)
        u = torch.full_like(levels, 0.5) if centre else torch.rand(levels.shape, generator=generator).to(x.device)
        return (levels + u) / LEVELS

    @staticmethod
    def quantize(y: torch.Tensor) -> torch.Tensor:
        return (y * LEVELS).floor().clamp(0, LEVELS - 1) / (LEVELS - 1)

    # -- the flow ----------------------------------------------------------------------------------------------
    def flow(self, y: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Continuous pictures y in (0, 1) -> standard-normal noise ``[n, 784]`` and log |det| of the whole map."""
        s = ALPHA + (1 - 2 * ALPHA) * y
        h = torch.log(s) - torch.log1p(-s)
        logdet = (math.log(1 - 2 * ALPHA) - torch.log(s) - torch.log1p(-s)).flatten(1).sum(1)
        for step in self.level0:
            h, more = step(h, labels)
            logdet = logdet + more
        h = squeeze(h)
        for step in self.level1:
            h, more = step(h, labels)
            logdet = logdet + more
        kept, leaving = h.chunk(2, 1)
        mean, log_spread = self.split_prior(kept).float().chunk(2, 1)
        z1 = (leaving - mean) * (-log_spread).exp()
        logdet = logdet - log_spread.flatten(1).sum(1)
        h = squeeze(kept)
        for step in self.level2:
            h, more = step(h, labels)
            logdet = logdet + more
        return torch.cat([z1.flatten(1), h.flatten(1)], 1), logdet

    def unflow(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Noise ``[n, 784]`` -> continuous pictures y in (0, 1): the flow run backwards."""
        n = len(z)
        z1, h = z[:, :392].view(n, 2, 14, 14), z[:, 392:].view(n, 8, 7, 7)
        for step in reversed(self.level2):
            h = step.inverse(h, labels)
        kept = unsqueeze(h)
        mean, log_spread = self.split_prior(kept).float().chunk(2, 1)
        h = torch.cat([kept, mean + z1 * log_spread.exp()], 1)
        for step in reversed(self.level1):
            h = step.inverse(h, labels)
        h = unsqueeze(h)
        for step in reversed(self.level0):
            h = step.inverse(h, labels)
        return ((torch.sigmoid(h) - ALPHA) / (1 - 2 * ALPHA)).clamp(0, 1)

    def continuous_log_density(self, y: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """log p(y) of continuous pictures y in (0, 1) (nats per picture)."""
        z, logdet = self.flow(y, self._labels(labels, len(y), y.device))
        return _log_normal(z) + logdet

    def log_likelihood(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """log p of the 8-bit pictures in nats, as dequantized flows report it: log p(y) − 784 log 256 for one
        uniform dequantization y (on average a lower bound on the exact 8-bit log-probability). With no class,
        the mean over the classes of p(x | y), each class equally likely."""
        y = self.dequantize(x)
        offset = y[0].numel() * math.log(LEVELS)
        if labels is not None:
            return self.continuous_log_density(y, labels) - offset
        return self.mean_over_classes(lambda c: self.continuous_log_density(y, c), len(y), y.device) - offset

    def loss(self, x, y):
        drop = torch.rand(len(y), device=y.device) < self.p_uncond
        labels = torch.where(drop, torch.full_like(y, self.null_class), y)
        nats = -self.continuous_log_density(self.dequantize(x), labels).mean() + x[0].numel() * math.log(LEVELS)
        bits = nats / (x[0].numel() * math.log(2))
        return bits, {"loss": bits.item(), "bits_per_dim": bits.item()}

    # -- noise, pictures and codes -----------------------------------------------------------------------------
    def noise(self, n, generator=None):
        return torch.randn(n, 784, generator=generator).to(self.device)

    @torch.no_grad()
    def to_noise(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The picture's own noise: each level's middle value, run through the flow."""
        return self.flow(self.dequantize(x, centre=True), self._labels(labels, len(x), x.device))[0]

    @torch.no_grad()
    def from_noise(self, z: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Continuous pictures in [0, 1] from noise (not yet rounded to 8 bits)."""
        return self.unflow(z, self._labels(labels, len(z), z.device))

    def encode(self, x, labels=None):
        return self.to_noise(x, labels)

    def decode(self, z, labels=None):
        return self.quantize(self.from_noise(z, labels))

    @torch.no_grad()
    def reconstruct(self, x, labels=None):
        return self.decode(self.encode(x, labels), labels)

    @torch.no_grad()
    def generate(self, noise, labels=None, generator=None, temperature: float = 1.0, **options):
        """One pass backwards; ``temperature`` below 1 shrinks the noise towards the most likely pictures."""
        return self.decode(noise * temperature, labels)

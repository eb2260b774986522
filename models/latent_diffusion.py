"""Latent diffusion: the same DDPM maths run over the codes of a trained autoencoder.

The autoencoder is frozen; its codes are standardised per dimension
(``latent_mean``, ``latent_std``, measured on the training set). For a vector
code a small MLP predicts the noise; for a grid code (k x 7 x 7, as in Rombach
et al.'s latent diffusion) a small UNet at 7x7 does. Sampling runs the reverse
process in the latent space and decodes the result, so each step works on
16x fewer positions than in pixel space.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .autoencoders import Autoencoder
from .base import unit
from .diffusion import DiffusionBase
from .unet import UNet, timestep_embedding


class LatentDenoiser(nn.Module):
    """eps_theta(z_t, t, y) for vector codes: residual MLP blocks with the embedding added."""

    def __init__(self, latent_dim: int, width: int = 512, depth: int = 4, num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        self.width = width
        self.time_mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.class_emb = nn.Embedding(num_classes + 1, width)
        self.inp = nn.Linear(latent_dim, width)
        self.blocks = nn.ModuleList([
            nn.ModuleDict({"norm": nn.LayerNorm(width), "emb": nn.Linear(width, width),
                           "fc1": nn.Linear(width, 2 * width), "fc2": nn.Linear(2 * width, width),
                           "drop": nn.Dropout(dropout)})
            for _ in range(depth)])
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, latent_dim))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, z: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        emb = F.silu(self.time_mlp(timestep_embedding(t, self.width)) + self.class_emb(labels))
        h = self.inp(z)
        for b in self.blocks:
            u = b["norm"](h) + b["emb"](emb)
            h = h + b["fc2"](b["drop"](F.silu(b["fc1"](u))))
        return self.out(h)


class GridDenoiser(nn.Module):
    """eps_theta for grid codes: unflattens the k*49 numbers to k x 7 x 7 and runs a UNet there."""

    def __init__(self, k: int, num_classes: int = 10, **unet):
        super().__init__()
        self.k = k
        self.unet = UNet(in_channels=k, num_classes=num_classes, **unet)

    def forward(self, z: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.unet(z.view(len(z), self.k, 7, 7), t, labels).flatten(1)


class LatentDiffusion(DiffusionBase):
    """Class-conditional DDPM over the codes of a frozen autoencoder, with guidance."""

    family = "latent-diffusion"
    about = (
        'The same diffusion process, run on the codes of a trained autoencoder instead of on the 784 '
        'pixels, then decoded. Each step is much cheaper; quality is capped by how well the autoencoder '
        'rebuilds pictures.')
    equation = DiffusionBase.equation.replace("x_", "z_")
    #: its pictures come out of the autoencoder's decoder, so showing a state is a network run too
    network_methods = DiffusionBase.network_methods + ("to_images", "state_images", "noise_images", "from_images")
    clip_sample = 5.0       # codes are standardised: on MNIST test codes |z| > 4 in 3 of 100,000 entries

    def __init__(self, autoencoder: dict | None = None, schedule: str = "cosine", T: int = 1000,
                 width: int = 256, depth: int = 4, num_classes: int = 10, p_uncond: float = 0.1,
                 dropout: float = 0.0, unet: Optional[dict] = None):
        """``width``/``depth`` size the MLP used for vector codes; ``unet`` (UNet keyword arguments,
        for example ``{"channels": 64, "channel_mults": [1]}``) the denoiser used for grid codes."""
        super().__init__()
        self._init_diffusion(schedule, T, num_classes, p_uncond)
        self.autoencoder = Autoencoder(**(autoencoder or {"latent_dim": 32}))
        self.autoencoder.requires_grad_(False)
        d = self.autoencoder.latent_dim
        self.register_buffer("latent_mean", torch.zeros(d))
        self.register_buffer("latent_std", torch.ones(d))
        if self.autoencoder.grid:
            unet = {"dropout": dropout, **(unet or {})}
            unet["channel_mults"] = tuple(unet.get("channel_mults", (1,)))
            self.net = GridDenoiser(self.autoencoder.grid, num_classes, **unet)
        elif unet:
            raise ValueError("a UNet denoiser needs a grid autoencoder (autoencoder={'grid': k, ...})")
        else:
            self.net = LatentDenoiser(d, width, depth, num_classes, dropout)

    @property
    def latent_dim(self) -> int:
        return self.autoencoder.latent_dim

    @torch.no_grad()
    def set_base(self, autoencoder: Autoencoder, images: torch.Tensor) -> None:
        """Copy a trained autoencoder in and measure its code statistics on ``images``."""
        self.autoencoder.load_state_dict(autoencoder.autoencoder_state())
        self.autoencoder.eval()
        z = torch.cat([self.autoencoder.encode(images[i:i + 1000].to(self.device))
                       for i in range(0, len(images), 1000)])
        self.latent_mean.copy_(z.mean(0))
        self.latent_std.copy_(z.std(0).clamp(min=1e-3))

    def train(self, mode: bool = True):
        super().train(mode)
        self.autoencoder.eval()     # frozen: stays in inference mode
        return self

    def configure_optimizers(self, lr):
        return [torch.optim.AdamW(self.net.parameters(), lr=lr, weight_decay=0.0)]

    def ema_parameters(self):
        return list(self.net.parameters())

    def noise(self, n, generator=None):
        return torch.randn(n, self.latent_dim, generator=generator).to(self.device)

    @torch.no_grad()
    def from_images(self, images):
        return (self.autoencoder.encode(images) - self.latent_mean) / self.latent_std

    @torch.no_grad()
    def to_images(self, z0):
        return self.autoencoder.decode(z0.float() * self.latent_std + self.latent_mean)

    def state_images(self, z):
        """A noisy code z_t shown through the decoder: what the picture would be if the noise were content."""
        return self.to_images(z)

    def noise_images(self, eps):
        """A noise guess over the code, 4x: a grid code's k 7x7 maps side by side; a flat code in rows of 16 numbers.
        Grey is 0, white +3 and black -3 standard deviations."""
        n, g, eps = len(eps), getattr(self.autoencoder, "grid", 0), eps.float()
        if g:
            tiles = torch.cat(list(eps.reshape(n, g, 7, 7).unbind(1)), dim=-1)
        else:
            tiles = F.pad(eps, (0, -eps.shape[1] % 16)).reshape(n, -1, 16)
        return unit(F.interpolate(tiles[:, None] / 3, scale_factor=4, mode="nearest"))

    def encode(self, x, labels=None):
        return self.from_images(x)

    def decode(self, z, labels=None):
        return self.to_images(z)

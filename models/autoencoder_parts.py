"""The building blocks the autoencoder families share: convolutional and grid encoders and decoders, and the
patch critic that sharpens a decoder."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn


class ConvEncoder(nn.Module):
    """28x28 image (+ optional one-hot label) -> feature vector of size ``out_dim``."""

    def __init__(self, out_dim: int, channels: int = 32, hidden: int = 256, extra: int = 0):
        super().__init__()
        c = channels
        self.conv = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.SiLU(),                 # 28 -> 14
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.SiLU(),             # 14 -> 7
            nn.Conv2d(2 * c, 2 * c, 3, 2, 1), nn.SiLU(),         # 7 -> 4
            nn.Flatten(),
        )
        self.fc = nn.Sequential(nn.Linear(2 * c * 16 + extra, hidden), nn.SiLU(), nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor, extra: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.conv(x)
        if extra is not None:
            h = torch.cat([h, extra], dim=1)
        return self.fc(h)


class ConvDecoder(nn.Module):
    """Latent vector (+ optional one-hot label) -> 28x28 logits."""

    def __init__(self, in_dim: int, channels: int = 32, hidden: int = 256):
        super().__init__()
        c = channels
        self.c = c
        self.fc = nn.Sequential(nn.Linear(in_dim, hidden), nn.SiLU(), nn.Linear(hidden, 2 * c * 16), nn.SiLU())
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * c, 2 * c, 3, 2, 1), nn.SiLU(),   # 4 -> 7
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.SiLU(),       # 7 -> 14
            nn.ConvTranspose2d(c, 1, 4, 2, 1),                      # 14 -> 28 (logits)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(-1, 2 * self.c, 4, 4))


class GridEncoder(nn.Module):
    """28x28 image -> a ``k`` x 7 x 7 grid of codes, flattened to ``k * 49`` numbers.

    A code that keeps the layout of the picture (each cell describes its 4x4 patch) is what real
    latent diffusion uses as its first stage: it rebuilds fine texture that one short vector blurs.
    """

    def __init__(self, k: int, channels: int = 32):
        super().__init__()
        c = channels
        self.conv = nn.Sequential(
            nn.Conv2d(1, c, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.SiLU(),             # 28 -> 14
            nn.Conv2d(2 * c, 2 * c, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(2 * c, 2 * c, 4, 2, 1), nn.SiLU(),         # 14 -> 7
            nn.Conv2d(2 * c, 2 * c, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(2 * c, k, 1), nn.Flatten(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class GridDecoder(nn.Module):
    """Flattened ``k`` x 7 x 7 code grid -> 28x28 logits."""

    def __init__(self, k: int, channels: int = 32):
        super().__init__()
        c = channels
        self.deconv = nn.Sequential(
            nn.Unflatten(1, (k, 7, 7)),
            nn.Conv2d(k, 2 * c, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(2 * c, 2 * c, 3, 1, 1), nn.SiLU(),
            nn.ConvTranspose2d(2 * c, 2 * c, 4, 2, 1), nn.SiLU(),   # 7 -> 14
            nn.Conv2d(2 * c, c, 3, 1, 1), nn.SiLU(),
            nn.ConvTranspose2d(c, c, 4, 2, 1), nn.SiLU(),           # 14 -> 28
            nn.Conv2d(c, 1, 3, 1, 1),                               # logits
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(z)


class PatchDiscriminator(nn.Module):
    """Judges each region of a picture real or rebuilt: logits ``[n, 1, 7, 7]``, one per overlapping patch.

    The critic of Rombach et al.'s first stage (after Isola et al.'s PatchGAN): it punishes the blur a pixel loss
    leaves in textures and edges, one neighbourhood at a time, rather than the picture as a whole.
    """

    def __init__(self, channels: int = 64):
        super().__init__()
        c = channels
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.LeakyReLU(0.2),                                 # 28 -> 14
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.GroupNorm(8, 2 * c), nn.LeakyReLU(0.2),     # 14 -> 7
            nn.Conv2d(2 * c, 2 * c, 3, 1, 1), nn.GroupNorm(8, 2 * c), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 1, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)

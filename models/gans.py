"""DCGAN-style GAN and conditional GAN (projection discriminator).

Images live in [-1, 1] (tanh generator output). The loss is the non-saturating
GAN loss: D maximises log D(x) + log(1 - D(G(z))); G maximises log D(G(z)).
D trains on *detached* fakes, so its step does not push gradients into G.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .base import GenerativeModel, signed, unit


class Generator(nn.Module):
    """z (+ label embedding) -> 7x7 -> 14x14 -> 28x28 image in [-1, 1]."""

    def __init__(self, z_dim: int, channels: int, num_classes: int = 0):
        super().__init__()
        c = channels
        self.c = c
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        in_dim = 2 * z_dim if num_classes else z_dim
        self.fc = nn.Sequential(nn.Linear(in_dim, 4 * c * 49), nn.BatchNorm1d(4 * c * 49), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1), nn.BatchNorm2d(2 * c), nn.ReLU(),   # 14x14
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.BatchNorm2d(c), nn.ReLU(),           # 28x28
            nn.Conv2d(c, 1, 3, 1, 1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], dim=1)
        return self.net(self.fc(z).view(-1, 4 * self.c, 7, 7))


class Discriminator(nn.Module):
    """Image -> realness logit; with classes, a projection term <embed(y), h> (Miyato & Koyama 2018)."""

    def __init__(self, channels: int, num_classes: int = 0):
        super().__init__()
        c = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.LeakyReLU(0.2),                              # 14x14
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2),   # 7x7
            nn.Conv2d(2 * c, 4 * c, 3, 2, 1), nn.BatchNorm2d(4 * c), nn.LeakyReLU(0.2),  # 4x4
            nn.Flatten(),
        )
        self.out = nn.Linear(4 * c * 16, 1)
        self.embed = nn.Embedding(num_classes, 4 * c * 16) if num_classes else None

    def forward(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.features(x)
        logit = self.out(h).squeeze(1)
        if self.embed is not None:
            logit = logit + (self.embed(labels) * h).sum(1)
        return logit


def init_dcgan(m: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) weights, N(1, 0.02) batch-norm scales."""
    if isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class GAN(GenerativeModel):
    """Generator + discriminator; ``conditional=True`` gives the conditional GAN."""

    family = "gan"
    about = (
        'A **generator** turns random numbers into pictures while a **critic** (discriminator) learns '
        'to tell them from real ones; each improves against the other. Blur is easy to spot, so GAN '
        'pictures are **sharp**. Known weaknesses: training can be unstable, and the generator may keep '
        'to a few kinds of picture (**mode collapse**). It has no encoder and no likelihood.')
    equation = (
        '$$\\min_G \\max_D\\; \\mathbb{E}_{x}\\big[\\log D(x)\\big] + \\mathbb{E}_{z}\\big[\\log\\big(1 - '
        "D(G(z))\\big)\\big]$$\n\nThe critic's step uses the generated pictures **detached** from the "
        'generator, so updating the critic does not change the generator; the generator then takes its '
        'own step to raise $\\log D(G(z))$.')

    def __init__(self, z_dim: int = 64, channels: int = 32, conditional: bool = False, num_classes: int = 10):
        super().__init__()
        self.z_dim = self._latent_dim = z_dim
        self._conditional = conditional
        self.num_classes = num_classes
        k = num_classes if conditional else 0
        self.generator = Generator(z_dim, channels, k)
        self.discriminator = Discriminator(channels, k)
        self.apply(init_dcgan)

    def noise(self, n, generator=None):
        return torch.randn(n, self.z_dim, generator=generator).to(self.device)

    @torch.no_grad()
    def generate(self, noise, labels=None, generator=None, **options):
        if self._conditional and labels is None:
            raise ValueError("the conditional GAN needs a class label for each image")
        training = self.generator.training
        self.generator.eval()
        out = unit(self.generator(noise, labels if self._conditional else None).float())
        self.generator.train(training)
        return out

    def configure_optimizers(self, lr):
        betas = (0.5, 0.999)
        return [torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas),
                torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas)]

    def ema_parameters(self):
        return list(self.generator.parameters())

    def train_step(self, x, y, optimizers, autocast):
        opt_g, opt_d = optimizers
        n = len(x)
        y = y if self._conditional else None
        real = signed(x)
        z = torch.randn(n, self.z_dim, device=x.device)
        with autocast():
            fake = self.generator(z, y)
            # discriminator: real -> 1, detached fake -> 0
            d_real = self.discriminator(real, y).float()
            d_fake = self.discriminator(fake.detach(), y).float()
            loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        with autocast():
            # generator: non-saturating loss, -log D(G(z))
            d_gen = self.discriminator(fake, y).float()
            loss_g = F.softplus(-d_gen).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
                "d_real": torch.sigmoid(d_real).mean().item(), "d_fake": torch.sigmoid(d_fake).mean().item()}

    def loss(self, x, y):
        """Both players' losses on a batch without updating (for evaluation)."""
        y = y if self._conditional else None
        z = torch.randn(len(x), self.z_dim, device=x.device)
        fake = self.generator(z, y)
        loss_d = F.softplus(-self.discriminator(signed(x), y)).mean() + F.softplus(self.discriminator(fake, y)).mean()
        loss_g = F.softplus(-self.discriminator(fake, y)).mean()
        return loss_g, {"loss_d": loss_d.item(), "loss_g": loss_g.item()}

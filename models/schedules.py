"""Noise schedules: pure functions returning betas, and ``NoiseSchedule``, which holds betas, alphas and their
cumulative product as buffers for the diffusion models and their samplers (``models/samplers.py``)."""
from __future__ import annotations

import math

import torch
from torch import nn

SCHEDULES = ("linear", "cosine")


# -- noise schedules: pure functions returning tensors -------------------------------
def linear_betas(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Ho et al.'s schedule: betas evenly spaced from 1e-4 to 0.02."""
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def cosine_alpha_bar(u: torch.Tensor, s: float = 0.008) -> torch.Tensor:
    """Nichol & Dhariwal's f(u) = cos^2(((u + s) / (1 + s)) * pi / 2), u = t / T in [0, 1]."""
    return torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2


def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """beta_t = 1 - f((t+1)/T) / f(t/T), capped at ``max_beta``; so abar_t = f((t+1)/T) / f(0)."""
    u = torch.arange(T + 1, dtype=torch.float64) / T
    f = cosine_alpha_bar(u, s)
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta)


def make_betas(schedule: str, T: int) -> torch.Tensor:
    if schedule == "linear":
        return linear_betas(T)
    if schedule == "cosine":
        return cosine_betas(T)
    raise ValueError(f"unknown noise schedule {schedule!r}; choose one of {SCHEDULES}")


class NoiseSchedule(nn.Module):
    """betas, alphas and alphas_cumprod (abar) as buffers, indexed by t = 0..T-1."""

    def __init__(self, schedule: str = "cosine", T: int = 1000):
        super().__init__()
        self.name, self.T = schedule, T
        betas = make_betas(schedule, T)
        alphas_cumprod = torch.cumprod(1 - betas, dim=0)
        self.register_buffer("betas", betas.float(), persistent=False)
        self.register_buffer("alphas", (1 - betas).float(), persistent=False)
        self.register_buffer("alphas_cumprod", alphas_cumprod.float(), persistent=False)

    def snr(self) -> torch.Tensor:
        """Signal-to-noise ratio abar_t / (1 - abar_t)."""
        return self.alphas_cumprod / (1 - self.alphas_cumprod)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps."""
        ab = self.alphas_cumprod[t].view(-1, *([1] * (x0.dim() - 1)))
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def posterior_weights(self) -> torch.Tensor:
        """w_s = beta_s^2 / (2 btilde_s alpha_s (1 - abar_s)) for s = 1..T-1 (w_0 = 0), with btilde_s = beta_s (1 -
        abar_{s-1}) / (1 - abar_s), the variance of q(x_{s-1} | x_s, x_0): the KL between that posterior and a
        model step of the same variance whose mean uses eps_theta is w_s ||eps - eps_theta||^2 (Ho et al. 2020)."""
        betas = make_betas(self.name, self.T)
        abar = torch.cumprod(1 - betas, dim=0)
        prev = torch.cat([torch.ones(1, dtype=abar.dtype), abar[:-1]])
        btilde = betas * (1 - prev) / (1 - abar)
        w = betas ** 2 / (2 * btilde.clamp(min=1e-30) * (1 - betas) * (1 - abar))
        w[0] = 0.0
        return w

    def prior_kl(self, x0: torch.Tensor) -> torch.Tensor:
        """KL(q(x_{T-1} | x_0) || N(0, I)) per picture (nats): what is left of the picture at the last step."""
        ab = self.alphas_cumprod[-1].double()
        x = x0.double().flatten(1)
        return 0.5 * (ab * x ** 2 + (1 - ab) - 1 - torch.log(1 - ab)).sum(1)


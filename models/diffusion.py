"""Denoising diffusion (DDPM, Ho et al. 2020) in pixel space, with DDIM sampling
(Song et al. 2021) and classifier-free guidance (Ho & Salimans 2022).

Forward process: q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I), t = 0..T-1.
The network predicts the noise eps; the loss is ||eps - eps_theta(x_t, t, y)||^2.
One network draws both with and without a class: labels are dropped to an
extra *null* class (index ``num_classes``) with probability ``p_uncond`` in training.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .base import GenerativeModel, ProgressFn, signed, unit

SCHEDULES = ("linear", "cosine")
SAMPLERS = ("ddpm", "ddim", "dpm++2m")


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


# -- samplers: set_timesteps(n) + step(eps, t, x, eta, generator) ---------------------
class Sampler:
    """Walks a descending subset of timesteps T-1 .. 0 of a schedule."""

    def __init__(self, schedule: NoiseSchedule, clip_sample: Optional[float] = 1.0):
        self.schedule = schedule
        self.clip_sample = clip_sample      # clamp predicted x0 to [-c, c]; None: no clamp
        self.set_timesteps(schedule.T)

    def set_timesteps(self, n: int, spacing: str = "linspace") -> None:
        """Use ``n`` timesteps from T-1 down: ``"linspace"`` spreads them evenly down to 0 (both ends included);
        ``"trailing"`` (diffusers' name) takes T-1, T-1-T/n, ..., T/n-1, so no network run is spent at t = 0,
        where the picture is already clean, and the grid for n steps is every other point of the grid for 2n."""
        T = self.schedule.T
        if not 1 <= n <= T:
            raise ValueError(f"steps must lie in 1..{T}, got {n}")
        if spacing == "trailing":
            ts = (torch.arange(T, 0, -T / n, dtype=torch.float64).round() - 1).long()[:n]
        elif spacing == "linspace":
            ts = torch.linspace(T - 1, 0, n).round().long() if n > 1 else torch.tensor([T - 1])
        else:
            raise ValueError(f"timestep spacing must be 'linspace' or 'trailing', got {spacing!r}")
        self.timesteps = torch.unique_consecutive(ts)
        prev = torch.cat([self.timesteps[1:], torch.tensor([-1])])
        self._prev = dict(zip(self.timesteps.tolist(), prev.tolist()))

    def _abar(self, t: int) -> torch.Tensor:
        ac = self.schedule.alphas_cumprod
        return ac[t] if t >= 0 else torch.ones((), device=ac.device)

    def predict_x0(self, eps: torch.Tensor, t: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t); clipping re-derives eps to match.

        Near t = T-1, sqrt(abar_t) is tiny (5e-5 for the cosine schedule), so an error in eps
        is magnified thousands of times in x0: the clamp keeps the first steps in range.
        """
        ab = self._abar(t)
        x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
        if self.clip_sample is not None:
            x0 = x0.clamp(-self.clip_sample, self.clip_sample)
            eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()
        return x0, eps

    @staticmethod
    def _noise(x: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
        return torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)

    def step(self, eps, t, x, eta=None, generator=None):
        raise NotImplementedError


class DDPMSampler(Sampler):
    """Ancestral sampling from the posterior q(x_{t'} | x_t, x_0) (Ho et al. eq. 7), t' the previous step."""

    def step(self, eps: torch.Tensor, t: int, x: torch.Tensor, eta: Optional[float] = None,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
        t_prev = self._prev[int(t)]
        ab, ab_prev = self._abar(t), self._abar(t_prev)
        beta = 1 - ab / ab_prev                        # the step's effective beta_t
        x0, _ = self.predict_x0(eps, t, x)
        # posterior mean: sqrt(abar') beta / (1 - abar) x0 + sqrt(1 - beta) (1 - abar') / (1 - abar) x_t
        mean = (ab_prev.sqrt() * beta / (1 - ab)) * x0 + ((1 - beta).sqrt() * (1 - ab_prev) / (1 - ab)) * x
        if t_prev < 0:
            return mean
        var = beta * (1 - ab_prev) / (1 - ab)          # posterior variance, beta-tilde
        return mean + var.sqrt() * self._noise(x, generator)


class DDIMSampler(Sampler):
    """DDIM: deterministic for eta = 0; eta = 1 over every step is DDPM again."""

    def step(self, eps: torch.Tensor, t: int, x: torch.Tensor, eta: Optional[float] = 0.0,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
        eta = 0.0 if eta is None else float(eta)
        t_prev = self._prev[int(t)]
        ab, ab_prev = self._abar(t), self._abar(t_prev)
        x0, eps = self.predict_x0(eps, t, x)
        sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()
        x_prev = ab_prev.sqrt() * x0 + (1 - ab_prev - sigma ** 2).clamp(min=0).sqrt() * eps
        if eta > 0 and t_prev >= 0:
            x_prev = x_prev + sigma * self._noise(x, generator)
        return x_prev


class DPMSolverSampler(Sampler):
    """DPM-Solver++(2M) (Lu et al. 2022): a second-order multistep solver of the probability-flow ODE, on the
    network's guess of the clean picture x0. With lambda = log(alpha / sigma) (alpha = sqrt(abar),
    sigma = sqrt(1 - abar)) and h = lambda_t - lambda_s, one step from s to t is

        x_t = (sigma_t / sigma_s) x_s - alpha_t (e^{-h} - 1) D,   D = (1 + 1/(2r)) x0_s - 1/(2r) x0_{s'},

    where s' is the step before s and r = (lambda_s - lambda_{s'}) / h. The first step (no history) takes D = x0_s:
    that is DDIM, the first-order solver; the last, to the clean picture (sigma = 0), lands on x0_s itself. The history lives in
    the solver and is cleared by ``set_timesteps``."""

    def set_timesteps(self, n: int, spacing: str = "linspace") -> None:
        super().set_timesteps(n, spacing)
        self._history: Optional[tuple[torch.Tensor, torch.Tensor]] = None     # (lambda, x0) of the step before

    def _lambda(self, ab: torch.Tensor) -> torch.Tensor:
        ab = ab.double()
        return 0.5 * (torch.log(ab) - torch.log1p(-ab))

    def step(self, eps: torch.Tensor, t: int, x: torch.Tensor, eta: Optional[float] = None,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
        t_prev = self._prev[int(t)]
        ab, ab_prev = self._abar(t), self._abar(t_prev)
        x0, _ = self.predict_x0(eps, t, x)
        lam_s = self._lambda(ab)
        history, self._history = self._history, (lam_s, x0)
        if t_prev < 0:                      # sigma_t = 0: the ODE's end point is the guess itself
            return x0
        lam_t = self._lambda(ab_prev)
        h = lam_t - lam_s
        d = x0
        if history is not None and t_prev > 0:      # the last noisy step stays first order (as diffusers does)
            lam_p, x0_p = history
            r = (lam_s - lam_p) / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_p
        ratio = ((1 - ab_prev) / (1 - ab)).double().sqrt()
        out = ratio * x.double() - ab_prev.double().sqrt() * torch.expm1(-h) * d.double()
        return out.to(x.dtype)


def make_sampler(name: str, schedule: NoiseSchedule, clip_sample: Optional[float] = 1.0) -> Sampler:
    classes = {"ddpm": DDPMSampler, "ddim": DDIMSampler, "dpm++2m": DPMSolverSampler}
    if name not in classes:
        raise ValueError(f"unknown sampler {name!r}; choose one of {SAMPLERS}")
    return classes[name](schedule, clip_sample)


# -- the shared diffusion model ---------------------------------------------------------
class DiffusionBase(GenerativeModel):
    """Everything pixel and latent diffusion share: schedule, loss, guidance, the sampling loop.

    Subclasses provide ``self.net(x_t, t, labels)`` predicting eps, ``self.noise``,
    ``to_images(x_0)`` and ``from_images(images)``.
    """

    family = "diffusion"
    clip_sample: Optional[float] = 1.0       # images live in [-1, 1]
    timestep_spacing: str = "linspace"       # how ``steps`` are spread over 0..T-1 (see ``Sampler.set_timesteps``)
    default_sampler = {"sampler": "ddim", "steps": 50, "eta": 0.0, "guidance": 2.0}

    def _init_diffusion(self, schedule: str, T: int, num_classes: int, p_uncond: float) -> None:
        self.schedule = NoiseSchedule(schedule, T)
        self.num_classes = num_classes
        self.null_class = num_classes
        self.p_uncond = p_uncond

    _conditional = True     # one network: with a class, or with the null class for none

    @property
    def requires_labels(self) -> bool:
        return False

    @property
    def T(self) -> int:
        return self.schedule.T

    def network_evaluations(self, sampler="ddim", steps=None, guidance=None, labels_given=True, **_) -> int:
        steps = self.T if sampler == "ddpm" and steps is None else (steps or self.default_sampler["steps"])
        guidance = self.default_sampler["guidance"] if guidance is None else guidance
        guided = labels_given and guidance not in (0.0, 1.0)
        return steps * (2 if guided else 1)

    def to_images(self, x0: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def state_images(self, x: torch.Tensor) -> torch.Tensor:
        """A noisy state x_t as a picture to show: pixel models show it as it is (clamped to the image range)."""
        return unit(x.float())

    def from_images(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, x, y):
        x0 = self.from_images(x)
        n = len(x0)
        t = torch.randint(0, self.T, (n,), device=x0.device)
        noise = torch.randn_like(x0)
        drop = torch.rand(n, device=x0.device) < self.p_uncond       # label dropout for guidance
        labels = torch.where(drop, torch.full_like(y, self.null_class), y)
        eps = self.net(self.schedule.q_sample(x0, t, noise), t, labels)
        loss = F.mse_loss(eps.float(), noise)
        return loss, {"loss": loss.item()}

    def predict_eps(self, x: torch.Tensor, t: int, labels: Optional[torch.Tensor], guidance: float) -> torch.Tensor:
        """Classifier-free guidance: eps_u + s (eps_c - eps_u), in one doubled batch."""
        n = len(x)
        tt = torch.full((n,), int(t), device=x.device, dtype=torch.long)
        null = torch.full((n,), self.null_class, device=x.device, dtype=torch.long)
        if labels is None or guidance == 0:
            return self.net(x, tt, null).float()
        if guidance == 1:
            return self.net(x, tt, labels).float()
        eps_c, eps_u = self.net(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([labels, null])).float().chunk(2)
        return eps_u + guidance * (eps_c - eps_u)

    @torch.no_grad()
    def denoise(self, noise: torch.Tensor, labels: Optional[torch.Tensor] = None, sampler: str = "ddim",
                steps: Optional[int] = None, eta: Optional[float] = None, guidance: Optional[float] = None,
                generator: Optional[torch.Generator] = None, progress: ProgressFn = None,
                frames: int = 0) -> tuple[torch.Tensor, list[tuple[int, torch.Tensor, torch.Tensor]]]:
        """Run the reverse process from ``noise`` = x_{T-1}.

        Returns the final x_0 (model space) and, if ``frames`` > 0, about that many
        ``(t, x_t, predicted x_0)`` snapshots along the way for display.
        """
        d = self.default_sampler
        guidance = d["guidance"] if guidance is None else float(guidance)
        steps = (self.T if sampler == "ddpm" else d["steps"]) if steps is None else int(steps)
        eta = (1.0 if sampler == "ddpm" else d["eta"]) if eta is None else float(eta)
        s = make_sampler(sampler, self.schedule, self.clip_sample)
        s.set_timesteps(steps, self.timestep_spacing)
        x = noise
        keep = set(torch.linspace(0, len(s.timesteps) - 1, frames).round().long().tolist()) if frames else set()
        snaps = []
        for i, t in enumerate(s.timesteps.tolist()):
            eps = self.predict_eps(x, t, labels, guidance)
            if i in keep:
                snaps.append((t, x.clone(), s.predict_x0(eps, t, x)[0]))
            x = s.step(eps, t, x, eta=eta, generator=generator)
            if progress is not None:
                progress(i + 1, len(s.timesteps))
        return x, snaps

    @torch.no_grad()
    def generate(self, noise, labels=None, generator=None, **options):
        x0, _ = self.denoise(noise, labels, generator=generator, **options)
        return self.to_images(x0)


# -- the pixel-space UNet -------------------------------------------------------------------
def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (Vaswani et al.; as in DDPM)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * c_out)            # scale and shift
        self.norm2 = nn.GroupNorm(8, c_out)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return h + self.skip(x)


class SelfAttention(nn.Module):
    def __init__(self, c: int, heads: int = 4):
        super().__init__()
        self.norm = nn.GroupNorm(8, c)
        self.attn = nn.MultiheadAttention(c, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.norm(x).flatten(2).transpose(1, 2)
        out, _ = self.attn(q, q, q, need_weights=False)
        return x + out.transpose(1, 2).view(b, c, h, w)


class UNet(nn.Module):
    """Small UNet for 28x28: resolutions 28 -> 14 -> 7, attention at 7x7 in the middle.
    (Latent diffusion runs one at a single 7x7 resolution over a grid of ``in_channels`` codes.)

    eps_theta(x_t, t, y): the time embedding plus a class embedding (``num_classes`` + 1
    entries, the last one the null class) conditions every residual block. With
    ``guidance_input`` a third embedding, of the guidance strength w, is added (a
    guidance-distilled student, Meng et al. 2023); it starts at zero, so a student
    copied from its teacher first answers exactly as the teacher does with a class.
    """

    #: sinusoidal embedding of w * GUIDANCE_SCALE: strengths 0..5 then span frequencies as timesteps 0..1000 do
    GUIDANCE_SCALE = 200.0

    def __init__(self, channels: int = 32, channel_mults: tuple = (1, 2, 2), num_res_blocks: int = 2,
                 num_classes: int = 10, dropout: float = 0.1, in_channels: int = 1, guidance_input: bool = False):
        super().__init__()
        c = channels
        emb = 4 * c
        self.c = c
        self.time_mlp = nn.Sequential(nn.Linear(c, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.class_emb = nn.Embedding(num_classes + 1, emb)
        self.guidance_mlp = None
        if guidance_input:
            self.guidance_mlp = nn.Sequential(nn.Linear(c, emb), nn.SiLU(), nn.Linear(emb, emb))
            nn.init.zeros_(self.guidance_mlp[-1].weight)
            nn.init.zeros_(self.guidance_mlp[-1].bias)
        self.conv_in = nn.Conv2d(in_channels, c, 3, padding=1)
        chans = [c * m for m in channel_mults]
        self.down = nn.ModuleList()
        skips = [c]
        cur = c
        for i, ch in enumerate(chans):
            for _ in range(num_res_blocks):
                self.down.append(ResBlock(cur, ch, emb, dropout))
                cur = ch
                skips.append(cur)
            if i < len(chans) - 1:
                self.down.append(nn.Conv2d(cur, cur, 3, stride=2, padding=1))
                skips.append(cur)
        self.mid = nn.ModuleList([ResBlock(cur, cur, emb, dropout), SelfAttention(cur), ResBlock(cur, cur, emb, dropout)])
        self.up = nn.ModuleList()
        for i, ch in reversed(list(enumerate(chans))):
            for _ in range(num_res_blocks + 1):
                self.up.append(ResBlock(cur + skips.pop(), ch, emb, dropout))
                cur = ch
            if i > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cur, cur, 3, padding=1)))
        self.out = nn.Sequential(nn.GroupNorm(8, cur), nn.SiLU(), nn.Conv2d(cur, in_channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor,
                guidance: Optional[torch.Tensor] = None) -> torch.Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.c)) + self.class_emb(labels)
        if self.guidance_mlp is not None:
            if guidance is None:
                raise ValueError("this network takes the guidance strength as an input")
            emb = emb + self.guidance_mlp(timestep_embedding(guidance * self.GUIDANCE_SCALE, self.c))
        h = self.conv_in(x)
        hs = [h]
        for layer in self.down:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
            hs.append(h)
        for layer in self.mid:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, hs.pop()], dim=1), emb)
            else:
                h = layer(h)
        return self.out(h)


class DDPM(DiffusionBase):
    """Pixel-space class-conditional DDPM with a null class for guidance-free sampling."""

    def __init__(self, schedule: str = "cosine", T: int = 1000, channels: int = 32,
                 channel_mults: tuple = (1, 2, 2), num_res_blocks: int = 2, num_classes: int = 10,
                 p_uncond: float = 0.1, dropout: float = 0.1):
        super().__init__()
        self._init_diffusion(schedule, T, num_classes, p_uncond)
        self.net = UNet(channels, tuple(channel_mults), num_res_blocks, num_classes, dropout)

    def noise(self, n, generator=None):
        return torch.randn(n, 1, 28, 28, generator=generator).to(self.device)

    def to_images(self, x0):
        return unit(x0.float())

    def from_images(self, images):
        return signed(images)

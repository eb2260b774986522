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
from .samplers import SAMPLERS, SamplerSettings, make_sampler
from .schedules import NoiseSchedule
from .unet import UNet


# -- the shared diffusion model ---------------------------------------------------------
class DiffusionBase(GenerativeModel):
    """Everything pixel and latent diffusion share: schedule, loss, guidance, the sampling loop.

    Subclasses provide ``self.net(x_t, t, labels)`` predicting eps, ``self.noise``,
    ``to_images(x_0)`` and ``from_images(images)``.
    """

    family = "diffusion"
    about = (
        'Training adds Gaussian noise to pictures and teaches a network to predict that noise. Drawing '
        'starts from pure noise and removes it step by step. Samples are **sharp and varied**, but each '
        'one costs many network runs (1,000 with DDPM, 20–50 with DDIM). A null class lets the same '
        'network draw with or without a class (classifier-free guidance).')
    equation = (
        '$$q(x_t \\mid x_0) = \\mathcal{N}\\big(\\sqrt{\\bar\\alpha_t}\\,x_0,\\ (1 - '
        '\\bar\\alpha_t)\\,I\\big),\\qquad\\mathcal{L} = \\mathbb{E}_{x_0, t, \\epsilon}\\big\\|\\epsilon - '
        '\\epsilon_\\theta(\\sqrt{\\bar\\alpha_t}x_0 + \\sqrt{1-\\bar\\alpha_t}\\,\\epsilon,\\ t,\\ '
        'y)\\big\\|^2$$\n\nClassifier-free guidance with strength $s$: $$\\hat\\epsilon = '
        '\\epsilon_\\theta(x_t, t, \\varnothing) + s\\,\\big(\\epsilon_\\theta(x_t, t, y) - '
        '\\epsilon_\\theta(x_t, t, \\varnothing)\\big)$$')
    network_methods = GenerativeModel.network_methods + ("denoise", "guidance_terms", "predict_eps")
    samplers = SAMPLERS
    step_range = (2, 1000)
    guidance_range = (0.0, 10.0)
    teaches = "Removing noise step by step draws sharp, varied pictures, at the cost of many network runs."
    clip_sample: Optional[float] = 1.0       # images live in [-1, 1]
    timestep_spacing: str = "linspace"       # how ``steps`` are spread over 0..T-1 (see ``Sampler.set_timesteps``)
    #: what the model draws with when told nothing: DDIM 50 steps following the class plainly. The app's settings,
    #: tuned per dataset, are the registry's (``genzoo.registry.sampler_settings``)
    default_sampler = SamplerSettings()

    def _init_diffusion(self, schedule: str, T: int, num_classes: int, p_uncond: float) -> None:
        self.schedule = NoiseSchedule(schedule, T)
        self.num_classes = num_classes
        self.null_class = num_classes
        self.p_uncond = p_uncond

    _conditional = True     # one network: with a class, or with the null class for none

    @property
    def requires_labels(self) -> bool:
        return False

    def plain(self, options: dict) -> dict:
        """Guidance 1: each class's own model, with no extra push (and so one network run a step)."""
        return {**options, "guidance": 1.0, "guidance_interval": None}

    @property
    def T(self) -> int:
        return self.schedule.T

    def network_evaluations(self, sampler="ddim", steps=None, guidance=None, labels_given=True,
                            guidance_interval=None, **_) -> int:
        d = self.default_sampler
        steps = (self.T if sampler == "ddpm" else d.steps or self.T) if steps is None else steps
        guidance = d.guidance if guidance is None else guidance
        if not labels_given or guidance in (0.0, 1.0):
            return steps
        s = make_sampler(sampler, self.schedule, self.clip_sample)
        s.set_timesteps(steps, self.timestep_spacing)
        return steps + sum(self.guided_at(t, guidance_interval) for t in s.timesteps.tolist())

    def guided_at(self, t: int, interval: Optional[tuple[float, float]]) -> bool:
        """Whether guidance applies at timestep t: always, or where the noise level sigma_t = sqrt((1 - abar_t) /
        abar_t) lies in ``interval`` = (low, high] (Kynkäänniemi et al. 2024, "Applying guidance in a limited
        interval"). Outside it the model follows the class plainly: one network run instead of two."""
        if interval is None:
            return True
        abar = float(self.schedule.alphas_cumprod[int(t)])
        sigma = ((1 - abar) / abar) ** 0.5
        return float(interval[0]) < sigma <= float(interval[1])

    def to_images(self, x0: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def state_images(self, x: torch.Tensor) -> torch.Tensor:
        """A noisy state x_t as a picture to show: pixel models show it as it is (clamped to the image range)."""
        return unit(x.float())

    def noise_images(self, eps: torch.Tensor) -> torch.Tensor:
        """A noise guess as a picture: grey is 0, white +3 and black -3 standard deviations."""
        return unit(eps.float() / 3)

    #: whether the guided noise guess is the mix eps_u + s (eps_c - eps_u) of two answers that can be shown apart
    #: (a guidance-distilled model takes s as an input and gives one answer)
    guidance_parts = True

    def guidance_terms(self, x: torch.Tensor, t: int, labels: torch.Tensor, guidance: float
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """At x_t: the noise guessed without the class (eps_u), with it (eps_c), and their guided mix."""
        if not self.guidance_parts:
            raise ValueError(f"{type(self).__name__} takes the guidance strength as an input: its answer has no "
                             f"separate class and no-class parts")
        eps_u, eps_c = self.predict_eps(x, t, None, 0.0), self.predict_eps(x, t, labels, 1.0)
        return eps_u, eps_c, eps_u + guidance * (eps_c - eps_u)

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
        tt = torch.full((len(x),), int(t), device=x.device, dtype=torch.long)
        return guided(self.net, x, tt, labels, guidance, self.null_class)

    @torch.no_grad()
    def denoise(self, noise: torch.Tensor, labels: Optional[torch.Tensor] = None, sampler: str = "ddim",
                steps: Optional[int] = None, eta: Optional[float] = None, guidance: Optional[float] = None,
                generator: Optional[torch.Generator] = None, progress: ProgressFn = None,
                frames: int = 0, guidance_interval: Optional[tuple[float, float]] = None
                ) -> tuple[torch.Tensor, list[tuple[int, torch.Tensor, torch.Tensor]]]:
        """Run the reverse process from ``noise`` = x_{T-1}, guided at every step or only where the noise level
        lies in ``guidance_interval`` (see ``guided_at``).

        Returns the final x_0 (model space) and, if ``frames`` > 0, about that many
        ``(t, x_t, predicted x_0)`` snapshots along the way for display.
        """
        d = self.default_sampler
        guidance = d.guidance if guidance is None else float(guidance)
        steps = (self.T if sampler == "ddpm" else d.steps or self.T) if steps is None else int(steps)
        eta = (1.0 if sampler == "ddpm" else d.eta) if eta is None else float(eta)
        s = make_sampler(sampler, self.schedule, self.clip_sample)
        s.set_timesteps(steps, self.timestep_spacing)
        x = noise
        keep = set(torch.linspace(0, len(s.timesteps) - 1, frames).round().long().tolist()) if frames else set()
        snaps = []
        for i, t in enumerate(s.timesteps.tolist()):
            w = guidance if guidance == 0 or self.guided_at(t, guidance_interval) else 1.0
            eps = self.predict_eps(x, t, labels, w)
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


def guided(net: nn.Module, x: torch.Tensor, tt: torch.Tensor, labels: Optional[torch.Tensor], guidance: float,
           null_class: int) -> torch.Tensor:
    """Classifier-free guidance of a network answering ``net(x, t, labels)`` (a noise or a velocity): without the
    class (no labels, or guidance 0: the null class), the class plainly (guidance 1: one run), else u + s (c - u)
    from one doubled batch."""
    null = torch.full((len(x),), null_class, device=x.device, dtype=torch.long)
    if labels is None or guidance == 0:
        return net(x, tt, null).float()
    if guidance == 1:
        return net(x, tt, labels).float()
    c, u = net(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([labels, null])).float().chunk(2)
    return u + guidance * (c - u)


def discretized_gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, std: float) -> torch.Tensor:
    """log p of 8-bit pictures x (in [-1, 1]) when each pixel's level takes the mass N(mean, std^2) puts on its bin
    of width 2/255 (the end bins reach to -inf and +inf), summed per picture (nats)."""
    normal = torch.distributions.Normal(mean.double(), std)
    x = x.double()
    upper = torch.where(x > 1 - 1e-3, torch.ones_like(x), normal.cdf(x + 1 / 255))
    lower = torch.where(x < -1 + 1e-3, torch.zeros_like(x), normal.cdf(x - 1 / 255))
    return (upper - lower).clamp(min=1e-12).log().flatten(1).sum(1)


class DDPM(DiffusionBase):
    """Pixel-space class-conditional DDPM with a null class for guidance-free sampling."""

    path_sampler = "ddim"           # its probability-flow path, walked in DDIM's deterministic steps
    likelihood = "bound"            # the variational bound of Ho et al. (2020), estimated at random steps
    likelihood_runs = 51            # 50 steps and the decoder

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None, steps: int = 50,
                       generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """The variational lower bound on log p of the 8-bit pictures in nats: -(L_prior + sum over steps of the KL
        between the true and the model's step back + L_decoder), the sum over the T - 1 steps estimated, without
        bias, from ``steps`` steps spread evenly at random over them (one random offset a picture). Model steps use
        the posterior's variance; the decoder (step 0) gives each level the mass of N(mean, beta_0) on its bin. No
        class: its own no-class answer."""
        x0 = signed(x)
        n, dev = len(x0), x0.device
        labels = torch.full((n,), self.null_class, device=dev, dtype=torch.long) if labels is None else labels
        w, T = self.schedule.posterior_weights().to(dev), self.T
        offset = torch.rand(n, generator=generator).to(dev)
        total = -self.schedule.prior_kl(x0).to(dev)
        for k in range(steps):                                   # stratified: one step in each slice of 1..T-1
            s = (1 + ((k + offset) / steps * (T - 1)).long()).clamp(max=T - 1)
            eps = torch.randn(x0.shape, generator=generator).to(dev)
            err = (eps - self.net(self.schedule.q_sample(x0, s, eps), s, labels).float()).double()
            total -= (T - 1) / steps * w[s] * err.pow(2).flatten(1).sum(1)
        s = torch.zeros(n, device=dev, dtype=torch.long)
        eps = torch.randn(x0.shape, generator=generator).to(dev)
        xs = self.schedule.q_sample(x0, s, eps)
        a, ab, b = (float(v[0]) for v in (self.schedule.alphas, self.schedule.alphas_cumprod, self.schedule.betas))
        mean = (xs - b / math.sqrt(1 - ab) * self.net(xs, s, labels).float()) / math.sqrt(a)
        return total + discretized_gaussian_log_prob(x0, mean, math.sqrt(b))

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

"""Flow matching on the straight path (rectified flow: Liu, Gong & Liu 2023; Lipman et al. 2023), the objective that
trains today's large image models (Stable Diffusion 3, FLUX).

A picture x_0 and a noise sample eps are joined by a straight line, x_t = (1 - t) x_0 + t eps, t in [0, 1]. Along it
the picture moves at the constant velocity v = eps - x_0. The network learns the velocity field:
||v_theta(x_t, t, y) - (eps - x_0)||^2. Drawing starts from noise at t = 1 and follows dx/dt = v_theta back to t = 0,
with Euler steps or Heun's second-order steps. The learned paths are nearly straight, so few steps suffice.

Same UNet as the pixel DDPM (time fed as 1000 t), class-conditional with a null class for classifier-free guidance:
v = v_u + s (v_c - v_u).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from .base import GenerativeModel, ProgressFn, signed, unit
from .diffusion import guided
from .unet import UNet
from .samplers import SamplerSettings, register_sampler

register_sampler("euler", "Euler", "Euler", "one straight step along the velocity at a time")
register_sampler("heun", "Heun", "Heun", "a step, then a correction with the velocity where it lands (second order)")

#: times are fed to the UNet on the DDPM's scale (0..1000), where its sinusoidal embedding was designed to work
TIME_SCALE = 1000.0


class FlowMatching(GenerativeModel):
    """Class-conditional rectified flow in pixel space."""

    _conditional = True             # told a class (a null class draws without one)

    family = "flow-matching"
    network_methods = GenerativeModel.network_methods + ("denoise", "guidance_terms", "velocity", "log_likelihood")
    samplers = ("euler", "heun")
    step_range = (1, 200)
    default_sampler = SamplerSettings("heun", 5, guidance=1.0)
    guidance_parts = True
    path_sampler = "euler"          # the path itself, in small straight steps
    predicts = ("v", "the velocity")
    likelihood = "ode"              # exact in principle: its ODE carries each picture to noise (``log_likelihood``)
    #: steps of Heun's method that carry a picture to noise when measuring its likelihood
    likelihood_steps = 64
    likelihood_runs = 4 * likelihood_steps      # Heun: two velocities a step, each with a backward pass
    about = ("Joins each picture to a noise sample by a **straight line** and teaches a network the velocity that "
             "moves a point along it. Drawing starts from noise and follows the learned velocity back to a picture. "
             "The paths it learns are nearly straight, so a few large steps land close to where many small ones "
             "would: **few network runs**, with the quality of diffusion. It trains today's large image models.")
    equation = (r"$$x_t = (1-t)\,x_0 + t\,\epsilon,\qquad \mathcal{L} = \mathbb{E}_{x_0,\epsilon,t}\big\|"
                r"v_\theta(x_t, t, y) - (\epsilon - x_0)\big\|^2,\qquad \frac{dx}{dt} = v_\theta(x_t, t, y)$$"
                "\n\nDrawing runs the last equation from $t = 1$ (noise) to $t = 0$ (a picture).")
    teaches = "Straight paths need few steps."

    def __init__(self, channels: int = 32, channel_mults: tuple = (1, 2, 2), num_res_blocks: int = 2,
                 num_classes: int = 10, p_uncond: float = 0.1, dropout: float = 0.1):
        super().__init__()
        self.num_classes, self.null_class, self.p_uncond = num_classes, num_classes, p_uncond
        self.net = UNet(channels, tuple(channel_mults), num_res_blocks, num_classes, dropout)

    # -- training ----------------------------------------------------------------------------------------------
    def loss(self, x, y):
        x0 = signed(x)
        n = len(x0)
        t = torch.rand(n, device=x0.device)
        eps = torch.randn_like(x0)
        xt = (1 - t.view(-1, 1, 1, 1)) * x0 + t.view(-1, 1, 1, 1) * eps
        drop = torch.rand(n, device=x0.device) < self.p_uncond       # label dropout for guidance
        labels = torch.where(drop, torch.full_like(y, self.null_class), y)
        v = self.net(xt, t * TIME_SCALE, labels)
        loss = F.mse_loss(v.float(), eps - x0)
        return loss, {"loss": loss.item()}

    # -- the velocity field --------------------------------------------------------------------------------------
    def velocity(self, x: torch.Tensor, t: float, labels: Optional[torch.Tensor], guidance: float) -> torch.Tensor:
        """v at time ``t`` (0 = picture, 1 = noise), guided with strength ``guidance`` (0: no class; 1: the class
        plainly, one network run; else both runs mixed)."""
        tt = torch.full((len(x),), float(t) * TIME_SCALE, device=x.device)
        return guided(self.net, x, tt, labels, guidance, self.null_class)

    def guidance_terms(self, x: torch.Tensor, t: int, labels: torch.Tensor, guidance: float
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """At x_t (``t`` on the 0..999 scale the views use): the velocity without the class, with it, and their
        guided mix."""
        v_u, v_c = self.velocity(x, t / TIME_SCALE, None, 0.0), self.velocity(x, t / TIME_SCALE, labels, 1.0)
        return v_u, v_c, v_u + guidance * (v_c - v_u)

    # -- drawing -------------------------------------------------------------------------------------------------
    def times(self, steps: int) -> torch.Tensor:
        """The time grid of a drawing: 1 (noise) down to 0 (the picture) in ``steps`` equal steps."""
        return torch.linspace(1.0, 0.0, int(steps) + 1)

    def network_evaluations(self, sampler: str = "heun", steps: Optional[int] = None, guidance: Optional[float] = None,
                            labels_given: bool = True, **_) -> int:
        steps = self.default_sampler.steps if steps is None else int(steps)
        guidance = self.default_sampler.guidance if guidance is None else guidance
        per_step = 2 if sampler == "heun" else 1
        runs = per_step * steps - (1 if sampler == "heun" else 0)        # Heun's last step is an Euler step
        return runs * (1 if not labels_given or guidance in (0.0, 1.0) else 2)

    @torch.no_grad()
    def denoise(self, noise: torch.Tensor, labels: Optional[torch.Tensor] = None, sampler: str = "heun",
                steps: Optional[int] = None, eta: Optional[float] = None, guidance: Optional[float] = None,
                generator: Optional[torch.Generator] = None, progress: ProgressFn = None, frames: int = 0,
                guidance_interval: Optional[tuple[float, float]] = None
                ) -> tuple[torch.Tensor, list[tuple[int, torch.Tensor, torch.Tensor]]]:
        """Follow the velocity from ``noise`` (t = 1) to t = 0. Returns the picture (model space, [-1, 1]) and, with
        ``frames``, about that many ``(t on 0..999, x_t, the picture it points at, x_t - t v)`` snapshots. ``eta``
        and ``guidance_interval`` belong to the diffusion samplers; a flow has no use for them."""
        if sampler not in self.samplers:
            raise ValueError(f"flow matching draws with {' or '.join(self.samplers)}, not {sampler!r}")
        guidance = self.default_sampler.guidance if guidance is None else float(guidance)
        steps = self.default_sampler.steps if steps is None else int(steps)
        ts = self.times(steps).tolist()
        keep = set(torch.linspace(0, steps - 1, frames).round().long().tolist()) if frames else set()
        x, snaps = noise, []
        for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
            v = self.velocity(x, t, labels, guidance)
            if i in keep:
                snaps.append((round(t * (TIME_SCALE - 1)), x.clone(), x - t * v))
            x_euler = x + (t_next - t) * v
            if sampler == "heun" and t_next > 0:
                x = x + (t_next - t) * 0.5 * (v + self.velocity(x_euler, t_next, labels, guidance))
            else:
                x = x_euler
            if progress is not None:
                progress(i + 1, steps)
        return x.clamp(-1, 1), snaps

    def noise(self, n, generator=None):
        return torch.randn(n, 1, 28, 28, generator=generator).to(self.device)

    # -- likelihood ----------------------------------------------------------------------------------------------
    def ode_log_density(self, x0: torch.Tensor, labels: Optional[torch.Tensor] = None, steps: Optional[int] = None,
                        generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """log p(x0) of pictures in the model's space ([-1, 1]) through the probability-flow ODE (Chen et al. 2018;
        Grathwohl et al. 2019): follow dx/dt = v from the picture (t = 0) to noise (t = 1) with Heun's steps, and
        log p(x0) = log N(x1; 0, I) + ∫ div v dt, the divergence estimated with one random ±1 probe a picture
        (Hutchinson's estimator, unbiased). No class: its own no-class velocity."""
        steps = steps or self.likelihood_steps
        probe = (torch.randint(0, 2, x0.shape, generator=generator) * 2 - 1).to(x0.device, x0.dtype)

        def drift(x, t):
            with torch.enable_grad():
                x = x.detach().requires_grad_(True)
                v = self.velocity(x, t, labels, 0.0 if labels is None else 1.0).float()
                (vjp,) = torch.autograd.grad((v * probe).sum(), x)
            return v.detach(), (vjp * probe).flatten(1).sum(1)

        x, integral = x0, torch.zeros(len(x0), dtype=torch.float64, device=x0.device)
        # steps crowd near the picture (t = 0), where a field learned from 8-bit pictures changes fastest: on the
        # MNIST model's test pictures, equal steps gave impossible (negative) bits; t = (i/N)³ converged, 24 steps
        # within 0.13 bits a pixel of 64, 64 within 0.03 of each other's cube and square grids
        ts = (torch.linspace(0.0, 1.0, steps + 1) ** 3).tolist()
        for t, t_next in zip(ts[:-1], ts[1:]):
            h = t_next - t
            v, div = drift(x, t)
            v2, div2 = drift(x + h * v, t_next)
            x = x + h * 0.5 * (v + v2)
            integral += h * 0.5 * (div + div2).double()
        log_normal = (-0.5 * x.double().pow(2) - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)
        return log_normal + integral

    def log_likelihood(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """log p of 8-bit pictures in nats, as dequantized models report it: each level k becomes (k + u) / 256 with
        u uniform, mapped to [-1, 1] (a factor 2 a pixel), scored through the ODE, less 784 log 256."""
        levels = (x * 255).round()
        y = (levels + torch.rand(levels.shape).to(x.device)) / 256
        dims = x[0].numel()
        return self.ode_log_density(y * 2 - 1, labels) + dims * math.log(2) - dims * math.log(256)

    @torch.no_grad()
    def generate(self, noise, labels=None, generator=None, **options):
        x0, _ = self.denoise(noise, labels, generator=generator, **options)
        return self.to_images(x0)

    def plain(self, options: dict) -> dict:
        return {**options, "guidance": 1.0}

    def to_images(self, x0: torch.Tensor) -> torch.Tensor:
        return unit(x0.float())

    def state_images(self, x: torch.Tensor) -> torch.Tensor:
        return unit(x.float())

    def noise_images(self, v: torch.Tensor) -> torch.Tensor:
        """A velocity as a picture: grey is 0, white +3 and black -3."""
        return unit(v.float() / 3)

"""One network run, no adversary: MeanFlow (Geng, Deng, Bai, Kolter & He, "Mean Flows for One-step Generative
Modeling", 2025), started from a trained flow-matching model.

Flow matching learns the *instantaneous* velocity v(z_t, t) of the straight path z_t = (1 - t) x + t eps, and needs
several steps to follow its curves. MeanFlow learns the *average* velocity over an interval [r, t],

    u(z_t, r, t) = 1 / (t - r) * integral_r^t v(z_s, s) ds,   so that   z_r = z_t - (t - r) u(z_t, r, t),

and one jump from noise (t = 1) to the picture (r = 0) draws it: x = eps - u(eps, 0, 1). Differentiating the
definition gives the MeanFlow identity, which needs no integral to train on:

    u(z_t, r, t) = v(z_t, t) - (t - r) d/dt u(z_t, r, t),

with d/dt the total derivative along the path (dz/dt = v, dr/dt = 0): one Jacobian-vector product. The target is
that right-hand side with the gradient stopped. With r = t it is flow matching itself.

Here the network is the flow-matching model's UNet with one more input, the interval t - r, embedded like the time
and starting at zero; it starts as a copy of the trained flow (registry ``base``), so u(z, t, t) = v(z, t) from the
first step, and learns to jump.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch.func import jvp
from torch.nn.attention import SDPBackend, sdpa_kernel

from .base import ProgressFn, signed
from .unet import UNet
from .diffusion import guided
from .flow_matching import TIME_SCALE, FlowMatching
from .samplers import SamplerSettings, register_sampler

register_sampler("jump", "Jump", "Jump", "a jump along the average velocity over the whole step")

#: the interval t - r is fed through the UNet's extra embedding (built for a guidance strength, whose scale it
#: multiplies by ``UNet.GUIDANCE_SCALE``) so that it spans the same frequencies as the time
INTERVAL_SCALE = TIME_SCALE / UNet.GUIDANCE_SCALE
#: the adaptive loss weight's constant, 1 / (error + c) (Geng et al.: c = 1e-3)
ADAPTIVE_C = 1e-3


class MeanFlow(FlowMatching):
    """Class-conditional MeanFlow in pixel space: one jump from noise to a picture, or a few."""

    family = "mean-flow"
    network_methods = FlowMatching.network_methods + ("mean_velocity",)
    samplers = ("jump",)
    step_range = (1, 16)
    default_sampler = SamplerSettings("jump", 1, guidance=1.0)
    guidance_parts = False
    path_sampler = "jump"
    likelihood = "none"             # it learns jumps, not the field whose divergence gives a likelihood
    predicts = ("u", "the average velocity")
    about = ("Learns the **average velocity** over a whole stretch of the path from noise to a picture, not the "
             "velocity at one moment. With it, **one jump** lands where flow matching's many small steps would: a "
             "picture in **one network run**, with no second network judging it (as a GAN needs). It starts from a "
             "trained flow-matching model and learns to jump.")
    equation = (r"$$z_r = z_t - (t - r)\,u_\theta(z_t, r, t),\qquad u(z_t, r, t) = v(z_t, t) - (t - r)\,"
                r"\frac{d}{dt} u(z_t, r, t)$$"
                "\n\nOne jump draws a picture: $x = \\epsilon - u_\\theta(\\epsilon, 0, 1)$. The second equation, "
                "true of the exact average velocity, is what the network is trained to satisfy.")
    teaches = "An average velocity turns many steps into one."

    def __init__(self, channels: int = 32, channel_mults: tuple = (1, 2, 2), num_res_blocks: int = 2,
                 num_classes: int = 10, p_uncond: float = 0.1, dropout: float = 0.0, jump_share: float = 0.25):
        super().__init__(channels, channel_mults, num_res_blocks, num_classes, p_uncond, dropout)
        self.net = UNet(channels, tuple(channel_mults), num_res_blocks, num_classes, dropout, guidance_input=True)
        self.jump_share = jump_share         # the share of training intervals with r < t (the rest: r = t; the
        # paper's best, 25 %)

    def set_base(self, flow: FlowMatching, images: Optional[torch.Tensor] = None) -> None:
        """Start from a trained flow-matching model's weights (the interval input starts at zero)."""
        missing, unexpected = self.net.load_state_dict(flow.net.state_dict(), strict=False)
        if unexpected or any(not k.startswith("guidance_mlp.") for k in missing):
            raise ValueError(f"the flow's network does not fit: {missing[:3]} {unexpected[:3]}")

    # -- the average velocity ------------------------------------------------------------------------------------
    def _u(self, z: torch.Tensor, r: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.net(z, t * TIME_SCALE, labels, (t - r) * INTERVAL_SCALE)

    def mean_velocity(self, z: torch.Tensor, r: float, t: float, labels: Optional[torch.Tensor],
                      guidance: float = 1.0) -> torch.Tensor:
        """u(z, r, t), guided as flow matching guides its velocity (0: no class; 1: the class, one run)."""
        n = len(z)
        rr, tt = torch.full((n,), float(r), device=z.device), torch.full((n,), float(t), device=z.device)
        # flow matching's guidance, with the interval's start riding along (repeated when it doubles the batch)
        return guided(lambda z_, t_, y_: self._u(z_, rr.repeat(len(z_) // n), t_, y_), z, tt, labels, guidance,
                      self.null_class)

    def velocity(self, x, t, labels, guidance):
        """The instantaneous velocity: the average over an interval of length 0."""
        return self.mean_velocity(x, t, t, labels, guidance)

    # -- training ----------------------------------------------------------------------------------------------
    def intervals(self, n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        """(r, t) with r <= t: both drawn from a logit-normal, sorted; in ``1 - jump_share`` of them r = t."""
        a, b = torch.sigmoid(torch.randn(2, n, device=device) * 1.0 - 0.4)
        t, r = torch.maximum(a, b), torch.minimum(a, b)
        same = torch.rand(n, device=device) >= self.jump_share
        return torch.where(same, t, r), t

    def target(self, z: torch.Tensor, r: torch.Tensor, t: torch.Tensor, v: torch.Tensor,
               labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's u(z, r, t) and the MeanFlow identity's target v - (t - r) du/dt (gradient stopped), the
        total derivative by one Jacobian-vector product along (dz, dr, dt) = (v, 0, 1). (The fused attention kernel
        has no forward-mode derivative, so the product runs on the plain one, in float32.)"""
        # forward-mode derivatives do not mix with bfloat16 autocast (the dual tensors' types clash): float32; and
        # with gradients off (a held-out loss) attention would take its fused fast path, which has none either
        with sdpa_kernel(SDPBackend.MATH), torch.autocast(z.device.type, enabled=False), torch.enable_grad():
            u, du_dt = jvp(lambda z_, r_, t_: self._u(z_, r_, t_, labels), (z, r, t),
                           (v, torch.zeros_like(r), torch.ones_like(t)))
        gap = (t - r).view(-1, 1, 1, 1)
        return u, (v - gap * du_dt.float()).detach()

    def loss(self, x, y):
        x0 = signed(x)
        n = len(x0)
        r, t = self.intervals(n, x0.device)
        eps = torch.randn_like(x0)
        z = (1 - t.view(-1, 1, 1, 1)) * x0 + t.view(-1, 1, 1, 1) * eps
        drop = torch.rand(n, device=x0.device) < self.p_uncond
        labels = torch.where(drop, torch.full_like(y, self.null_class), y)
        u, goal = self.target(z, r, t, eps - x0, labels)
        # the paper's adaptive weight (p = 1): each picture's squared error divided by its own size, gradient
        # stopped, so that the rare huge targets (where u changes fast with t) cannot swamp the rest
        err = (u.float() - goal).pow(2).flatten(1).sum(1)
        loss = (err / (err.detach() + ADAPTIVE_C)).mean()
        # logged: the plain squared error a pixel (the weighted loss is near 1 by construction)
        return loss, {"loss": err.mean().item() / x0[0].numel(), "weighted": loss.item()}

    # -- drawing -------------------------------------------------------------------------------------------------
    def network_evaluations(self, sampler: str = "jump", steps: Optional[int] = None,
                            guidance: Optional[float] = None, labels_given: bool = True, **_) -> int:
        steps = self.default_sampler.steps if steps is None else int(steps)
        guidance = self.default_sampler.guidance if guidance is None else guidance
        return steps * (1 if not labels_given or guidance in (0.0, 1.0) else 2)

    @torch.no_grad()
    def denoise(self, noise: torch.Tensor, labels: Optional[torch.Tensor] = None, sampler: str = "jump",
                steps: Optional[int] = None, eta: Optional[float] = None, guidance: Optional[float] = None,
                generator: Optional[torch.Generator] = None, progress: ProgressFn = None, frames: int = 0,
                guidance_interval: Optional[tuple[float, float]] = None
                ) -> tuple[torch.Tensor, list[tuple[int, torch.Tensor, torch.Tensor]]]:
        """Jump from ``noise`` (t = 1) to the picture (t = 0) in ``steps`` equal jumps, each along the average
        velocity over its whole length. Returns the picture ([-1, 1]) and, with ``frames``, snapshots
        ``(t on 0..999, z_t, the picture one jump from there lands on)``."""
        if sampler not in self.samplers:
            raise ValueError(f"MeanFlow draws by jumping, not with {sampler!r}")
        guidance = self.default_sampler.guidance if guidance is None else float(guidance)
        steps = self.default_sampler.steps if steps is None else int(steps)
        ts = self.times(steps).tolist()
        keep = set(torch.linspace(0, steps - 1, frames).round().long().tolist()) if frames else set()
        z, snaps = noise, []
        for i, (t, r) in enumerate(zip(ts[:-1], ts[1:])):
            if i in keep:
                snaps.append((round(t * (TIME_SCALE - 1)), z.clone(),
                              z - t * self.mean_velocity(z, 0.0, t, labels, guidance)))
            z = z - (t - r) * self.mean_velocity(z, r, t, labels, guidance)
            if progress is not None:
                progress(i + 1, steps)
        return z.clamp(-1, 1), snaps

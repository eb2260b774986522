"""Fast diffusion by distillation: a student that draws in a few steps what its teacher draws in many.

Two stages, both taught by a trained class-conditional DDPM (the teacher):

1. **Guidance distillation** (Meng et al. 2023, "On distillation of guided diffusion models"). The teacher
   guides with two network runs a step, eps_u + w (eps_c - eps_u). The student takes the strength w as an
   input and learns that answer in one run, for every w in ``guidance_range``.
2. **Progressive distillation** (Salimans & Ho 2022). Each round the student learns to land, in one DDIM
   step, where its teacher lands in two; the teacher of each round is the student of the round before. The
   steps halve from ``start_steps`` until ``final_steps``.

The student predicts v = alpha_t eps - sigma_t x_0 (alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t)),
not eps: at the first of four steps (abar = 3e-9 on the cosine schedule) a picture read off an eps
prediction is that prediction's error magnified 20,000 times, while v stays well scaled at every t (the
loss on v is the loss on x_0 weighted by SNR + 1). Its steps are spread "trailing" (T-1, T-1-T/n, ...), so
the grid of n steps is every other point of the grid of 2n and none is spent where the picture is clean.

The whole schedule is one training run, one stage after another by epoch (``stage_epochs``); the student
of the round before is kept beside the current one (``previous``), so the shipped checkpoint draws at
``final_steps`` and at twice that.
"""
from __future__ import annotations

import contextvars
from typing import Optional

import torch
import torch.nn.functional as F

from .diffusion import DDPM
from .unet import UNet
from .samplers import SamplerSettings, trailing_timesteps

#: the step count of the drawing under way in this thread (it picks which of the student's two networks answers):
#: a context variable, not an attribute, so two visitors drawing from one model at once cannot mix their counts
_SAMPLING_STEPS: contextvars.ContextVar[Optional[int]] = contextvars.ContextVar("sampling_steps", default=None)


class DistilledDDPM(DDPM):
    """A guidance-distilled, progressively distilled pixel DDPM (eps_theta replaced by v_theta(x_t, t, y, w))."""

    timestep_spacing = "trailing"
    guidance_parts = False          # the guidance strength is an input of its network
    samplers = ("ddim",)            # one DDIM step per step it was taught, at its own step counts
    distilled = True
    likelihood = "none"             # it predicts v at a few steps: the DDPM's bound does not apply
    teaches = "A slow model can teach a fast one: each round halves the steps."

    def __init__(self, schedule: str = "cosine", T: int = 1000, channels: int = 32,
                 channel_mults: tuple = (1, 2, 2), num_res_blocks: int = 2, num_classes: int = 10,
                 p_uncond: float = 0.1, dropout: float = 0.0, guidance_range: tuple = (1.0, 2.5),
                 start_steps: int = 32, final_steps: int = 4, stage_epochs: tuple = (3, 3, 3, 3)):
        super().__init__(schedule, T, channels, channel_mults, num_res_blocks, num_classes, p_uncond, dropout)
        rounds = (start_steps // final_steps).bit_length() - 1
        if start_steps != final_steps * 2 ** rounds:
            raise ValueError(f"start_steps ({start_steps}) must be final_steps ({final_steps}) times a power of 2")
        if len(stage_epochs) != rounds + 1:
            raise ValueError(f"stage_epochs needs {rounds + 1} entries: guidance distillation, then {rounds} rounds")
        unet = dict(channels=channels, channel_mults=tuple(channel_mults), num_res_blocks=num_res_blocks,
                    num_classes=num_classes, dropout=dropout, guidance_input=True)
        self.net = UNet(**unet)
        self.previous = UNet(**unet)           # the student of the round before: this round's teacher
        self.previous.requires_grad_(False)
        self.guidance_range = (float(guidance_range[0]), float(guidance_range[1]))
        self.start_steps, self.final_steps = int(start_steps), int(final_steps)
        self.stage_epochs = tuple(int(e) for e in stage_epochs)
        self.register_buffer("stage", torch.zeros((), dtype=torch.long))   # 0: guidance; k: round k
        self._teacher: tuple[DDPM, ...] = ()   # the guided teacher (stage 0 only), in a tuple: not part of the weights

    # -- what the model can do --------------------------------------------------------------------
    @property
    def steps_now(self) -> int:
        """The step count the current student was distilled for."""
        return self.start_steps // 2 ** int(self.stage)

    @property
    def default_sampler(self) -> SamplerSettings:
        return SamplerSettings(steps=self.steps_now, guidance=sum(self.guidance_range) / 2)

    def step_choices(self) -> tuple[int, ...]:
        """The step counts it was distilled for: the current round and, after the first, the one before."""
        return (self.steps_now, 2 * self.steps_now) if int(self.stage) >= 2 else (self.steps_now,)

    def network_evaluations(self, sampler="ddim", steps=None, **_) -> int:
        return int(steps or self.steps_now)     # guidance is an input: one run a step, with or without a class

    # -- the teacher ------------------------------------------------------------------------------
    def set_base(self, teacher: DDPM, images: Optional[torch.Tensor] = None) -> None:
        """Take the guided teacher, and start the student from its weights (the guidance input starts at zero)."""
        if teacher.schedule.name != self.schedule.name or teacher.T != self.T:
            raise ValueError("the student must use its teacher's noise schedule")
        self._teacher = (teacher.eval().requires_grad_(False),)
        for net in (self.net, self.previous):
            try:
                missing, unexpected = net.load_state_dict(teacher.net.state_dict(), strict=False)
            except RuntimeError as exc:         # sizes differ: a smoke-sized student needs a smoke-sized teacher
                first = str(exc).splitlines()[1].strip()
                raise ValueError(f"the teacher's network is not the student's size: {first}") from None
            if unexpected or any(not k.startswith("guidance_mlp.") for k in missing):
                raise ValueError(f"the teacher's network does not fit the student: {missing[:3]} {unexpected[:3]}")

    def stage_of(self, epoch: int) -> int:
        ends = torch.tensor(self.stage_epochs).cumsum(0)
        return int((ends < epoch).sum().clamp(max=len(self.stage_epochs) - 1))

    def starts_stage(self, epoch: int) -> bool:
        return epoch > 1 and self.stage_of(epoch) != self.stage_of(epoch - 1)

    @torch.no_grad()
    def on_epoch_start(self, epoch: int) -> None:
        """At a round's first epoch the student so far (the averaged weights, put in place by the training loop)
        becomes the round's teacher, and goes on as its student."""
        if self.stage_of(epoch) > int(self.stage):
            self.previous.load_state_dict(self.net.state_dict())
            self.stage.fill_(self.stage_of(epoch))

    def ema_parameters(self):
        return list(self.net.parameters())

    def configure_optimizers(self, lr):
        return [torch.optim.AdamW(self.net.parameters(), lr=lr, weight_decay=0.0)]

    # -- maths ------------------------------------------------------------------------------------
    def _alpha_sigma(self, t: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t), shaped to broadcast; t = -1 is the clean picture."""
        ac = self.schedule.alphas_cumprod.double()
        ab = torch.where(t >= 0, ac[t.clamp(min=0)], torch.ones_like(ac[:1]))
        shape = (-1, *([1] * (like.dim() - 1)))
        return ab.sqrt().view(shape), (1 - ab).sqrt().view(shape)

    def _v(self, net: UNet, x, t, labels, w):
        return net(x, t, labels, w).double()

    def _x0_eps(self, v, t, x):
        """x_0 = alpha x_t - sigma v and eps = sigma x_t + alpha v, x_0 clamped to the image range."""
        a, s = self._alpha_sigma(t, x)
        x = x.double()
        x0 = (a * x - s * v).clamp(-1, 1)
        eps = torch.where(s > 0, (x - a * x0) / s.clamp(min=1e-12), s * x + a * v)
        return x0, eps

    def _ddim(self, x, x0, eps, t_next):
        a, s = self._alpha_sigma(t_next, x)
        return a * x0 + s * eps

    def predict_eps(self, x, t, labels, guidance):
        n = len(x)
        tt = torch.full((n,), int(t), device=x.device, dtype=torch.long)
        labels = torch.full((n,), self.null_class, device=x.device, dtype=torch.long) if labels is None else labels
        w = torch.full((n,), float(guidance), device=x.device)
        steps = _SAMPLING_STEPS.get() or self.steps_now
        net = self.previous if int(self.stage) >= 2 and steps == 2 * self.steps_now else self.net
        return self._x0_eps(self._v(net, x, tt, labels, w), tt, x)[1].float()

    @torch.no_grad()
    def denoise(self, noise, labels=None, sampler="ddim", steps=None, eta=None, guidance=None, **kw):
        lo, hi = self.guidance_range
        if guidance is not None and labels is not None and not lo <= float(guidance) <= hi:
            raise ValueError(f"this distilled model learned guidance strengths {lo:g} to {hi:g} only")
        token = _SAMPLING_STEPS.set(int(steps or self.steps_now))     # which of its two networks answers
        try:
            return super().denoise(noise, labels, sampler, steps or self.steps_now, eta, guidance, **kw)
        finally:
            _SAMPLING_STEPS.reset(token)

    def _teacher_target(self, xt, t, labels, w):
        """(x_0, eps) the teacher reaches from x_t: the guided teacher's answer in stage 0, else two DDIM steps
        of the previous student, folded into the one x_0 that a single DDIM step from x_t must aim at."""
        if int(self.stage) == 0:
            if not self._teacher:
                raise RuntimeError("guidance distillation needs its teacher: call set_base(teacher) first")
            (teacher,) = self._teacher
            eps_c, eps_u = teacher.net(torch.cat([xt, xt]), torch.cat([t, t]),
                                       torch.cat([labels, torch.full_like(labels, self.null_class)])).double().chunk(2)
            eps = eps_u + w.double().view(-1, 1, 1, 1) * (eps_c - eps_u)
            a, s = self._alpha_sigma(t, xt)
            x0 = ((xt.double() - s * eps) / a).clamp(-1, 1)
            return x0, (xt.double() - a * x0) / s
        n = self.steps_now                      # the student's steps; the teacher walks the grid of 2n
        grid = self._grid(2 * n, xt.device)
        i = torch.searchsorted(-grid, -t)       # t's place in the teacher's grid (t is on the student's)
        t_mid, t_next = grid[i + 1], grid[i + 2]
        x0, eps = self._x0_eps(self._v(self.previous, xt, t, labels, w), t, xt)
        x_mid = self._ddim(xt.double(), x0, eps, t_mid)
        x0, eps = self._x0_eps(self._v(self.previous, x_mid.float(), t_mid, labels, w), t_mid, x_mid)
        x_next = self._ddim(x_mid, x0, eps, t_next)
        a, s = self._alpha_sigma(t, xt)
        a2, s2 = self._alpha_sigma(t_next, xt)
        # one DDIM step from x_t with x_0 = x0_target lands on x_next: x_next = a2 x0 + s2 (x_t - a x0) / s
        x0_target = (x_next - (s2 / s) * xt.double()) / (a2 - (s2 / s) * a)
        return x0_target, (xt.double() - a * x0_target) / s

    def _grid(self, n: int, device) -> torch.Tensor:
        """The trailing grid of n steps followed by -1 (clean) and one more -1, so that i + 2 always exists."""
        return torch.cat([trailing_timesteps(self.T, n), torch.tensor([-1, -1])]).to(device)

    def loss(self, x, y):
        x0 = self.from_images(x)
        n = len(x0)
        dev = x0.device
        if int(self.stage) == 0:
            t = torch.randint(0, self.T, (n,), device=dev)
        else:
            grid = self._grid(self.steps_now, dev)[:self.steps_now]
            t = grid[torch.randint(0, self.steps_now, (n,), device=dev)]
        lo, hi = self.guidance_range
        w = lo + (hi - lo) * torch.rand(n, device=dev)
        drop = torch.rand(n, device=dev) < self.p_uncond
        labels = torch.where(drop, torch.full_like(y, self.null_class), y)
        xt = self.schedule.q_sample(x0, t, torch.randn_like(x0))
        with torch.no_grad():
            x0_t, eps_t = self._teacher_target(xt, t, labels, w)
            a, s = self._alpha_sigma(t, xt)
            v_target = (a * eps_t - s * x0_t).float()
        v = self.net(xt, t, labels, w).float()
        loss = F.mse_loss(v, v_target)
        return loss, {"loss": loss.item()}

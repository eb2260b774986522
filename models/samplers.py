"""The samplers that walk a noise schedule (``models/schedules.py``) backwards, and the settings they draw with.

Every sampler has the shape ``set_timesteps(n)`` + ``step(eps, t, x, eta, generator)`` (as diffusers' schedulers):
DDPM's ancestral steps (Ho et al. 2020), DDIM (Song et al. 2021), DPM-Solver++(2M) (Lu et al. 2022) and UniPC
(Zhao et al. 2023). Timesteps are 0..T-1; t = -1 stands for the clean picture, after the last step.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Optional

import torch

from .schedules import NoiseSchedule

SAMPLERS = ("ddpm", "ddim", "dpm++2m", "unipc")          # the diffusion models' samplers
#: every sampler name any family offers, with its words for a visitor (long, short) and one line on what it does;
#: a family with samplers of its own adds them here (``register_sampler``), in its own file
SAMPLER_WORDS: dict[str, tuple[str, str, str]] = {
    "ddpm": ("DDPM", "DDPM", "the original: every one of the 1,000 steps, slow"),
    "ddim": ("DDIM", "DDIM", "fast, few steps"),
    "dpm++2m": ("DPM-Solver++", "DPM++", "a second-order solver: as good in fewer steps"),
    "unipc": ("UniPC", "UniPC", "DPM-Solver++ that checks each step once more, at no extra cost"),
}


def register_sampler(name: str, long: str, short: str, about: str) -> None:
    """Make ``name`` a sampler that settings may name (a family's own, declared in its file)."""
    SAMPLER_WORDS[name] = (long, short, about)


# -- samplers: set_timesteps(n) + step(eps, t, x, eta, generator) ---------------------
def trailing_timesteps(T: int, n: int) -> torch.Tensor:
    """T-1, T-1-T/n, ..., T/n-1 (diffusers' "trailing" spacing): the grid of n steps is every other point of 2n's."""
    return (torch.arange(T, 0, -T / n, dtype=torch.float64).round() - 1).long()[:n]


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
            ts = trailing_timesteps(T, n)
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
    that is DDIM, the first-order solver; the last, to the clean picture (sigma = 0), lands on x0_s itself. The
    step before that, to the last noisy timestep, stays first order too (as diffusers does): on an even grid it is by
    far the longest in lambda, and extrapolating over it overshoots. The history lives in the solver and is cleared
    by ``set_timesteps``."""

    def set_timesteps(self, n: int, spacing: str = "linspace") -> None:
        super().set_timesteps(n, spacing)
        self._history: Optional[tuple[torch.Tensor, torch.Tensor]] = None     # (lambda, x0) of the step before

    def _lambda(self, ab: torch.Tensor) -> torch.Tensor:
        ab = ab.double()
        return 0.5 * (torch.log(ab) - torch.log1p(-ab))

    def step(self, eps: torch.Tensor, t: int, x: torch.Tensor, eta: Optional[float] = None,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
        x0, _ = self.predict_x0(eps, t, x)
        return self._advance(x, x0, t)

    def _second_order(self, t_prev: int) -> bool:
        """Whether the step to ``t_prev`` extrapolates from the step before (not the first, nor the last two)."""
        return self._history is not None and t_prev > 0

    def _advance(self, x: torch.Tensor, x0: torch.Tensor, t: int) -> torch.Tensor:
        """One step from (t, x), where the network's guess of the clean picture is ``x0``, to the next timestep."""
        t_prev = self._prev[int(t)]
        ab, ab_prev = self._abar(t), self._abar(t_prev)
        lam_s = self._lambda(ab)
        second = self._second_order(t_prev)
        history, self._history = self._history, (lam_s, x0)
        if t_prev < 0:                      # sigma_t = 0: the ODE's end point is the guess itself
            return x0
        lam_t = self._lambda(ab_prev)
        h = lam_t - lam_s
        d = x0
        if second:                          # the last noisy step stays first order (as diffusers does)
            lam_p, x0_p = history
            r = (lam_s - lam_p) / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_p
        ratio = ((1 - ab_prev) / (1 - ab)).double().sqrt()
        out = ratio * x.double() - ab_prev.double().sqrt() * torch.expm1(-h) * d.double()
        return out.to(x.dtype)


class UniPCSampler(DPMSolverSampler):
    """UniPC (Zhao et al. 2023, "UniPC: a unified predictor-corrector framework for fast sampling of diffusion
    models"), order 2, on x0 with B(h) = e^h - 1 ("bh2"), as diffusers' default. Its predictor, UniP-2, is the
    DPM-Solver++(2M) step above. Its corrector, UniC, then revisits each step once the network has answered at the
    point the step reached: it redoes the step from s to t with the answers at s (and the one before, s') and the
    new answer at t,

        x_t = (sigma_t / sigma_s) x_s - alpha_t (e^{-h} - 1) (x0_s + rho_1 D_1 + rho_t (x0_t - x0_s)),

    D_1 = (x0_{s'} - x0_s) / r, r = (lambda_{s'} - lambda_s) / h, with rho chosen to match the Taylor expansion one
    order higher (rho_t = 1/2 when the step was first order). That network answer is needed for the next step anyway,
    so the correction costs no network run; the next step then leaves from the corrected point. The last step, to
    the clean picture, is the guess itself, as for DPM-Solver++."""

    def set_timesteps(self, n: int, spacing: str = "linspace") -> None:
        super().set_timesteps(n, spacing)
        # the step just taken: where it left from (x_s, lambda_s, x0_s) and its history (lambda_s', x0_s') if it
        # was second order
        self._last: Optional[tuple] = None

    def step(self, eps: torch.Tensor, t: int, x: torch.Tensor, eta: Optional[float] = None,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
        x0, _ = self.predict_x0(eps, t, x)
        if self._last is not None:
            x = self._correct(x0, t)
        t_prev = self._prev[int(t)]
        self._last = (x, self._lambda(self._abar(t)), x0, self._history if self._second_order(t_prev) else None)
        return self._advance(x, x0, t)

    def _correct(self, x0_t: torch.Tensor, t: int) -> torch.Tensor:
        x_s, lam_s, x0_s, before = self._last
        ab = self._abar(t).double()
        h = self._lambda(ab) - lam_s
        hh = -h
        h_phi_1 = torch.expm1(hh)           # e^{-h} - 1; B(h) is the same for bh2
        b1 = (h_phi_1 / hh - 1) / h_phi_1
        correction = 0.5 * (x0_t.double() - x0_s.double()) if before is None else None
        if before is not None:              # solve [[1, 1], [r, 1]] (rho_1, rho_t) = (b1, b2)
            lam_p, x0_p = before
            r = (lam_p - lam_s) / h
            b2 = ((h_phi_1 / hh - 1) / hh - 0.5) * 2 / h_phi_1
            rho_1 = (b1 - b2) / (1 - r)
            rho_t = b1 - rho_1
            d1 = (x0_p.double() - x0_s.double()) / r
            correction = rho_1 * d1 + rho_t * (x0_t.double() - x0_s.double())
        ab_s = torch.sigmoid(2 * lam_s)     # abar at s, from lambda = log(alpha / sigma)
        out = ((1 - ab) / (1 - ab_s)).sqrt() * x_s.double() - ab.sqrt() * h_phi_1 * (x0_s.double() + correction)
        return out.to(x0_t.dtype)


def make_sampler(name: str, schedule: NoiseSchedule, clip_sample: Optional[float] = 1.0) -> Sampler:
    classes = {"ddpm": DDPMSampler, "ddim": DDIMSampler, "dpm++2m": DPMSolverSampler, "unipc": UniPCSampler}
    if name not in classes:
        raise ValueError(f"unknown sampler {name!r}; choose one of {SAMPLERS}")
    return classes[name](schedule, clip_sample)


@dataclass(frozen=True)
class SamplerSettings:
    """How a diffusion model draws: the sampler, its number of steps, DDIM's eta and the guidance strength.

    ``steps=None`` means every one of the model's T timesteps. ``guidance`` is classifier-free guidance's s in
    eps_u + s (eps_c - eps_u): 1 follows the class plainly (one network run a step), 0 ignores it. The registry
    keeps one of these per model and dataset; callers change what they need with ``replace``."""

    sampler: str = "ddim"
    steps: Optional[int] = 50
    eta: float = 0.0
    guidance: float = 1.0
    #: guide only where the noise level sigma_t lies in (low, high]; elsewhere one plain run with the class
    guidance_interval: Optional[tuple[float, float]] = None

    def __post_init__(self):
        if self.sampler not in SAMPLER_WORDS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLER_WORDS)}; got {self.sampler!r}")
        if self.steps is not None and int(self.steps) < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if not 0 <= float(self.eta) <= 1:
            raise ValueError(f"eta must lie between 0 and 1, got {self.eta}")
        if self.guidance_interval is not None and not 0 <= self.guidance_interval[0] < self.guidance_interval[1]:
            raise ValueError(f"a guidance interval is (low, high] with 0 <= low < high, got {self.guidance_interval}")

    @classmethod
    def from_key(cls, key: str) -> "SamplerSettings":
        """The settings a ``key`` names: ``ddim-50``, ``dpm++2m-10``, ``dpm++2m-10@0.4-5.42`` (guided only where
        the noise level is in (0.4, 5.42])."""
        m = re.fullmatch(r"(?P<sampler>.+?)-(?P<steps>\d+)(?:@(?P<low>[\d.]+)-(?P<high>[\d.]+))?", key)
        if m is None:
            raise ValueError(f"a setting is SAMPLER-STEPS[@LOW-HIGH], such as ddim-50 or dpm++2m-10@0.4-5.42; "
                             f"got {key!r}")
        interval = (float(m["low"]), float(m["high"])) if m["low"] else None
        return cls(m["sampler"], int(m["steps"]), guidance_interval=interval)

    def replace(self, sampler: Optional[str] = None, steps: Optional[int] = None, eta: Optional[float] = None,
                guidance: Optional[float] = None) -> "SamplerSettings":
        """These settings with the given ones changed. Choosing DDPM brings its own conventions (every timestep,
        eta = 1); choosing DDIM or DPM-Solver++ after DDPM, theirs (deterministic)."""
        changed = sampler is not None and sampler != self.sampler
        new = dataclasses.replace(self, **({"sampler": sampler} if sampler else {}))
        if changed:
            new = dataclasses.replace(new, steps=None if sampler == "ddpm" else (self.steps or 50),
                                      eta=1.0 if sampler == "ddpm" else 0.0)
        if sampler is not None or steps is not None:    # a sampler or step count chosen by name: guided at every step
            new = dataclasses.replace(new, guidance_interval=None)
        return dataclasses.replace(new, **{k: v for k, v in dict(steps=steps, eta=eta, guidance=guidance).items()
                                           if v is not None})

    def options(self) -> dict:
        """As keyword arguments of ``sample`` / ``generate`` / ``denoise``."""
        out = {"sampler": self.sampler, "steps": self.steps, "eta": float(self.eta), "guidance": float(self.guidance)}
        if self.guidance_interval is not None:
            out["guidance_interval"] = tuple(map(float, self.guidance_interval))
        return out

    def words(self, short: bool = False, steps: bool = True) -> str:
        """In words for a visitor: "DPM-Solver++, 10 steps, guided mid-way only"; ``short``: "DPM++ 10, mid-way";
        without ``steps``, the kind of setting only: "DPM-Solver++, guided mid-way only"."""
        long, brief, _ = SAMPLER_WORDS[self.sampler]
        name = brief if short else long
        if not steps:
            words = name
        elif self.steps is None:
            words = name if short else f"{name}, its own steps"
        else:
            words = f"{name} {self.steps:,}" if short else f"{name}, {self.steps:,} steps"
        if self.guidance_interval is not None:
            words += ", mid-way" if short else ", guided mid-way only"
        return words

    def key(self, T: int) -> str:
        """A short name for tables: ``ddim-50``, ``ddpm-1000`` (DDPM's every step is T); ``ddim-own`` where the
        model chooses its own number (a distilled one: the steps it learned)."""
        if self.steps and self.guidance_interval is not None:
            return f"{self.sampler}-{self.steps}@{self.guidance_interval[0]:g}-{self.guidance_interval[1]:g}"
        if self.steps:
            return f"{self.sampler}-{self.steps}"
        return f"ddpm-{T}" if self.sampler == "ddpm" else f"{self.sampler}-own"

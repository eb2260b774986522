"""Train it yourself: a small VAE or GAN learning from the shipped picture subset, a second of computing at a time,
with a budget per run and a bounded number of runs at once. Nothing is written to disk.

``LiveRun.work(seconds)`` trains for about that long and returns what to show: samples from one fixed noise batch
and the curves so far. The page calls it in a loop while playing, once for a step, and not at all while paused.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

import torch
from torch.nn import functional as F

from models import GAN, VAE
from models.base import signed

BUDGET_S = 60.0           # computing seconds a run may use
SEATS = int(os.environ.get("GENZOO_LIVE_SEATS", "2"))   # runs at once across all visitors (2 CPU cores)
IDLE_S = 60.0             # a run left paused this long gives its seat up
BATCH = 64
FAMILIES = ("vae", "gan")


class LiveError(ValueError):
    """A run cannot start or go on; the sentence is meant for the visitor."""


@dataclass
class Curves:
    """Every step's measurements, by name."""

    steps: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, step: int, logs: dict[str, float]) -> None:
        self.steps.append(step)
        for k, v in logs.items():
            self.values.setdefault(k, []).append(float(v))


def small_model(family: str, beta: float) -> torch.nn.Module:
    """Sized so that learning shows within a minute on 2 CPU threads (see docs/serving.md)."""
    if family == "vae":
        return VAE(latent_dim=8, beta=float(beta), channels=16, hidden=128)
    if family == "gan":
        return GAN(z_dim=32, channels=12)
    raise LiveError(f"choose a model to train: {', '.join(FAMILIES)}")


def on_cpu(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """An optimiser of a network that lives on the CPU, as a visitor's live run does everywhere (on ZeroGPU, a
    minute of training in a GPU lease would spend half of a visitor's daily GPU time).

    Adam's ``step`` first asks CUDA whether a CUDA graph is being captured, whenever ``torch.cuda.is_available()``
    (torch 2.8, ``Optimizer._cuda_graph_capture_health_check``). On ZeroGPU that is true in the serving process,
    which has no GPU, so the question goes to a driver that is not there and the step fails ("CUDA driver version is
    insufficient"; ``tests/test_zerogpu.py`` meets it). A CPU network is never captured: the check is skipped for
    this optimiser alone."""
    if all(p.device.type == "cpu" for group in optimizer.param_groups for p in group["params"]):
        optimizer._cuda_graph_capture_health_check = lambda: None
    return optimizer


class LiveRun:
    """One visitor's run: the model, its optimisers, the fixed noise its samples are drawn from, and the curves."""

    def __init__(self, images: torch.Tensor, family: str, lr: float, beta: float = 1.0, critic_steps: int = 1,
                 seed: int = 0, budget_s: float = BUDGET_S, dataset: str = ""):
        if not 1e-5 <= float(lr) <= 1e-1:
            raise LiveError(f"the learning rate must lie between 0.00001 and 0.1, got {lr}")
        if not 0 <= float(beta) <= 20:
            raise LiveError(f"β must lie between 0 and 20, got {beta}")
        if int(critic_steps) != critic_steps or not 1 <= int(critic_steps) <= 10:
            raise LiveError(f"critic steps per generator step must be a whole number from 1 to 10, got {critic_steps}")
        torch.manual_seed(seed)
        self.family, self.critic_steps, self.budget_s, self.dataset = family, int(critic_steps), budget_s, dataset
        self.model = small_model(family, beta).train()
        self.optimizers = [on_cpu(opt) for opt in self.model.configure_optimizers(float(lr))]
        self.images = images
        self.noise = self.model.noise(16, torch.Generator().manual_seed(seed))
        self.batches = torch.Generator().manual_seed(seed + 1)
        self.curves, self.step, self.used_s, self.cpu_s = Curves(), 0, 0.0, 0.0
        self.last_active, self.stopped = time.monotonic(), False
        self.paused = False             # Pause pressed: a loop playing it ends at its next update, saying so
        self.lock = threading.Lock()

    @property
    def left_s(self) -> float:
        return max(0.0, self.budget_s - self.used_s)

    def batch(self) -> torch.Tensor:
        return self.images[torch.randint(0, len(self.images), (BATCH,), generator=self.batches)]

    def train_once(self) -> dict[str, float]:
        x = self.batch()
        if self.family == "vae":
            logs = self.model.train_step(x, None, self.optimizers, contextlib.nullcontext)
            return {"loss (nats a picture)": logs["loss"], "rebuild error": logs["recon_nll"], "KL": logs["kl"]}
        opt_g, opt_d = self.optimizers
        gen, critic = self.model.generator, self.model.discriminator
        for _ in range(self.critic_steps):               # the critic's turns
            real = signed(self.batch() if self.critic_steps > 1 else x)
            fake = gen(torch.randn(BATCH, self.model.z_dim)).detach()
            d_real, d_fake = critic(real).float(), critic(fake).float()
            loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        d_gen = critic(gen(torch.randn(BATCH, self.model.z_dim))).float()   # the generator's turn
        loss_g = F.softplus(-d_gen).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        return {"critic loss": loss_d.item(), "generator loss": loss_g.item(),
                "D(x): critic's score of real pictures": torch.sigmoid(d_real).mean().item(),
                "D(G(z)): its score of generated ones": torch.sigmoid(d_fake).mean().item()}

    def work(self, seconds: float = 1.0) -> tuple[torch.Tensor, Curves]:
        """Train for about ``seconds`` (at least one step, never past the budget); then the fixed noise's samples."""
        with self.lock:
            if self.left_s <= 0:
                raise LiveError(f"this run has used its {self.budget_s:.0f} s of computing; press Reset to start "
                                f"a new one")
            t0 = time.process_time()
            wall = time.perf_counter()
            while True:
                logs = self.train_once()
                self.step += 1
                self.curves.add(self.step, logs)
                if time.perf_counter() - wall >= min(seconds, self.left_s):
                    break
            self.used_s += time.perf_counter() - wall
            self.cpu_s += time.process_time() - t0
            self.last_active = time.monotonic()
            return self.samples(), self.curves

    def holds_seat(self) -> bool:
        return self.left_s > 0 and not self.stopped and time.monotonic() - self.last_active < IDLE_S

    def frees_within_s(self) -> float:
        return min(self.left_s, IDLE_S - (time.monotonic() - self.last_active))

    @torch.no_grad()
    def samples(self) -> torch.Tensor:
        self.model.eval()
        try:
            return self.model.generate(self.noise)
        finally:
            self.model.train()


class Seats:
    """At most ``n`` runs at once, one per visitor."""

    def __init__(self, n: int = SEATS):
        self.n, self.runs, self.lock = n, {}, threading.Lock()

    def take(self, visitor: str, run: LiveRun) -> None:
        with self.lock:
            others = {v: r for v, r in self.runs.items() if v != visitor and r.holds_seat()}
            if len(others) >= self.n:
                wait = max(1.0, min(r.frees_within_s() for r in others.values()))
                raise LiveError(f"all {self.n} training seats are taken by other visitors; one frees within "
                                f"about {wait:.0f} s. Try again then.")
            self.runs[visitor] = run

    def get(self, visitor: str) -> Optional[LiveRun]:
        with self.lock:
            return self.runs.get(visitor)

    def release(self, visitor: str) -> None:
        with self.lock:
            run = self.runs.pop(visitor, None)
        if run is not None:
            run.stopped = True          # a loop still playing it stops at its next update

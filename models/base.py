"""The one interface every GenZoo model implements.

Everything outside a model speaks images as float tensors ``[n, 1, 28, 28]`` in
``[0, 1]`` (0 = black background, as in the data). Each model converts to the
range it trains in (``[0, 1]`` for Bernoulli autoencoders, ``[-1, 1]`` for GANs
and diffusion) inside its own methods.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

ProgressFn = Optional[Callable[[int, int], None]]


class ZooModel(nn.Module, PyTorchModelHubMixin):
    """What the training loop needs of any model: a loss, optimisers and one step.

    Constructors take JSON-serialisable keyword arguments only;
    ``save_pretrained`` writes them to ``config.json`` beside ``model.safetensors``.
    """

    family: str = "model"
    generative: bool = False
    num_classes: int = 10
    #: for people (the Models tab): what the family is, its key equation (Markdown with LaTeX), what it teaches
    about: str = ""
    equation: str = ""
    teaches: str = ""
    #: what the model can do; read by the app and the evaluation
    can_encode: bool = False
    #: its likelihood: "exact" (log p(x) itself), "ode" (exact in principle, computed by following its ODE with a
    #: random estimate of the divergence), "bound" (a lower bound on it, such as the ELBO) or "none"
    likelihood: str = "none"
    #: where the likelihood is a bound that tightens with more random draws (a VAE's importance-weighted bound),
    #: the draws its tighter figure is measured with (``log_likelihood(x, labels, k=...)``); 0: no such bound
    importance_samples: int = 0
    #: network runs its likelihood takes a picture (the measurement gives costly ones fewer pictures)
    likelihood_runs: int = 1
    #: the methods that run the model's networks: where the model is served, these are the calls that go to its
    #: device (``genzoo.hosting``); everything else about it is answered on the CPU
    network_methods: tuple[str, ...] = ("forward",)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def has_likelihood(self) -> bool:
        return self.likelihood != "none"

    def log_likelihood(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """log p(x), or its bound (``likelihood``), in nats for each picture of a batch in [0, 1]."""
        raise NotImplementedError(f"{type(self).__name__} has no likelihood")

    def mean_over_classes(self, log_p_given: Callable[[torch.Tensor], torch.Tensor], n: int,
                          device: torch.device) -> torch.Tensor:
        """log of the mean over the classes, each equally likely, of p(x | y), from ``log_p_given(labels)``: what a
        class-conditional model answers about ``n`` pictures when no class is given."""
        per_class = torch.stack([log_p_given(torch.full((n,), k, device=device, dtype=torch.long))
                                 for k in range(self.num_classes)], 1)
        return torch.logsumexp(per_class, 1) - math.log(self.num_classes)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss for a batch of images in [0, 1] with labels; returns (loss, logs)."""
        raise NotImplementedError

    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        return [torch.optim.AdamW(self.parameters(), lr=lr, weight_decay=0.0)]

    def train_step(self, x: torch.Tensor, y: torch.Tensor, optimizers: list[torch.optim.Optimizer],
                   autocast: Callable) -> dict[str, float]:
        """One optimisation step; GANs override this with their two-player update."""
        (opt,) = optimizers
        with autocast():
            loss, logs = self.loss(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.parameters(), 1.0)
        opt.step()
        return logs

    def ema_parameters(self) -> list[nn.Parameter]:
        """Parameters that get an exponential moving average (all, unless overridden)."""
        return list(self.parameters())

    def starts_stage(self, epoch: int) -> bool:
        """True when ``epoch`` (1-based) begins a new training stage, which starts from the averaged weights."""
        return False

    def on_epoch_start(self, epoch: int) -> None:
        """Hook run before each epoch (1-based), e.g. to switch a training phase."""

    def new_parts(self) -> tuple[str, ...]:
        """Prefixes of weights that a training state saved before they existed may lack: they start fresh on
        resume (a discriminator added to finish a trained autoencoder). Everything else must match."""
        return ()

    def on_epoch_end(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Hook run after each epoch, before saving, with training images (e.g. to fit a prior)."""


#: how a class-conditional model draws when no class is asked (``GenerativeModel.sample``), as recorded beside
#: pictures drawn ahead and scores, so that a change of the rule shows which of them are out of date
NO_CLASS_RULE = "classes drawn in the training set's proportions, each drawn plainly"


class GenerativeModel(ZooModel):
    """The one interface of every generative model.

    ``sample(n, labels=None, generator=None, **options)`` for all;
    ``encode`` / ``decode`` / ``reconstruct`` where the family has them. Subclasses
    implement ``noise`` and ``generate`` (a deterministic map from noise to
    images, given the labels) and ``loss`` for training.
    """

    family: str = "generative"
    generative = True
    network_methods = ZooModel.network_methods + ("sample", "generate", "encode", "decode", "reconstruct")
    #: how it draws: in one network pass (no samplers), or step by step with its own samplers' names, the steps a
    #: visitor may choose, and ``default_sampler``; ``distilled``: it draws only at the steps it was taught
    samplers: tuple[str, ...] = ()
    step_range: tuple[int, int] = (1, 1)
    distilled: bool = False
    #: the classifier-free guidance strengths it can be asked for (a model with classes and guidance)
    guidance_range: Optional[tuple[float, float]] = None
    #: the deterministic sampler whose steps trace its path from noise to picture in pixel space (the straightness
    #: view); None where there is no such path (one pass, or a path among codes)
    path_sampler: Optional[str] = None
    #: whether its guided answer splits into a class part and a no-class part (the guidance scrubber shows them)
    guidance_parts: bool = False
    #: what its network predicts at each step, as a symbol and in words (the guidance scrubber)
    predicts: tuple[str, str] = ("ε", "the noise")

    # -- what the model is (subclasses set these two in their constructors) -------
    _conditional: bool = False
    _latent_dim: Optional[int] = None

    @property
    def conditional(self) -> bool:
        """Whether it can be told which class to draw."""
        return self._conditional

    @property
    def requires_labels(self) -> bool:
        """True when the network cannot draw without a class (``sample`` then picks random ones)."""
        return self._conditional

    @property
    def latent_dim(self) -> Optional[int]:
        return self._latent_dim

    def network_evaluations(self, **sampler_options) -> int:
        """Forward passes of the network needed to draw one image."""
        return 1

    # -- sampling --------------------------------------------------------------
    def noise(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Draw the random input that ``generate`` maps to images (on the CPU, then moved)."""
        raise NotImplementedError

    def generate(self, noise: torch.Tensor, labels: Optional[torch.Tensor] = None,
                 generator: Optional[torch.Generator] = None, **options) -> torch.Tensor:
        """Map noise (and labels) to images in [0, 1]."""
        raise NotImplementedError

    def check_labels(self, labels, n: int) -> Optional[torch.Tensor]:
        """Validate labels: ``None``, one int, or ``n`` ints in ``0..num_classes-1``."""
        if labels is None:
            return None
        if not self.conditional:
            raise ValueError(f"{type(self).__name__} is unconditional: it cannot be asked for a class")
        labels = torch.as_tensor(labels, dtype=torch.long).flatten()
        if labels.numel() == 1:
            labels = labels.expand(n)
        if labels.numel() != n:
            raise ValueError(f"got {labels.numel()} labels for {n} samples")
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(f"labels must lie in 0..{self.num_classes - 1}")
        return labels.to(self.device)

    # -- sampling with no class asked: one rule for every class-conditional model -------
    def draw_classes(self, n: int, generator: Optional[torch.Generator] = None,
                     class_prior=None) -> torch.Tensor:
        """``n`` classes drawn at random in the training set's proportions (``class_prior``: a count or share per
        class; equal shares when not given), on the CPU."""
        p = torch.ones(self.num_classes, dtype=torch.float64) if class_prior is None else \
            torch.as_tensor(class_prior, dtype=torch.float64)
        if p.shape != (self.num_classes,) or (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"class_prior must give {self.num_classes} non-negative shares")
        return torch.multinomial(p / p.sum(), n, replacement=True, generator=generator)

    def plain(self, options: dict) -> dict:
        """The sampler options that draw from the model of a class plainly, with no extra push towards it (a
        diffusion model: guidance 1); a one-pass model has none to change."""
        return options

    @torch.no_grad()
    def sample(self, n: int, labels=None, generator: Optional[torch.Generator] = None, class_prior=None,
               **options) -> torch.Tensor:
        """Draw ``n`` images ``[n, 1, 28, 28]`` in [0, 1]; ``labels`` only for conditional models.

        With no class asked, a class-conditional model draws each picture's class at random in the training set's
        proportions (``class_prior``), then the picture from its model of that class, plainly (``plain``): a draw
        from the same p(x) an unconditional model learns. (A diffusion model's "no class" input is not used here;
        ``generate`` with no labels still reaches it.)"""
        if n < 1:
            raise ValueError("n must be at least 1")
        labels = self.check_labels(labels, n)
        if labels is None and self.conditional:
            labels = self.draw_classes(n, generator, class_prior).to(self.device)
            options = self.plain(options)
        return self.generate(self.noise(n, generator), labels, generator=generator, **options)


def signed(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1]."""
    return x * 2 - 1


def unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], clamped."""
    return ((x + 1) / 2).clamp(0, 1)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between two same-shaped tensors at fractions ``t`` -> ``[len(t), *a.shape]``.

    Used for Gaussian noise, whose mass lies near a sphere: a straight line
    between two noise vectors passes through unusually small ones.
    """
    af, bf = a.flatten().double(), b.flatten().double()
    omega = torch.acos((af @ bf / (af.norm() * bf.norm())).clamp(-1, 1))
    t = torch.as_tensor(t, dtype=torch.float64, device=af.device)[:, None]
    if torch.sin(omega) < 1e-6:  # (anti)parallel: fall back to a straight line
        out = (1 - t) * af + t * bf
    else:
        out = (torch.sin((1 - t) * omega) * af + torch.sin(t * omega) * bf) / torch.sin(omega)
    return out.to(a.dtype).view(len(t), *a.shape)

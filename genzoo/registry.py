"""Every model GenZoo trains, by name, with its hyperparameters in one place.

Adding a model is one entry here: the training CLI, the loader, the sampling
CLI, the evaluation and the app all read this table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from models import (DDPM, GAN, VAE, Autoencoder, Classifier, DistilledDDPM, FlowMatching, LatentDiffusion,
                    MeanFlow, NormalizingFlow, PixelCNN, ZooModel)
from models.samplers import SamplerSettings

# Classifier-free guidance strength the diffusion models draw with unless told otherwise, one per dataset (the
# Pick-a-class slider starts there). Chosen with the referee on pictures asked for with labels cycling (DDIM 50): the
# lowest FID that still keeps the class right as often as the quality bars ask.
#   MNIST (2,000 pictures): cosine DDPM FID 4.7 at 1.5, 8.0 at 2; latent diffusion 6.5 at 1.5, 10.5 at 2, 5.0 at 1 but
#   only 96 % of the classes right.
#   Fashion-MNIST (10,000 pictures, fp32, the 40-epoch cosine weights): cosine DDPM 8.2 at 1.25 (94.5 % right), 12.5
#   at 1.5, 6.9 at 1 but only 90 % right; linear DDPM 7.0 at 1.25, 10.7 at 1.5, 7.7 at 1. Latent diffusion, which
#   follows the same slider: 16.9 at 1.25 (88 % right), 16.4 at 1.5 (92 %), 22.4 at 1 — within its bar of 20 either way.
DEFAULT_GUIDANCE = {"mnist": 1.5, "fashion": 1.25}


def default_guidance(dataset: str) -> float:
    if dataset not in DEFAULT_GUIDANCE:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DEFAULT_GUIDANCE)}")
    return DEFAULT_GUIDANCE[dataset]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    cls: type
    kwargs: dict[str, Any]
    title: str                      # short human name shown in the app
    summary: str                    # one plain-language sentence
    epochs: int
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: str = "cosine"     # "cosine" (with warm-up) or "constant"
    warmup_steps: int = 0
    ema_decay: Optional[float] = None
    precision: str = "fp32"         # "bf16" autocast for training where measured faster; inference is fp32
    base: Optional[str] = None      # a model this one is built on (latent diffusion's autoencoder)
    sampler: Optional[SamplerSettings] = None   # diffusion: the app's sampler settings (guidance: per dataset)
    #: where a dataset's measurements chose other settings: the fastest whose referee FID is within 10 % of DDIM
    #: 50's (``scripts/sampler_scores.py`` records it in the checkpoint's referee.json; a test checks they agree)
    dataset_sampler: dict[str, SamplerSettings] = field(default_factory=dict)
    #: where a dataset's measurements chose the model its own guidance strength instead of the dataset's (the
    #: referee's lowest FID that keeps the class right as often as the bars ask)
    dataset_guidance: dict[str, float] = field(default_factory=dict)
    dataset_epochs: dict[str, int] = field(default_factory=dict)  # where a dataset's model trained longer
    tiny: dict[str, Any] = field(default_factory=dict)  # settings that shrink it for smoke runs (tests check plumbing)
    featured: tuple[str, ...] = ()  # the app's tabs that show it before a visitor chooses (see ``featured``)

    def build(self, tiny: bool = False) -> ZooModel:
        """The model with the registry's settings; ``tiny``: a few channels and blocks, for ``--smoke`` runs."""
        return self.cls(**({**self.kwargs, **self.tiny} if tiny else self.kwargs))

    def epochs_for(self, dataset: str) -> int:
        """The number of epochs the shipped checkpoint for ``dataset`` was trained for (and a retrain runs)."""
        return self.dataset_epochs.get(dataset, self.epochs)

    @property
    def generative(self) -> bool:
        return self.cls.generative


# smoke-run sizes: a few channels, one block a level (GroupNorm needs channels in multiples of 8)
TINY_CONV = {"channels": 8, "hidden": 32}
TINY_UNET = {"channels": 8, "channel_mults": [1, 2], "num_res_blocks": 1}


def _ae(latent: int) -> ModelSpec:
    return ModelSpec(f"ae-{latent}", Autoencoder, {"latent_dim": latent}, f"Autoencoder ({latent}-D)",
                     f"Squeezes each image into {latent} numbers and rebuilds it; not trained to generate.",
                     epochs=20, tiny=TINY_CONV, featured=("interpolate", "reconstruct"))


def _vae(name: str, title: str, summary: str, featured=("reconstruct",), **kw) -> ModelSpec:
    return ModelSpec(name, VAE, {"latent_dim": 16, **kw}, title, summary, epochs=20, tiny=TINY_CONV,
                     featured=featured)


DDIM_50 = SamplerSettings("ddim", 50, 0.0)


def _ddpm(schedule: str, **kw) -> ModelSpec:
    return ModelSpec(f"ddpm-{schedule}", DDPM,
                     {"schedule": schedule, "T": 1000, "channels": 32, "channel_mults": [1, 2, 2],
                      "num_res_blocks": 2, "p_uncond": 0.1, "dropout": 0.1},
                     f"Diffusion ({schedule} schedule)",
                     f"Learns to remove noise step by step ({schedule} noise schedule); draws by denoising pure noise.",
                     epochs=20, lr=5e-4, warmup_steps=500, ema_decay=0.9995, precision="bf16",
                     sampler=DDIM_50, tiny=TINY_UNET, **kw)


TEACHING = ("sample", "interpolate", "training")     # the three models the Sample tab opens with: VAE, GAN, diffusion


SPECS: dict[str, ModelSpec] = {s.name: s for s in [
    _ae(8),
    _ae(32),
    # 15 epochs of plain rebuilding, then 3 that sharpen the decoder against a critic with the encoder frozen
    ModelSpec("ae-grid", Autoencoder, {"grid": 4, "channels": 32, "adversarial": 1.0, "adversarial_start": 15},
              "Autoencoder (7×7 grid)",
              "Keeps a small 7×7 picture of codes (4 numbers per patch, 196 in all); its decoder was finished "
              "against a critic that spots blur, so rebuilds stay sharp. Latent diffusion works on these codes.",
              epochs=18, precision="bf16", tiny={"channels": 8}, featured=("reconstruct",)),
    _vae("vae", "VAE (beta = 1)", "An autoencoder whose codes are pushed towards a bell curve, so random codes decode "
         "to new images.", beta=1.0, featured=(*TEACHING, "reconstruct")),
    _vae("vae-beta0", "VAE (beta = 0)", "The VAE with its bell-curve pressure switched off: sharp rebuilds, messy "
         "code space.", beta=0.0),
    _vae("vae-beta10", "VAE (beta = 10)", "The VAE with strong bell-curve pressure: a tidy code space, blurry "
         "rebuilds.", beta=10.0),
    ModelSpec("vae-2d", VAE, {"latent_dim": 2, "beta": 1.0}, "VAE (2-D)",
              "A VAE with only two code numbers, so its whole code space fits on a flat map.", epochs=20,
              tiny=TINY_CONV, featured=("latent",)),
    _vae("cvae", "Conditional VAE", "A VAE that is also told the class, so you can ask it for one.", featured=(),
         beta=1.0, conditional=True),
    ModelSpec("gan", GAN, {"z_dim": 64, "channels": 32}, "GAN",
              "A generator learns to fool a critic that tells real images from fakes.",
              epochs=30, lr=2e-4, lr_schedule="constant", ema_decay=0.999, tiny={"channels": 8}, featured=TEACHING),
    ModelSpec("cgan", GAN, {"z_dim": 64, "channels": 32, "conditional": True}, "Conditional GAN",
              "A GAN whose generator and critic are both told the class.",
              epochs=30, lr=2e-4, lr_schedule="constant", ema_decay=0.999, tiny={"channels": 8}),
    # MNIST: DPM-Solver++ 10 steps guided only where the noise level is in (0.4, 5.42] scored FID 3.59 against DDIM
    # 50's 4.52, with 14 network runs instead of 100 (checkpoints/mnist/ddpm-linear/referee.json)
    _ddpm("linear", dataset_sampler={"mnist": SamplerSettings("dpm++2m", 10, guidance_interval=(0.4, 5.42))}),
    # Fashion-MNIST's cosine model trained on from 20 to 40 epochs to get closer to its FID bar (see the README)
    # MNIST: UniPC at 8 steps, guided only where the noise level is in (0.4, 5.42], scored FID 3.72 against DDIM 50's
    # 4.09 with 13 network runs instead of 100 (DPM-Solver++ so: 4.43; 10 steps so: 3.70 with 15 runs; fully
    # guided: 10 steps 4.63, 15 steps 4.13), so it is the app's default there
    # (checkpoints/mnist/ddpm-cosine/referee.json). Fashion-MNIST keeps DDIM 50 (DPM++ 10: 22.85)
    _ddpm("cosine", dataset_epochs={"fashion": 40}, featured=(*TEACHING, "diffusion"),
          dataset_sampler={"mnist": SamplerSettings("unipc", 8, guidance_interval=(0.4, 5.42))}),
    # distilled from the cosine DDPM: guidance distillation, then rounds of progressive distillation 32 -> 16 -> 8 -> 4
    # steps, one stage after another by epoch (models/distillation.py); grids are drawn at the current stage's steps
    ModelSpec("ddpm-fast", DistilledDDPM,
              {"schedule": "cosine", "T": 1000, "channels": 32, "channel_mults": [1, 2, 2], "num_res_blocks": 2,
               "p_uncond": 0.1, "dropout": 0.0, "guidance_range": [1.0, 2.5], "start_steps": 32, "final_steps": 4,
               "stage_epochs": [2, 2, 3, 3]},
              "Fast diffusion (4 steps)",
              "The cosine diffusion model taught to draw in 4 steps instead of 50: first to follow a class in one "
              "network run instead of two, then, three times over, to land in one step where its teacher lands in two.",
              epochs=10, batch_size=64, lr=1e-4, lr_schedule="constant", ema_decay=0.999, precision="bf16",
              base="ddpm-cosine", sampler=SamplerSettings("ddim", None), tiny=TINY_UNET,   # its own steps
              # Fashion-MNIST, 4 steps (2,000 pictures): FID 15.2 at guidance 1.25, 13.6 at 1, 13.2 at 1.1, the class
              # right 97 % of the time at each; so it draws clothes at 1.1 (10,000 pictures: checkpoints/fashion/
              # ddpm-fast/referee.json). Round 3 ran 2 epochs longer there (its losses were still falling)
              dataset_guidance={"fashion": 1.1}, dataset_epochs={"fashion": 12}),
    # MNIST: DPM-Solver++ 20 steps scored FID 4.09 against DDIM 50's 4.25 (40 network runs instead of 100; 10 steps,
    # fully or mid-way guided, were far off: 12.5 and 15.5) (checkpoints/mnist/ldm/referee.json)
    ModelSpec("ldm", LatentDiffusion,
              {"autoencoder": {"grid": 4, "channels": 32}, "schedule": "cosine", "T": 1000,
               "unet": {"channels": 64, "channel_mults": [1], "num_res_blocks": 2}, "p_uncond": 0.1, "dropout": 0.1},
              "Latent diffusion", "Diffusion run on the autoencoder's small 7×7 grid of codes, then decoded: "
              "16 times fewer positions to denoise at each step.",
              epochs=60, lr=5e-4, warmup_steps=500, ema_decay=0.9995, precision="bf16", base="ae-grid",
              sampler=DDIM_50, dataset_sampler={"mnist": SamplerSettings("dpm++2m", 20)},
              tiny={"autoencoder": {"grid": 4, "channels": 8},
                                     "unet": {"channels": 8, "channel_mults": [1], "num_res_blocks": 1}}),
    # the DDPM's UNet and training recipe, on the straight path: Heun's steps until its own measurements choose
    ModelSpec("flow", FlowMatching,
              {"channels": 32, "channel_mults": [1, 2, 2], "num_res_blocks": 2, "p_uncond": 0.1, "dropout": 0.1},
              "Flow matching", "Learns to move noise to a picture along a straight line, so a few large steps "
              "draw a picture.",
              epochs=20, lr=5e-4, warmup_steps=500, ema_decay=0.9995, precision="bf16",
              sampler=SamplerSettings("heun", 5), tiny=TINY_UNET),
    # one network run with no adversary: the flow-matching model taught to jump (models/mean_flow.py); it trains in
    # float32 (the Jacobian-vector product of its target has no bfloat16 path): a batch of 128 took about 7 s on a
    # 2-core Xeon with AMX, some 55 minutes an epoch (measured beside another job: an estimate)
    ModelSpec("meanflow", MeanFlow, {"channels": 32, "channel_mults": [1, 2, 2], "num_res_blocks": 2, "p_uncond": 0.1,
                                     "dropout": 0.0, "jump_share": 0.25},
              "MeanFlow (1 step)", "The flow-matching model taught to jump from noise to a picture in one network "
              "run, by learning the average velocity over the whole way.",
              epochs=10, lr=1e-4, warmup_steps=200, ema_decay=0.999, base="flow",
              sampler=SamplerSettings("jump", 1), tiny=TINY_UNET),
    # exact likelihoods: 10 epochs of the gated PixelCNN take about 3.6 hours on a 2-core Xeon with AMX (bf16,
    # 1,300 s an epoch); the flow about 100 minutes (fp32, 580 s an epoch: its log-determinants sum 784 pixels)
    ModelSpec("pixelcnn", PixelCNN, {"channels": 64, "layers": 8, "kernel": 5, "first_kernel": 7, "hidden": 256,
                                     "p_uncond": 0.1},
              "PixelCNN", "Draws one pixel at a time, each from the pixels before it, and says exactly how likely "
              "a picture is.",
              epochs=10, lr=1e-3, warmup_steps=500, ema_decay=0.999, precision="bf16",
              tiny={"channels": 8, "layers": 2, "hidden": 16}),
    ModelSpec("glow", NormalizingFlow, {"hidden": 96, "steps": [4, 8, 8], "p_uncond": 0.1},
              "Normalizing flow", "Turns noise into a picture with steps that can be run backwards exactly, and "
              "says exactly how likely a picture is.",
              epochs=10, lr=1e-3, warmup_steps=500, ema_decay=0.999,
              tiny={"hidden": 8, "steps": [1, 2, 2]}),
    ModelSpec("classifier", Classifier, {"channels": 32, "feature_dim": 128}, "Evaluator classifier",
              "Recognises the class of an image; used to score the other models.", epochs=8, lr=2e-3,
              tiny={"channels": 8, "feature_dim": 32}),
]}

def generative() -> list[str]:
    """Every generative model in the registry, in its order (read at each call: a test may register a family)."""
    return [name for name, s in SPECS.items() if s.generative]


GENERATIVE = generative()


def featured(tab: str) -> list[str]:
    """The models a tab shows before a visitor chooses (registry order)."""
    return [name for name, s in SPECS.items() if tab in s.featured]


def get_spec(name: str) -> ModelSpec:
    if name not in SPECS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(SPECS)}")
    return SPECS[name]


def sampler_settings(name: str, dataset: str) -> Optional[SamplerSettings]:
    """The app's sampler settings for a model on ``dataset`` (its registry entry's, guided with the dataset's
    strength unless the model has its own there); None for a model that draws in one pass."""
    spec = get_spec(name)
    chosen = spec.dataset_sampler.get(dataset, spec.sampler)
    if chosen is None:
        return None
    return chosen.replace(guidance=spec.dataset_guidance.get(dataset, default_guidance(dataset)))


def sampler_options(name: str, dataset: str, sampler: Optional[str] = None, steps: Optional[int] = None,
                    guidance: Optional[float] = None) -> dict[str, Any]:
    """``sampler_settings`` with the sampler, steps or guidance changed, as ``sample``'s keyword arguments; ``{}``
    for a model that draws in one pass. A sampler outside the model's own vocabulary leaves it with its own. DDPM
    walks every one of the model's T steps with eta = 1; DDIM and DPM-Solver++ are deterministic."""
    settings = sampler_settings(name, dataset)
    if settings is None:
        return {}
    if sampler is not None and sampler not in get_spec(name).cls.samplers:
        sampler = None                  # a sampler of another family: the model draws with its own
    settings = settings.replace(sampler=sampler, guidance=guidance)
    if settings.sampler != "ddpm":
        settings = settings.replace(steps=steps)
    return settings.options()


def describe_sampler(name: str, dataset: str) -> str:
    """The app's default sampler for a model on ``dataset``, in words (recorded beside the referee's scores)."""
    s = sampler_settings(name, dataset)
    if s is None:
        return "the model's only sampler"
    steps = f"{s.steps} steps" if s.steps else "the steps it was distilled for"
    words = f"{s.sampler.upper()}, {steps}, guidance {s.guidance:g}"
    if s.guidance_interval is not None:
        low, high = s.guidance_interval
        words += f" in the middle of the drawing only (noise level {low:g} to {high:g})"
    return words


def training_order() -> list[str]:
    """Names in an order where every model comes after the one it builds on."""
    names = [n for n in SPECS if SPECS[n].base is None]
    return names + [n for n in SPECS if SPECS[n].base is not None]

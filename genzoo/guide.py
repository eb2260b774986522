"""The model guide: what each model can do (read from the models themselves), how it is
built (its layers, from the module), how it was trained, and its key equation."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from models import GAN, GenerativeModel, ZooModel, count_parameters
from models.samplers import SamplerSettings

from .measurements import Measurements
from .registry import SPECS

CAPABILITY_HEADERS = ["model", "draws new pictures", "can be told the class", "rebuilds a given picture",
                      "has a code space to walk", "likelihood (or a bound)", "network runs per picture"]


LIKELIHOOD_WORDS = {"exact": "exact, in nats", "ode": "exact, through its ODE (estimated), in nats",
                    "bound": "a lower bound (the ELBO), in nats", "none": "no"}


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


def capabilities(model: ZooModel, title: str, default_sampler: dict) -> list:
    """One row of the capability table, read off the model object."""
    gen = isinstance(model, GenerativeModel)
    evals = model.network_evaluations(**default_sampler) if gen else None
    if gen and default_sampler.get("sampler") not in (None, "ddpm"):
        ddpm = model.network_evaluations(sampler="ddpm", guidance=1.0) if "ddpm" in model.samplers else evals
        how = SamplerSettings(default_sampler["sampler"], default_sampler["steps"] or model.default_sampler.steps,
                              guidance_interval=default_sampler.get("guidance_interval"))
        fully = "" if how.guidance_interval else ", guided"         # mid-way guidance says so itself
        original = f"; DDPM: {ddpm}" if ddpm != evals else ""       # a distilled model has no 1,000-step sampler
        evals = f"{evals} ({how.words()}{fully}){original}"
    return [title, yes(gen), yes(gen and model.conditional), yes(model.can_encode),
            yes(gen and model.latent_dim is not None), LIKELIHOOD_WORDS[model.likelihood],
            evals if gen else "—"]


@torch.no_grad()
def layer_table(model: ZooModel) -> list[list]:
    """Leaf layers in the order they run, with output shape and parameter count, from one small forward pass."""
    rows: dict[str, list] = {}
    hooks = []

    def hook(name):
        def fn(module, inputs, output):
            if isinstance(output, tuple):
                output = output[0]
            if name not in rows and torch.is_tensor(output):
                rows[name] = [name, type(module).__name__, "×".join(str(d) for d in output.shape[1:]),
                              sum(p.numel() for p in module.parameters(recurse=False))]
        return fn

    def counted(module):   # leaf layers, and containers that own parameters themselves (attention)
        return not list(module.children()) or any(True for _ in module.parameters(recurse=False))

    for name, module in model.named_modules():
        if name and counted(module):
            hooks.append(module.register_forward_hook(hook(name)))
    try:
        x = torch.zeros(1, 1, 28, 28, device=model.device)       # where the model is (run through the boundary)
        if isinstance(model, GenerativeModel):
            label = torch.zeros(1, dtype=torch.long, device=model.device) if model.conditional else None
            if model.can_encode:        # encoder, then decoder: the order a picture runs through them
                model.reconstruct(x, label)
            opts = {"steps": 1} if model.samplers else {}
            model.sample(1, generator=torch.Generator().manual_seed(0), **opts)
            if isinstance(model, GAN):
                model.discriminator(x, label)
        else:
            model(x)
    finally:
        for h in hooks:
            h.remove()
    own = sum(p.numel() for p in model.parameters(recurse=False))
    if own:                             # numbers the model keeps itself, outside any layer (a table of values)
        rows[""] = ["(its own table of numbers)", type(model).__name__, "—", own]
    # layers that did not run (none expected) still appear, without a shape
    for name, module in model.named_modules():
        if name and counted(module) and name not in rows:
            rows[name] = [name, type(module).__name__, "—", sum(p.numel() for p in module.parameters(recurse=False))]
    return list(rows.values())


def training_facts(history: dict, model: nn.Module) -> str:
    epochs = history.get("epochs", [])
    minutes = sum(e.get("time_s", 0) for e in epochs) / 60
    return (f"{count_parameters(model):,} parameters · trained {len(epochs)} epochs in {minutes:.0f} min on "
            f"{history.get('hardware', 'unknown hardware')}")


REASONABLE = 5     # "reasonable quality": FID at most this many times the best model's


def advice(metrics: Optional[Measurements]) -> str:
    """'Which model should I use?' in three sentences, from the measured scoreboard."""
    if not metrics:
        return ("No measurements yet. In general: diffusion for the best pictures if you can wait, a GAN for sharp "
                "pictures fast, a VAE when you need codes you can walk through or a likelihood.")
    res = list(metrics.models.values())

    def ms(r):
        return float("inf") if r.ms_per_image is None else r.ms_per_image

    best = min(res, key=lambda r: r.fid)
    # the fastest of the models whose pictures are of reasonable quality: FID within REASONABLE times the best
    fast = min([r for r in res if r.fid <= REASONABLE * best.fid], key=ms)
    walkers = [r for r in res if SPECS[r.name].cls.can_encode and r.smoothness is not None]
    refereed = [r for r in res if r.referee_fid is not None]
    second = min(refereed, key=lambda r: r.referee_fid) if best in refereed else None
    opinion = ("" if second is None else " The referee, a scorer trained apart from this project, agrees." if
               second is best else f" The referee, a scorer trained apart from this project, ranks **{second.title}** "
               f"first instead (its FID {second.referee_fid:.2f} against {best.referee_fid:.2f}).")
    s = [f"For the most realistic pictures use **{best.title}** (FID {best.fid:.2f}), at {ms(best):.1f} ms "
         f"per picture.{opinion}",
         f"For speed use **{fast.title}**: {ms(fast):.2f} ms per picture at FID {fast.fid:.2f}, the fastest "
         f"of the models whose FID is within {REASONABLE:g}× the best."]
    if walkers:
        smooth = min(walkers, key=lambda r: r.smoothness)
        s.append(f"To rebuild pictures or walk a code space use **{smooth.title}** (interpolation smoothness "
                 f"{smooth.smoothness:.2f}).")
    return " ".join(s)

"""Sample: the same seed through several models, side by side, with the time each took."""
from __future__ import annotations

import random
from typing import Sequence

import gradio as gr

from models.samplers import SAMPLER_WORDS, SamplerSettings

from ..registry import SPECS, featured, generative
from ..sampling import DrawRequest
from ..zoo import Zoo
from .common import (Built, Gallery, Progress, api, caption, friendly, gallery, HEAVY, known_names, MAX_SAMPLES,
                     MAX_SEED, model_choices, on_load, progress_adapter, redraw, title)
from .drawing import draw, long_work, step_words
from .inputs import clamp_int
from . import nearest
from .turns import takes_turn
from .inputs import CheckboxGroup, Number, Radio, Slider
from .text import TEXT


OWN = "own"      # each diffusion model's own measured default (the registry's), not one sampler for all


def chosen_sampler(sampler: str, steps) -> dict:
    """The sampler settings a visitor chose, as overrides of each model's own."""
    return {} if sampler == OWN else {"sampler": sampler, "steps": steps}


def sample_view(zoo: Zoo, dataset: str, names: Sequence[str], n: int = 16, seed: int = 0, sampler: str = OWN,
                steps: int = 50, progress: Progress = None) -> Gallery:
    names = known_names(names)
    if not names:
        raise ValueError("pick at least one model")
    n = clamp_int(n, 1, MAX_SAMPLES, "number of images")
    seed = clamp_int(seed, 0, MAX_SEED, "seed")
    out = []
    for i, name in enumerate(names):
        if progress:
            progress(i / len(names), f"drawing from {title(name)}")
        request = DrawRequest.at_defaults(dataset, name, n, seed, None, **chosen_sampler(sampler, steps))
        img, secs = draw(zoo, request, step_words(progress, i, len(names), name))
        options = dict(request.options)
        own = SPECS[name].cls.samplers
        note = (f" (keeps its own sampler: {SamplerSettings(options['sampler'], options['steps']).words()})"
                if own and sampler != OWN and sampler not in own else "")
        out.append((img, f"{caption(zoo, dataset, name)} — {secs:.2f} s{note}"))
    return out


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    names = generative()
    ready = zoo.ready(default)
    with gr.Tab("Sample", id="sample"):
        gr.Markdown(TEXT["sample"])
        with gr.Row():
            models = CheckboxGroup(model_choices(zoo, default, names), label="Models",
                                      value=[n for n in featured("sample") if n in ready], scale=3)
            with gr.Column(scale=1):
                n = Slider(1, MAX_SAMPLES, value=16, step=1, label="How many pictures")
                seed = Number(value=0, precision=0, minimum=0, maximum=MAX_SEED, label="Seed")
        with gr.Accordion("Step-by-step settings (diffusion, flow matching)", open=False):
            # every sampler any model offers, in the words its family gave it; a model keeps its own sampler when
            # asked for another family's
            offered = dict.fromkeys(name for n in names for name in SPECS[n].cls.samplers)
            sampler = Radio([("Each model's own: the fastest measured to be as good as many small steps", OWN)] +
                            [(f"{SAMPLER_WORDS[s][0]} ({SAMPLER_WORDS[s][2]})", s) for s in offered],
                            value=OWN, label="Sampler (a model that lacks the one chosen keeps its own)")
            steps = Slider(1, 200, value=50, step=1,
                           label="Steps, for every sampler but DDPM (more = slower, a little better)")
        with gr.Row():
            go_ = gr.Button("Draw", variant="primary")
            surprise = gr.Button("Surprise me (new seed)")
        out = gallery("Samples (same seed for every model)", elem_id="sample-gallery", strips=True)
        words, nearest_pictures = nearest.panel("sample-nearest")

    @friendly
    @takes_turn(lambda ds, chosen, k, s, smp, st, *_: long_work(zoo, ds, known_names(chosen),
                                                                **chosen_sampler(smp, st)), memoized=True)
    def sample(dataset, models, n, seed, sampler, steps, progress=gr.Progress()):
        """Draw pictures from several generative models with the same seed, side by side, with the seconds each took.

        Args:
            dataset: the dataset, "mnist" (handwritten digits) or "fashion" (Fashion-MNIST clothes)
            models: model names, e.g. ["vae", "gan", "ddpm-cosine"]
            n: how many pictures from each model (1 to 64)
            seed: the seed; the same seed gives the same pictures
            sampler: the step-by-step models' sampler: "own" (each model's measured default), or one of a family's
                own ("ddim", "dpm++2m", "unipc", "ddpm" for diffusion; "euler", "heun" for flow matching); a model
                that lacks it keeps its own
            steps: the steps for any sampler but DDPM (which walks all 1,000)
        """
        return sample_view(zoo, dataset, models, n, seed, sampler, steps, progress_adapter(progress))

    inputs = [dataset, models, n, seed, sampler, steps]
    go_.click(sample, inputs, out, **api("sample"), **HEAVY)

    def clicked(dataset, models, n, seed, sampler, steps, index):
        """The request that drew the clicked row (the models in the order drawn)."""
        names = known_names(models)
        if not 0 <= index < len(names):
            return None
        return DrawRequest.at_defaults(dataset, names[index], clamp_int(n, 1, MAX_SAMPLES, "number of images"),
                                       clamp_int(seed, 0, MAX_SEED, "seed"), None, **chosen_sampler(sampler, steps))

    nearest.wire(zoo, out, inputs, words, nearest_pictures, clicked, "sample_nearest")
    # the opening pictures: drawn for the first visitor, then served from the cache
    demo.load(on_load(sample, 1), inputs, out, **api("sample_on_load"), **HEAVY)
    surprise.click(lambda: random.randint(0, 99_999), None, seed, **api("new_seed")).then(
        sample, inputs, out, **api("sample_new_seed"), **HEAVY)
    built = Built(redraws=[redraw(sample, inputs, [out])])
    return built._replace(tab="sample", link={
        "models": models, "n": n, "seed": seed, "sampler": sampler, "steps": steps})

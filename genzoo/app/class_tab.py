"""Pick a class: every model that can be told the class draws it; diffusion models guided with a chosen strength."""
from __future__ import annotations

from typing import Optional

import gradio as gr

from ..registry import DEFAULT_GUIDANCE, default_guidance
from ..sampling import DrawRequest
from ..zoo import Zoo
from .common import (Built, Gallery, Progress, api, caption, class_dropdown, class_index, class_names, friendly,
                     gallery, HEAVY, MAX_SAMPLES, MAX_SEED, on_load, progress_adapter, redraw, title)
from .drawing import draw, network_runs, step_words
from .inputs import clamp_float, clamp_int
from . import nearest
from .inputs import Number, Slider
from .turns import takes_turn
from .text import TEXT

def guided(zoo: Zoo, dataset: str, name: str, guidance: float) -> float:
    """The strength a model is guided at: ``guidance``, within the range a distilled model learned."""
    lo, hi = zoo.model(dataset, name).guidance_range or (0.0, 10.0)
    return min(max(guidance, lo), hi)


#: the most network runs a picture a model may take to draw in this view, where every model draws at once (DDIM 50,
#: guided: 100); a slower one, such as a model that draws pixel by pixel (784), is asked for in Sample
QUICK_RUNS = 100


def able(zoo: Zoo, dataset: str) -> list[str]:
    """Every model of the dataset that can be told the class and draws quickly enough, in the order drawn."""
    return zoo.ready(dataset, lambda e: e.model.generative and e.model.conditional
                     and network_runs(zoo, dataset, [e.spec.name], 1) <= QUICK_RUNS)


def class_request(zoo: Zoo, dataset: str, class_name, guidance, n, seed, index: int) -> Optional[DrawRequest]:
    """The request that drew the clicked row."""
    names = able(zoo, dataset)
    if not 0 <= index < len(names):
        return None
    guidance = default_guidance(dataset) if guidance is None else clamp_float(guidance, 0, 10, "guidance strength")
    return DrawRequest.at_defaults(dataset, names[index], clamp_int(n, 1, MAX_SAMPLES, "number of images"),
                                   clamp_int(seed, 0, MAX_SEED, "seed"), class_index(dataset, class_name),
                                   guidance=guided(zoo, dataset, names[index], guidance))


def class_view(zoo: Zoo, dataset: str, class_name, n: int = 8, seed: int = 0, guidance: Optional[float] = None,
               progress: Progress = None) -> Gallery:
    """Every class-conditional model's pictures of one class; the diffusion models guided with ``guidance``
    (default: the dataset's strength)."""
    k = class_index(dataset, class_name)
    n = clamp_int(n, 1, MAX_SAMPLES, "number of images")
    seed = clamp_int(seed, 0, MAX_SEED, "seed")
    guidance = default_guidance(dataset) if guidance is None else clamp_float(guidance, 0, 10, "guidance strength")
    out = []
    names = able(zoo, dataset)
    for i, name in enumerate(names):
        if progress:
            progress(i / len(names), f"drawing from {title(name)}")
        lo, hi = zoo.model(dataset, name).guidance_range or (0.0, 10.0)   # a distilled model learned a range
        g = guided(zoo, dataset, name, guidance)
        img, secs = draw(zoo, DrawRequest.at_defaults(dataset, name, n, seed, k, guidance=g),
                         step_words(progress, i, len(names), name))
        note = f" (guided at {g:g}: it learned strengths {lo:g} to {hi:g})" if g != guidance else ""
        out.append((img, f"{caption(zoo, dataset, name)} — {secs:.2f} s{note}"))
    if not out:
        raise ValueError("no class-conditional model is available for this dataset")
    return out


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    names = list(class_names(default))
    with gr.Tab("Pick a class", id="class"):
        gr.Markdown(TEXT["class"])
        with gr.Row():
            cls = class_dropdown(names, value=names[3], label="Class")
            guidance = Slider(0, 6, value=default_guidance(default), step=0.25,
                                 label="Guidance strength (diffusion models)", elem_id="guidance",
                                 info="0 = ignore the class · 1 = follow it · higher = more typical, less varied. "
                                      "It starts where this dataset's pictures measured best.")
            n = Slider(1, 32, value=8, step=1, label="How many pictures")
            seed = Number(value=0, precision=0, minimum=0, label="Seed")
        go_ = gr.Button("Draw this class", variant="primary")
        out = gallery("Each model's pictures of the class", elem_id="class-gallery", strips=True)
        words, nearest_pictures = nearest.panel("class-nearest")

    @friendly
    @takes_turn(memoized=True)
    def pick_class(dataset, label, guidance, n, seed, progress=gr.Progress()):
        """Ask every model that can be told a class for pictures of that class.

        Args:
            dataset: the dataset, "mnist" or "fashion"
            label: the class, e.g. "7" for MNIST or "Sneaker" for Fashion-MNIST
            guidance: guidance strength for the diffusion models (0 to 6; higher is more clearly the class, less varied)
            n: how many pictures from each model
            seed: the seed
        """
        return class_view(zoo, dataset, label, n, seed, guidance, progress_adapter(progress))

    go_.click(pick_class, [dataset, cls, guidance, n, seed], out, **api("pick_class"), **HEAVY)
    nearest.wire(zoo, out, [dataset, cls, guidance, n, seed], words, nearest_pictures,
                 lambda *args: class_request(zoo, *args), "pick_class_nearest")
    demo.load(on_load(pick_class, 1), [dataset, cls, guidance, n, seed], out, **api("pick_class_on_load"),
              **HEAVY)
    def follow(ds, g):
        """The guidance slider moves to the dataset's own strength, unless the visitor (or a link) chose another."""
        return default_guidance(ds) if g is None or float(g) in DEFAULT_GUIDANCE.values() else gr.skip()

    dataset.change(follow, [dataset, guidance], guidance, **api("guidance_on_switch"))
    built = Built([cls], [redraw(pick_class, [dataset, cls, guidance, n, seed], [out])])
    return built._replace(tab="class", link={"class": cls, "guidance": guidance, "n": n, "seed": seed})

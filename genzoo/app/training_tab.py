"""Training: every model's pictures from one fixed noise batch after chosen epochs, and its loss curves."""
from __future__ import annotations

import functools
from typing import Sequence

import gradio as gr
import numpy as np
import plotly.graph_objects as go
from PIL import Image

from .. import plots
from ..registry import featured, generative
from ..zoo import Zoo
from .common import (Built, Gallery, api, friendly, gallery, known_names, LIGHT, model_choices, on_load, title)
from .inputs import clamp_int
from .inputs import CheckboxGroup, Slider
from .text import TEXT


def epochs_available(zoo: Zoo, dataset: str, name: str) -> list[int]:
    e = zoo.entries.get(dataset, {}).get(name)
    if e is None or e.folder is None or not (e.folder / "samples").is_dir():
        return []
    return sorted(int(p.stem.split("_")[1]) for p in (e.folder / "samples").glob("epoch_*.png"))


def training_view(zoo: Zoo, dataset: str, names: Sequence[str], epoch: int) -> Gallery:
    names = known_names(names)
    epoch = clamp_int(epoch, 1, 10_000, "epoch")
    out = []
    for name in names:
        e = zoo.entry(dataset, name)
        have = epochs_available(zoo, dataset, name)
        if not have:
            continue
        shown = max([k for k in have if k <= epoch] or [have[0]])
        with Image.open(e.folder / "samples" / f"epoch_{shown:03d}.png") as im:
            img = im.convert("L")
        img = img.resize((img.width * 2, img.height * 2), Image.NEAREST)
        done, planned = e.epochs_done
        still = f" (training under way: {done} of {planned} epochs so far)" if e.in_training else ""
        out.append((img, f"{title(name)} — epoch {shown} of {done}{still}"))
    return out


def loss_curves(zoo: Zoo, dataset: str, names: Sequence[str]) -> tuple[go.Figure, go.Figure]:
    """Training / test loss per epoch for each model, and the GANs' D(x) and D(G(z))."""
    names = known_names(names)
    series, gan_series = {}, {}
    for name in names:
        hist = zoo.entry(dataset, name).history.get("epochs", [])
        if not hist:
            continue
        ep = np.array([h["epoch"] for h in hist])
        if "loss_d" in hist[0]:
            for key, label in (("loss_d", "critic loss"), ("loss_g", "generator loss")):
                series[f"{title(name)}: {label}"] = (ep, np.array([h[key] for h in hist]))
            for key, label in (("d_real", "D(real image)"), ("d_fake", "D(generated image)")):
                gan_series[f"{title(name)}: {label}"] = (ep, np.array([h[key] for h in hist]))
        else:
            series[f"{title(name)}: training"] = (ep, np.array([h["loss"] for h in hist]))
            if "test_loss" in hist[0]:
                series[f"{title(name)}: test"] = (ep, np.array([h["test_loss"] for h in hist]))
    loss = plots.lines(series, "Loss per epoch (lower is better; each model has its own scale)", "epoch", "loss",
                       log_y=bool(series) and all((s[1] > 0).all() for s in series.values()))
    gan = plots.lines(gan_series, "GAN critic's verdicts: probability it says 'real'", "epoch", "D(·)")
    return loss, gan


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    names = generative()
    ready = zoo.ready(default)
    with gr.Tab("Training", id="training"):
        gr.Markdown(TEXT["training"])
        models = CheckboxGroup(model_choices(zoo, default, names), label="Models",
                                  value=[n for n in featured("training") if n in ready])
        last = max([e for n in names for e in epochs_available(zoo, default, n)] or [1])
        epoch = Slider(1, max(last, 2), value=last, step=1, label="Epoch (all models in step; they open at the end)")
        grids = gallery("Samples from the same fixed noise after that epoch", columns=3, elem_id="training-gallery")
        show = gr.Button("Show loss curves", variant="primary")
        with gr.Row():
            loss = gr.Plot(label="Losses", elem_id="loss-plot")
            gan = gr.Plot(label="GAN critic")
    view = friendly(functools.partial(training_view, zoo))
    epoch.release(view, [dataset, models, epoch], grids, **api("training_grids"), **LIGHT)
    models.change(view, [dataset, models, epoch], grids, **api("training_grids_models"), **LIGHT)
    curves = friendly(functools.partial(loss_curves, zoo))
    show.click(curves, [dataset, models], [loss, gan], **api("loss_curves"), **LIGHT)
    for event, when in ((demo.load, "load"), (dataset.change, "switch")):     # opened, and the dataset changed
        event(on_load(view, 1), [dataset, models, epoch], grids, **api(f"training_grids_on_{when}"), **LIGHT)
        event(on_load(curves, 2), [dataset, models], [loss, gan], **api(f"loss_curves_on_{when}"), **LIGHT)
    built = Built()
    return built._replace(tab="training", link={"models": models, "epoch": epoch})

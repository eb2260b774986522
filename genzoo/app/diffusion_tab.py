"""How diffusion works: the noise schedules, a picture noised to step t, and the reverse process step by step."""
from __future__ import annotations

import functools

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image


from models.samplers import SamplerSettings

from .. import explore, plots
from ..imaging import grid_pil
from ..metrics import path_bend
from ..registry import SPECS, default_guidance, featured
from ..zoo import Zoo
from .common import (Built, Gallery, Progress, api, big, class_dropdown, class_index, class_names, friendly,
                     gallery, HEAVY, LIGHT, MAX_SEED, model_choices, on_load, progress_adapter, redraw, test_image,
                     title)
from .memo import Memo
from .drawing import sampler_options
from .inputs import clamp_float, clamp_int
from .inputs import Dropdown, Number, Slider
from .turns import takes_turn
from .text import TEXT

REVERSE, TRACES, SCRUBBED, PATHS = Memo(), Memo(8), Memo(64), Memo(16)
SCRUB_STEPS = 20
PATH_STEPS = 40         # steps a path is traced with (a distilled model walks its own few)


def scrubbable() -> list[str]:
    """Diffusion models whose guided answer splits into a class and a no-class part (pixel and latent alike)."""
    return [n for n in diffusion_models() if SPECS[n].cls.guidance_parts]


def diffusion_models() -> list[str]:
    """Every model that draws by denoising (pixel or latent)."""
    return [n for n, s in SPECS.items() if s.generative and s.cls.samplers]


@functools.lru_cache(maxsize=1)
def schedule_figures() -> tuple[go.Figure, go.Figure, go.Figure]:
    c = explore.schedule_curves()
    t = np.arange(len(c["linear"]["beta"]))
    beta = plots.lines({k: (t, v["beta"]) for k, v in c.items()}, "β_t: noise added at each step", "step t", "β_t")
    abar = plots.lines({k: (t, v["alpha_bar"]) for k, v in c.items()}, "ᾱ_t: share of the image left", "step t",
                       "ᾱ_t")
    snr = plots.lines({k: (t, v["snr"]) for k, v in c.items()}, "Signal-to-noise ratio ᾱ_t / (1 − ᾱ_t)",
                      "step t", "SNR (log scale)", log_y=True)
    return beta, abar, snr


def noising_view(zoo: Zoo, dataset: str, class_name, index, t: int) -> Gallery:
    t = clamp_int(t, 0, 999, "step t")
    x, _ = test_image(zoo, dataset, class_name, index)
    return [(big(x[0]), "clean image")] + [
        (big(explore.noised(x, t, s)[0]), f"{s} schedule at t = {t}") for s in ("linear", "cosine")]


def reverse_view(zoo: Zoo, dataset: str, name: str, class_name, seed: int = 0, steps: int = 50,
                 progress: Progress = None) -> tuple[Gallery, Image.Image]:
    if name not in diffusion_models():
        raise ValueError(f"{name!r} is not a diffusion model; choose one of {', '.join(diffusion_models())}")
    model = zoo.model(dataset, name)
    seed = clamp_int(seed, 0, MAX_SEED, "seed")
    steps = clamp_int(steps, 2, 1000, "steps")
    k = None if class_name in (None, "", "any") else class_index(dataset, class_name)
    g = torch.Generator().manual_seed(seed)
    labels = torch.tensor([k]) if k is not None else None
    cb = (lambda i, n: progress(i / n, f"denoising step {i} of {n}")) if progress else None

    def compute():
        opts = sampler_options(name, dataset, steps=steps)
        opts.pop("steps")
        opts.pop("sampler")
        final, frames = model.run(explore.reverse_pictures, model.noise(1, g), labels, steps, min(10, steps),
                                  generator=g, progress=cb, runs=model.network_evaluations(steps=steps, **opts), **opts)
        tiles = [(big(pair[0]), f"t = {t}: noisy image | its guess of the end result") for t, pair in frames]
        return tiles, big(final[0])

    return REVERSE.get((zoo, dataset, name, k, seed, steps), compute)


def path_models(zoo: Zoo, dataset: str) -> list[str]:
    """The models whose drawing follows a path among pictures (pixel diffusion, its student, flow matching)."""
    return zoo.ready(dataset, lambda e: e.model.generative and e.model.path_sampler is not None)


def straightness_view(zoo: Zoo, dataset: str, class_name, seed: int = 0) -> tuple[Gallery, go.Figure]:
    """One noise and class through every path model: each path as a strip of pictures, and how far it strays from
    the straight line between its noise and its picture."""
    k = class_index(dataset, class_name)
    seed = clamp_int(seed, 0, MAX_SEED, "seed")
    names = path_models(zoo, dataset)
    if not names:
        raise ValueError(f"no model that draws along a path is available for {dataset}")

    def compute():
        noise = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
        tiles, curves = [], {}
        for name in names:
            model = zoo.model(dataset, name)
            lo, hi = model.guidance_range or (0.0, 10.0)
            g = min(max(default_guidance(dataset), lo), hi)
            steps = None if model.distilled else PATH_STEPS
            settings = SamplerSettings(model.path_sampler, steps or model.default_sampler.steps)
            states, pictures = model.run(explore.trace_path, noise, torch.tensor([k]), steps, g,
                                         runs=model.network_evaluations(sampler=model.path_sampler, steps=steps,
                                                                        guidance=g))
            bend, along, off = path_bend(states)
            tiles.append((grid_pil(pictures, nrow=len(pictures), scale=3),
                          f"{title(name)} — {settings.words()}: strays at most {bend:.0%} of the distance from "
                          f"noise to picture off the straight line"))
            curves[f"{title(name)}: {bend:.0%}"] = (along, off)
        figure = plots.lines(curves, "How far each path strays from the straight line", "share of the way from "
                             "noise (0) to picture (1)", "distance off the straight line (share of its length)")
        return tiles, figure

    return PATHS.get((zoo, dataset, k, seed), compute)


def scrub_view(zoo: Zoo, dataset: str, name: str, class_name, seed: int, guidance: float, step: int
               ) -> tuple[Gallery, str]:
    """Step ``step`` (1 = pure noise) of a 20-step DDIM drawing: x_t, the network's guess of the final picture, its
    guess of the noise, and that guess's two parts with the guidance sum."""
    if name not in scrubbable():
        raise ValueError(f"choose one of {', '.join(scrubbable())} (models whose guidance has two parts)")
    model = zoo.model(dataset, name)
    seed = clamp_int(seed, 0, MAX_SEED, "seed")
    i = clamp_int(step, 1, SCRUB_STEPS, "step") - 1
    k = class_index(dataset, class_name)
    guidance = clamp_float(guidance, 0, 5, "guidance")

    def compute():
        trace = TRACES.get((zoo, dataset, name, k, seed, guidance),
                           lambda: model.run(explore.denoising_trace, seed, torch.tensor([k]), SCRUB_STEPS, guidance,
                                             runs=2 * SCRUB_STEPS))
        t, xt, x0 = trace.frames[i]
        p = model.run(explore.step_pictures, xt, x0, t, trace.labels, guidance, runs=2)
        symbol, what = model.predicts          # the noise (diffusion) or a velocity (flow matching)
        word = what.removeprefix("the ")
        tiles = [(big(p["state"][0]), f"step {i + 1} of {SCRUB_STEPS} (t = {t}): noisy x_t"),
                 (big(p["final"][0]), "guess: the final picture"),
                 (big(p["eps"][0]), f"guess: {what} {symbol} (s = {guidance:g})"),
                 (big(p["eps_u"][0]), f"{word} guess, no class"),
                 (big(p["eps_c"][0]), f"{word} guess, with class"),
                 (big(p["push"][0]), "the class's push (×10)")]
        return tiles, explore.guidance_sum(p["eps_u_raw"], p["eps_c_raw"], guidance, symbol)

    return SCRUBBED.get((zoo, dataset, name, k, seed, guidance, i), compute)


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    names = list(class_names(default))
    with gr.Tab("Diffusion", id="diffusion"):
        gr.Markdown(TEXT["diffusion"])
        with gr.Row():
            beta, abar, snr = (gr.Plot(label="β_t", elem_id="beta-plot"), gr.Plot(label="ᾱ_t"),
                               gr.Plot(label="signal-to-noise"))
        gr.Markdown("### Adding noise")
        with gr.Row():
            cls = class_dropdown(names, value=names[5], label="Picture: class")
            idx = Number(value=0, precision=0, minimum=0, label="Picture: number")
            t = Slider(0, 999, value=300, step=1, label="Step t (0 = clean, 999 = pure noise)")
        noised = gallery("The same picture at step t", columns=3, elem_id="noised-gallery")
        gr.Markdown("### Removing noise, step by step")
        with gr.Row():
            model = Dropdown(model_choices(zoo, default, diffusion_models()), value=featured("diffusion")[0],
                                label="Model")
            target = class_dropdown(["any"] + names, value="any",
                                    label="Class to draw (any: the model's own “no class” input)")
            seed = Number(value=0, precision=0, minimum=0, label="Seed")
            steps = Slider(10, 200, value=50, step=1, label="Steps")
        go_ = gr.Button("Run the reverse process", variant="primary")
        with gr.Row():
            frames = gallery("Snapshots: noisy picture | the network's guess", columns=5, elem_id="reverse-gallery")
            final = gr.Image(label="Result", type="pil", format="png", height=200)
        gr.Markdown(TEXT["straightness"])
        with gr.Row():
            path_class = class_dropdown(names, value=names[3], label="Class")
            path_seed = Number(value=0, precision=0, minimum=0, label="Seed (the noise every path starts from)")
            path_go = gr.Button("Trace the paths", variant="primary")
        path_tiles = gallery("From the same noise: each model's path, noise (left) to picture (right)",
                             elem_id="path-gallery", strips=True)
        path_plot = gr.Plot(label="How straight is each path?", elem_id="path-plot")
        gr.Markdown(TEXT["scrubber"])
        with gr.Row():
            scrub_model = Dropdown(model_choices(zoo, default, scrubbable()), value=scrubbable()[0], label="Model")
            scrub_class = class_dropdown(names, value=names[2], label="Class")
            scrub_seed = Number(value=0, precision=0, minimum=0, label="Seed")
            scrub_guidance = Slider(0, 5, value=1.5, step=0.25, label="Guidance strength s")
        scrub_step = Slider(1, SCRUB_STEPS, value=1, step=1, label=f"Step (1 = pure noise, {SCRUB_STEPS} = the "
                            "last): drag to scrub", elem_id="scrub-step")
        scrub_tiles = gallery("One step of the drawing", columns=6, elem_id="scrub-gallery")
        scrub_sum = gr.Markdown(elem_id="scrub-sum")
    demo.load(on_load(friendly(schedule_figures), 3), None, [beta, abar, snr], **api("schedules"), **LIGHT)
    noising = friendly(functools.partial(noising_view, zoo))
    t.release(noising, [dataset, cls, idx, t], noised, **api("noising"), **LIGHT)
    demo.load(noising, [dataset, cls, idx, t], noised, **api("noising_on_load"), **LIGHT)

    @friendly
    @takes_turn(memoized=True)
    def run(ds, m, c, s, st, progress=gr.Progress()):
        return reverse_view(zoo, ds, m, c, s, st, progress_adapter(progress))

    go_.click(run, [dataset, model, target, seed, steps], [frames, final], **api("reverse_process"),
              **HEAVY)
    demo.load(on_load(run, 2), [dataset, model, target, seed, steps], [frames, final],
              **api("reverse_process_on_load"),
              **HEAVY)
    @friendly
    @takes_turn(memoized=True)
    def paths(ds, c, s):
        """One starting noise and class through every model that draws along a path among pictures (diffusion
        with DDIM, its 4-step student, flow matching), with how far each path strays from a straight line.

        Args:
            dataset: the dataset, "mnist" or "fashion"
            c: the class, e.g. "3" or "Dress"
            s: the seed of the starting noise
        """
        return straightness_view(zoo, ds, c, s)

    path_inputs = [dataset, path_class, path_seed]
    path_go.click(paths, path_inputs, [path_tiles, path_plot], **api("straightness"), **HEAVY)
    demo.load(on_load(paths, 2), path_inputs, [path_tiles, path_plot], **api("straightness_on_load"), **HEAVY)

    @friendly
    @takes_turn(memoized=True)
    def scrub(ds, m, c, s, w, i):
        return scrub_view(zoo, ds, m, c, s, w, i)

    scrub_inputs = [dataset, scrub_model, scrub_class, scrub_seed, scrub_guidance, scrub_step]
    # what the visitor does (not what a dataset switch or a link sets: those redraw it below, quietly)
    for event, name in ((scrub_step.input, "scrub"), (scrub_model.input, "scrub_model"),
                        (scrub_class.input, "scrub_class"), (scrub_seed.submit, "scrub_seed"),
                        (scrub_guidance.release, "scrub_guidance")):
        event(scrub, scrub_inputs, [scrub_tiles, scrub_sum], **api(name), **HEAVY,
              trigger_mode="always_last")
    demo.load(on_load(scrub, 2), scrub_inputs, [scrub_tiles, scrub_sum], **api("scrub_on_load"),
              **HEAVY)
    built = Built([cls, target, scrub_class, path_class], [
        redraw(paths, path_inputs, [path_tiles, path_plot]),
        redraw(scrub, scrub_inputs, [scrub_tiles, scrub_sum]),
        redraw(noising, [dataset, cls, idx, t], [noised]),
        redraw(run, [dataset, model, target, seed, steps], [frames, final])])
    return built._replace(tab="diffusion", link={
        "t": t, "picture_class": cls, "picture": idx, "model": model, "class": target, "seed": seed, "steps": steps,
        "scrub_model": scrub_model, "scrub_class": scrub_class, "scrub_seed": scrub_seed, "guidance": scrub_guidance,
        "step": scrub_step, "path_class": path_class, "path_seed": path_seed})

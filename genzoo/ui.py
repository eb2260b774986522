"""The Gradio app: one function builds each tab; callbacks only call ``Views``."""
from __future__ import annotations

import functools
import os
import random
import tempfile
from pathlib import Path
from typing import Callable

import gradio as gr
from gradio import processing_utils
from gradio.data_classes import FileData
from PIL import Image, UnidentifiedImageError

from .data import DATASETS, dataset_info
from .registry import SPECS, default_guidance
from .views import (DIFFUSION_MODELS, LATENT_MODELS, MAX_FRAMES, MAX_SAMPLES, Views)

#: the largest picture read from an upload, checked from its header before anything is decoded
MAX_UPLOAD_PIXELS = 4000 * 4000
Image.MAX_IMAGE_PIXELS = MAX_UPLOAD_PIXELS      # and Pillow refuses twice that anywhere in the process


def save_pil_to_cache(img: Image.Image, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """Gradio's ``save_pil_to_cache``, writing the file under a temporary name and renaming it into place.

    Gradio names a cached picture by a hash of its bytes and rewrites that file in place every time it is returned.
    When two visitors get the same picture at once (the same test image rebuilt, the same point decoded), one
    rewrite truncates the file while the other visitor's browser is downloading it, and that download breaks off
    empty. A rename is atomic, and a file that already exists already holds these bytes, so it is only touched (the
    cache ages files by their change time).
    """
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    target = (folder / f"{name}.{format}").resolve()
    try:
        os.utime(target)
        return str(target)
    except FileNotFoundError:
        pass
    fd, staging = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    with os.fdopen(fd, "wb") as f:
        os.fchmod(fd, 0o644)       # as readable as a file Gradio writes itself
        f.write(data)
    os.replace(staging, target)
    return str(target)


# every image output (Image, Gallery, ImageSlider) saves through this module attribute
processing_utils.save_pil_to_cache = save_pil_to_cache

DATASET_CHOICES = [(info.title, key) for key, info in DATASETS.items()]
HEAVY = "heavy"   # events that run networks share one worker: 2 CPU cores, 2 torch threads

INTRO = """# GenZoo — see how machines learn to draw
Every model here learned from tens of thousands of small pictures of handwritten **digits** or **clothes**, then
draws new ones. Pick a dataset, then explore the tabs: draw samples side by side, ask for a class, walk between two
pictures, look inside a model's code space, and see how each one learned. All numbers are measured, not typed in."""

TEXT = {
    "data": """**The pictures every model learned from.** Each tile shows real training images of one class. Every image is
28 × 28 grey pixels. The table counts the images per class: the models see the 60,000 training images; the 10,000
test images are kept apart to check them fairly.""",
    "sample": """**New pictures from random numbers.** Each model turns the same seed (a starting number for the
randomness) into pictures. Notice that VAE samples look blurry: it learns an average of plausible pictures. GAN samples
are sharp because a critic punished blur, but a GAN can get stuck drawing few kinds. Diffusion models are sharp *and*
varied, yet slow: they denoise step by step, so each picture costs many network runs. The caption gives the time.""",
    "class": """**Ask for a class.** These models were also told the class while learning, so you can ask for one.
For the diffusion models, *guidance strength* trades variety for typicality: at 0 the class is ignored, at 1 it is
followed plainly, and higher values push every picture towards the most typical look of that class — clearer, but
more alike.""",
    "interpolate": """**Walk between two points.** The autoencoders turn both pictures into codes and decode the
straight line between them. The GAN and the diffusion model walk between two random seeds instead. A smooth walk
means similar codes give similar pictures. *Smoothness* = largest step ÷ average step between frames: 1.0 is perfectly
even; big numbers mean a sudden jump. Draw a picture to replace the first endpoint.""",
    "latent": """**Inside a model's code space.** An encoder squeezes each picture into a few numbers, its *code*. Each
dot is one test picture, coloured by class; codes with many numbers are flattened onto the two main directions (PCA).
The VAE's bell-curve pressure (β) makes classes overlap smoothly, so every point decodes to something sensible; the
plain autoencoder leaves gaps. Move the sliders to decode any point, or draw something to see where it lands.""",
    "reconstruct": """**Squeeze and rebuild.** Each autoencoder compresses the picture into its code and rebuilds it.
More code numbers rebuild more detail (8 vs 32). In the VAE, a larger β pushes harder for a tidy code space and
rebuilds worse: β = 0 is sharpest, β = 10 blurriest. The error is the mean squared pixel difference (lower is better).
Your drawing is centred and scaled the way the dataset's pictures were.""",
    "training": """**How each model learned.** Every model drew from the same fixed random numbers after chosen epochs
(one epoch = one pass over the 60,000 pictures). Move the slider to watch all models improve in step. The curves show
the loss each model minimises; for GANs the two players' losses and how often the critic called real and generated
pictures real (0.5 means it can no longer tell).""",
    "diffusion": """**How diffusion works.** Training adds noise to a picture over 1,000 small steps until nothing is
left, and the network learns to undo one step. The *schedule* sets how fast the picture fades: the cosine schedule
keeps more of the picture in the early steps than the linear one. Drawing runs the process backwards from pure
noise; at each step you see the noisy picture and the network's current guess of the final result.""",
    "models": """**The models, explained.** The table says what each model can and cannot do — read from the models
themselves, not typed in. Pick a model below for a plain description, why its pictures look the way they do, the
layers it is built from (with their sizes) and the equation it is trained on.""",
    "scoreboard": """**Which model is best? Measured, not guessed.** A separately trained classifier describes each
picture by 128 numbers. *FID* compares those descriptions for 10,000 generated and 10,000 real pictures (lower = closer
to real). *Precision*: share of generated pictures that look real; *recall*: share of real variety the model covers.
*Class imbalance* is 0 when every class is drawn equally often. *Sharpness* compares edges with real pictures. Speed is
measured on a 2-core CPU, 16 pictures at a time, without asking for a class: asking for one (guidance) runs a diffusion
model's network twice a step, so those pictures take about twice as long.""",
}


def friendly(fn: Callable) -> Callable:
    """Turn the library's ValueErrors into messages shown to the visitor (no traceback)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
    return wrapper


def _uploaded_files(payload) -> list[str]:
    """Paths of the files inside an input's payload (an image, or a sketchpad's background/layers/composite)."""
    parts = [payload] if isinstance(payload, FileData) else [
        getattr(payload, "background", None), getattr(payload, "composite", None), *(getattr(payload, "layers", None) or [])]
    return [p.path for p in parts if isinstance(p, FileData) and p.path]


def _check_picture(path: str, label: str) -> None:
    """Refuse a file that is not a picture, or one too large to decode, reading only its header."""
    try:
        with Image.open(path) as im:
            w, h = im.size
    except Image.DecompressionBombError:
        w = h = None
    except (UnidentifiedImageError, OSError):
        raise gr.Error(f"{label}: this file is not a picture GenZoo can read (use PNG or JPEG)", print_exception=False) from None
    if w is None or w * h > MAX_UPLOAD_PIXELS:
        size = "far too large" if w is None else f"{w:,} × {h:,} pixels"
        raise gr.Error(f"{label}: the picture is {size}; GenZoo reads pictures of up to {MAX_UPLOAD_PIXELS:,} pixels "
                       "(4,000 × 4,000). Make it smaller and try again.", print_exception=False)


def guard_inputs(demo: gr.Blocks) -> None:
    """Give every input control a clear message for values it cannot take (wrong type, missing, not a picture,
    a picture too large), instead of Gradio's generic error. Range checks stay Gradio's own, which already name
    the limit; pictures are checked from their header before any decoding."""
    for block in demo.blocks.values():
        if not isinstance(block, gr.components.Component) or not hasattr(block, "preprocess"):
            continue
        label = block.label or type(block).__name__

        def preprocess(payload, _original=block.preprocess, _label=label, _images=isinstance(block, (gr.Image, gr.ImageEditor))):
            if _images and payload is not None:
                for path in _uploaded_files(payload):
                    _check_picture(path, _label)
            try:
                return _original(payload)
            except gr.Error:
                raise
            except Exception:
                shown = repr(payload) if len(repr(payload)) <= 40 else repr(payload)[:40] + "…"
                raise gr.Error(f"{_label}: {shown} is not a value this control accepts", print_exception=False) from None

        block.preprocess = preprocess


def progress_adapter(progress: gr.Progress):
    return lambda fraction, desc: progress(fraction, desc=desc)


def class_choices(dataset: str) -> list[str]:
    return list(dataset_info(dataset).class_names)


def model_choices(views: Views, dataset: str, names) -> list[tuple[str, str]]:
    return [(SPECS[n].title + ("" if views.zoo.entry(dataset, n).ready else " (unavailable)"), n) for n in names]


def class_dropdown(choices, **kwargs) -> gr.Dropdown:
    """A class picker; its choices follow the dataset, so the server accepts any value and ``Views`` checks it."""
    return gr.Dropdown(choices, allow_custom_value=True, **kwargs)


def sketchpad(label: str, elem_id=None) -> gr.Sketchpad:
    """A square canvas with a thick black brush (pick the brush tool first)."""
    return gr.Sketchpad(label=f"{label} — pick the brush on the left, then draw", elem_id=elem_id, type="numpy",
                        image_mode="RGBA", canvas_size=(280, 280), layers=False, transforms=(),
                        brush=gr.Brush(default_size=22, colors=["#000000"], color_mode="fixed"))


def gallery(label: str, columns: int = 3, height="auto", elem_id=None) -> gr.Gallery:
    return gr.Gallery(label=label, columns=columns, height=height, format="png", object_fit="contain",
                      buttons=["download", "fullscreen"], elem_id=elem_id)


# -- tabs --------------------------------------------------------------------------------
def data_tab(views: Views, dataset: gr.Radio, demo: gr.Blocks) -> None:
    with gr.Tab("Data", id="data"):
        gr.Markdown(TEXT["data"])
        show = gr.Button("Show the data", variant="primary")
        images = gallery("Real training images of each class", columns=5, elem_id="data-gallery")
        counts = gr.Dataframe(headers=["class", "training images", "test images"], label="Images per class", interactive=False)
    fn = friendly(lambda ds: views.data_view(ds))
    show.click(fn, dataset, [images, counts], api_name="data")
    dataset.change(fn, dataset, [images, counts], api_name="data_on_switch")
    demo.load(fn, dataset, [images, counts], api_name="data_on_load")


def sample_tab(views: Views, dataset: gr.Radio, default: str) -> None:
    names = [n for n in SPECS if SPECS[n].generative]
    ready = views.zoo.ready(default)
    with gr.Tab("Sample", id="sample"):
        gr.Markdown(TEXT["sample"])
        with gr.Row():
            models = gr.CheckboxGroup(model_choices(views, default, names), label="Models",
                                      value=[n for n in ("vae", "gan", "ddpm-cosine") if n in ready], scale=3)
            with gr.Column(scale=1):
                n = gr.Slider(1, MAX_SAMPLES, value=16, step=1, label="How many pictures")
                seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**31 - 1, label="Seed")
        with gr.Accordion("Diffusion settings", open=False):
            sampler = gr.Radio([("DDIM (fast, few steps)", "ddim"), ("DDPM (the original: 1,000 steps, slow)", "ddpm")],
                               value="ddim", label="Sampler")
            steps = gr.Slider(5, 200, value=50, step=1, label="DDIM steps (more = slower, a little better)")
        with gr.Row():
            go_ = gr.Button("Draw", variant="primary")
            surprise = gr.Button("Surprise me (new seed)")
        out = gallery("Samples (same seed for every model)", columns=3, elem_id="sample-gallery")

    @friendly
    def run(ds, chosen, k, s, smp, st, progress=gr.Progress()):
        return views.sample_view(ds, chosen, k, s, smp, st, progress_adapter(progress))

    go_.click(run, [dataset, models, n, seed, sampler, steps], out, api_name="sample", concurrency_id=HEAVY)
    surprise.click(lambda: random.randint(0, 99_999), None, seed, api_name="new_seed").then(
        run, [dataset, models, n, seed, sampler, steps], out, api_name="sample_new_seed", concurrency_id=HEAVY)


def class_tab(views: Views, dataset: gr.Radio, default: str) -> gr.Dropdown:
    with gr.Tab("Pick a class", id="class"):
        gr.Markdown(TEXT["class"])
        with gr.Row():
            cls = class_dropdown(class_choices(default), value=class_choices(default)[3], label="Class")
            guidance = gr.Slider(0, 6, value=default_guidance(default), step=0.25,
                                 label="Guidance strength (diffusion models)", elem_id="guidance",
                                 info="0 = ignore the class · 1 = follow it · higher = more typical, less varied. "
                                      "It starts where this dataset's pictures measured best.")
            n = gr.Slider(1, 32, value=8, step=1, label="How many pictures")
            seed = gr.Number(value=0, precision=0, minimum=0, label="Seed")
        go_ = gr.Button("Draw this class", variant="primary")
        out = gallery("Each model's pictures of the class", columns=2, elem_id="class-gallery")

    @friendly
    def run(ds, c, g, k, s, progress=gr.Progress()):
        return views.class_view(ds, c, k, s, g, progress_adapter(progress))

    go_.click(run, [dataset, cls, guidance, n, seed], out, api_name="pick_class", concurrency_id=HEAVY)
    dataset.change(default_guidance, dataset, guidance, api_name="guidance_on_switch")
    return cls


def interpolate_tab(views: Views, dataset: gr.Radio, default: str) -> list[gr.Dropdown]:
    names = class_choices(default)
    with gr.Tab("Interpolate", id="interpolate"):
        gr.Markdown(TEXT["interpolate"])
        with gr.Row():
            with gr.Column():
                class_a = class_dropdown(names, value=names[1], label="First picture: class")
                index_a = gr.Number(value=0, precision=0, minimum=0, label="First picture: number")
                class_b = class_dropdown(names, value=names[7], label="Second picture: class")
                index_b = gr.Number(value=0, precision=0, minimum=0, label="Second picture: number")
            with gr.Column():
                seed_a = gr.Number(value=1, precision=0, minimum=0, label="GAN / diffusion: first seed")
                seed_b = gr.Number(value=2, precision=0, minimum=0, label="GAN / diffusion: second seed")
                frames = gr.Slider(3, MAX_FRAMES, value=10, step=1, label="Frames")
            drawing = sketchpad("Or draw the first picture", elem_id="interp-sketch")
        go_ = gr.Button("Interpolate", variant="primary")
        strips = gr.Image(label="Paths, first to last (the autoencoders' rows start and end with the two real pictures)",
                          type="pil", format="png", elem_id="interp-paths")
        with gr.Row():
            gif = gr.Image(label="Animation (all paths at once)", type="filepath", format="gif")
            gif_file = gr.File(label="Download the animation (GIF)")
            table = gr.Dataframe(headers=["model", "smoothness (1 = even)"], label="Smoothness", interactive=False)

    @friendly
    def run(ds, ca, ia, cb, ib, art, sa, sb, f, progress=gr.Progress()):
        g, path, rows = views.interpolate_view(ds, ca, ia, cb, ib, art, sa, sb, f, progress_adapter(progress))
        return g, path, path, rows

    go_.click(run, [dataset, class_a, index_a, class_b, index_b, drawing, seed_a, seed_b, frames],
              [strips, gif, gif_file, table], api_name="interpolate", concurrency_id=HEAVY)
    return [class_a, class_b]


def latent_tab(views: Views, dataset: gr.Radio, default: str) -> list[gr.Dropdown]:
    names = class_choices(default)
    with gr.Tab("Latent map", id="latent"):
        gr.Markdown(TEXT["latent"])
        model = gr.Dropdown(model_choices(views, default, LATENT_MODELS), value="vae", label="Model")
        show = gr.Button("Show the map", variant="primary")
        note = gr.Markdown()
        with gr.Row():
            fig = gr.Plot(label="Codes of 2,000 test pictures", elem_id="latent-plot")
            plane = gr.Image(label="2-D VAE: decoded grid of its code plane", type="pil", format="png")
        with gr.Row():
            with gr.Column():
                u = gr.Slider(-4, 4, value=0, step=0.05, label="Position along direction 1")
                v = gr.Slider(-4, 4, value=0, step=0.05, label="Position along direction 2")
                decoded = gr.Image(label="That point, decoded", type="pil", format="png", height=200)
            with gr.Column():
                cls = class_dropdown(names, value=names[0], label="A test picture: class")
                idx = gr.Number(value=0, precision=0, minimum=0, label="A test picture: number")
                locate = gr.Button("Find it on the map")
                with gr.Row():
                    picked = gr.Image(label="The test picture", type="pil", format="png", height=150)
                    picked_dec = gr.Image(label="Its code, decoded", type="pil", format="png", height=150)
            with gr.Column():
                drawing = sketchpad("Draw something", elem_id="latent-sketch")
                place = gr.Button("Place my drawing")
        neighbours = gallery("Your drawing and the most similar training pictures (is the model copying?)", columns=7)

    show.click(friendly(views.latent_map_view), [dataset, model], [fig, plane, note], api_name="latent_map",
               concurrency_id=HEAVY)
    point = friendly(views.latent_point)
    u.release(point, [dataset, model, u, v], decoded, api_name="latent_point")
    v.release(point, [dataset, model, u, v], decoded, api_name="latent_point_v")
    locate.click(friendly(views.latent_test_image), [dataset, model, cls, idx], [u, v, picked, picked_dec],
                 api_name="latent_locate")
    place.click(friendly(views.latent_drawing), [dataset, model, drawing], [fig, neighbours],
                api_name="latent_drawing", concurrency_id=HEAVY)
    return [cls]


def reconstruct_tab(views: Views, dataset: gr.Radio, default: str) -> list[gr.Dropdown]:
    names = class_choices(default)
    with gr.Tab("Reconstruct", id="reconstruct"):
        gr.Markdown(TEXT["reconstruct"])
        with gr.Row():
            with gr.Column():
                source = gr.Radio(["test image", "drawing"], value="test image", label="Rebuild", elem_id="recon-source")
                cls = class_dropdown(names, value=names[2], label="Test picture: class")
                idx = gr.Number(value=0, precision=0, minimum=0, label="Test picture: number")
            drawing = sketchpad("Your drawing", elem_id="recon-sketch")
        go_ = gr.Button("Rebuild", variant="primary")
        out = gallery("Input and each autoencoder's rebuild", columns=6, elem_id="recon-gallery")
        with gr.Row():
            slider = gr.ImageSlider(label="Before / after (the VAE, when available)", type="pil", format="png")
            table = gr.Dataframe(headers=["model", "error (mean squared)"], label="Rebuild error", interactive=False)
    go_.click(friendly(views.reconstruct_view), [dataset, source, cls, idx, drawing], [out, slider, table],
              api_name="reconstruct", concurrency_id=HEAVY)
    return [cls]


def training_tab(views: Views, dataset: gr.Radio, default: str) -> None:
    names = [n for n in SPECS if SPECS[n].generative]
    ready = views.zoo.ready(default)
    with gr.Tab("Training", id="training"):
        gr.Markdown(TEXT["training"])
        models = gr.CheckboxGroup(model_choices(views, default, names), label="Models",
                                  value=[n for n in ("vae", "gan", "ddpm-cosine") if n in ready])
        last = max([e for n in names for e in views.epochs_available(default, n)] or [1])
        epoch = gr.Slider(1, max(last, 2), value=1, step=1, label="Epoch (all models in step)")
        grids = gallery("Samples from the same fixed noise after that epoch", columns=3, elem_id="training-gallery")
        show = gr.Button("Show loss curves", variant="primary")
        with gr.Row():
            loss = gr.Plot(label="Losses", elem_id="loss-plot")
            gan = gr.Plot(label="GAN critic")
    epoch.release(friendly(views.training_view), [dataset, models, epoch], grids, api_name="training_grids")
    models.change(friendly(views.training_view), [dataset, models, epoch], grids, api_name="training_grids_models")
    show.click(friendly(views.loss_curves), [dataset, models], [loss, gan], api_name="loss_curves")


def diffusion_tab(views: Views, dataset: gr.Radio, default: str, demo: gr.Blocks) -> list[gr.Dropdown]:
    names = class_choices(default)
    with gr.Tab("How diffusion works", id="diffusion"):
        gr.Markdown(TEXT["diffusion"])
        with gr.Row():
            beta, abar, snr = (gr.Plot(label="β_t", elem_id="beta-plot"), gr.Plot(label="ᾱ_t"),
                              gr.Plot(label="signal-to-noise"))
        gr.Markdown("### Adding noise")
        with gr.Row():
            cls = class_dropdown(names, value=names[5], label="Picture: class")
            idx = gr.Number(value=0, precision=0, minimum=0, label="Picture: number")
            t = gr.Slider(0, 999, value=300, step=1, label="Step t (0 = clean, 999 = pure noise)")
        noised = gallery("The same picture at step t", columns=3)
        gr.Markdown("### Removing noise, step by step")
        with gr.Row():
            model = gr.Dropdown(model_choices(views, default, DIFFUSION_MODELS), value="ddpm-cosine", label="Model")
            target = class_dropdown(["any"] + names, value="any", label="Class to draw")
            seed = gr.Number(value=0, precision=0, minimum=0, label="Seed")
            steps = gr.Slider(10, 200, value=50, step=1, label="Steps")
        go_ = gr.Button("Run the reverse process", variant="primary")
        with gr.Row():
            frames = gallery("Snapshots: noisy picture | the network's guess", columns=5, elem_id="reverse-gallery")
            final = gr.Image(label="Result", type="pil", format="png", height=200)
    demo.load(friendly(views.schedule_figures), None, [beta, abar, snr], api_name="schedules")
    noise_fn = friendly(views.noising_view)
    t.release(noise_fn, [dataset, cls, idx, t], noised, api_name="noising")

    @friendly
    def run(ds, m, c, s, st, progress=gr.Progress()):
        return views.reverse_view(ds, m, c, s, st, progress_adapter(progress))

    go_.click(run, [dataset, model, target, seed, steps], [frames, final], api_name="reverse_process",
              concurrency_id=HEAVY)
    return [cls, target]


SCORE_HEADERS = ["model", "FID ↓", "precision ↑", "recall ↑", "class imbalance ↓", "class accuracy ↑", "sharpness (real = 1)",
                 "ms per picture ↓", "network runs per picture", "parameters", "training minutes"]


def scoreboard_tab(views: Views, dataset: gr.Radio) -> None:
    with gr.Tab("Scoreboard", id="scoreboard"):
        gr.Markdown(TEXT["scoreboard"])
        show = gr.Button("Show the scoreboard", variant="primary")
        summary = gr.Markdown(elem_id="scoreboard-summary")
        table = gr.Dataframe(headers=SCORE_HEADERS, label="Measured with the project's evaluator",
                             interactive=False, elem_id="scoreboard-table")
        with gr.Row():
            fid = gr.Plot(label="FID", elem_id="scoreboard-fid")
            scatter = gr.Plot(label="Quality against speed")
        guidance = gr.Plot(label="Guidance")
        with gr.Accordion("Time the models on this machine now", open=False):
            measure = gr.Button("Measure speed")
            speed = gr.Dataframe(headers=["model", "parameters", "network runs per picture", "ms per picture (batch 16)", "status"],
                                 label="Measured just now", interactive=False)

    show.click(friendly(views.scoreboard_view), dataset, [table, fid, scatter, guidance, summary], api_name="scoreboard")

    @friendly
    def run(ds, progress=gr.Progress()):
        return views.speed_view(ds, progress_adapter(progress))

    measure.click(run, dataset, speed, api_name="speed", concurrency_id=HEAVY)


LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


def guide_tab(views: Views, dataset: gr.Radio, default: str, demo: gr.Blocks) -> None:
    from .guide import CAPABILITY_HEADERS

    with gr.Tab("Models", id="models"):
        gr.Markdown(TEXT["models"])
        advice = gr.Markdown(elem_id="guide-advice")
        table = gr.Dataframe(headers=CAPABILITY_HEADERS, label="What each model can do (read from the models)",
                             interactive=False, elem_id="guide-table", wrap=True)
        model = gr.Dropdown([(s.title, n) for n, s in SPECS.items()], value="vae", label="Tell me about")
        about = gr.Markdown(latex_delimiters=LATEX, elem_id="guide-about")
        layers = gr.Dataframe(headers=["layer", "type", "output shape", "parameters"],
                              label="How it is built: its layers in the order they run", interactive=False)
    both = friendly(lambda ds: (views.guide_table(ds), views.guide_advice(ds)))
    demo.load(both, dataset, [table, advice], api_name="guide")
    dataset.change(both, dataset, [table, advice], api_name="guide_on_switch")
    show = friendly(views.guide_model)
    model.change(show, [dataset, model], [about, layers], api_name="guide_model")
    demo.load(show, [dataset, model], [about, layers], api_name="guide_model_on_load")


def build_app(views: Views) -> gr.Blocks:
    default = next(iter(DATASETS))
    # every 30 minutes, delete the pictures and GIFs Gradio cached for visitors more than an hour ago
    with gr.Blocks(title="GenZoo — how generative models draw", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO)
        dataset = gr.Radio(DATASET_CHOICES, value=default, label="Dataset")
        unavailable = [f"- {e.dataset}/{e.spec.name}: {e.error}" for ds in views.zoo.entries.values()
                       for e in ds.values() if not e.ready]
        if unavailable:
            with gr.Accordion(f"{len(unavailable)} model(s) unavailable", open=False):
                gr.Markdown("\n".join(unavailable))
        with gr.Tabs():
            data_tab(views, dataset, demo)
            sample_tab(views, dataset, default)
            class_dd = [class_tab(views, dataset, default)]
            class_dd += interpolate_tab(views, dataset, default)
            class_dd += latent_tab(views, dataset, default)
            class_dd += reconstruct_tab(views, dataset, default)
            training_tab(views, dataset, default)
            class_dd += diffusion_tab(views, dataset, default, demo)
            scoreboard_tab(views, dataset)
            guide_tab(views, dataset, default, demo)

        # model pickers (their choices are registry names) relabel "(unavailable)" for the dataset chosen
        pickers = [b for b in demo.blocks.values() if isinstance(b, (gr.CheckboxGroup, gr.Dropdown))
                   and b.choices and all(value in SPECS for _, value in b.choices)]

        def switch(ds):
            names = class_choices(ds)
            classes = [gr.Dropdown(choices=(["any"] + names if d.value == "any" else names),
                                   value=("any" if d.value == "any" else names[0])) for d in class_dd]
            return classes + [type(p)(choices=model_choices(views, ds, [v for _, v in p.choices])) for p in pickers]

        dataset.change(switch, dataset, class_dd + pickers, api_name="class_names")
    guard_inputs(demo)
    return demo

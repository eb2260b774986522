"""Interpolate: walk between two pictures in the autoencoders' code spaces, or between two seeds' noise."""
from __future__ import annotations

import functools
import hashlib
import tempfile
import time
from pathlib import Path

import gradio as gr
import torch
from PIL import Image

from .. import explore
from ..imaging import gif_bytes, grid_pil, labelled_rows
from ..registry import featured
from ..zoo import Zoo
from .common import (Built, Progress, api, caption, class_dropdown, class_index, class_names, friendly, HEAVY,
                     MAX_FRAMES, MAX_SEED, on_load, progress_adapter, redraw, sketchpad, test_image, title)
from .memo import Memo
from .drawing import sampler_options
from .inputs import clamp_int, drawing_array, drawing_style
from .inputs import Number, Slider
from .turns import takes_turn
from .text import TEXT

KEEP_FILES = 32          # interpolation GIFs kept on disk; older ones are deleted


@functools.lru_cache(maxsize=1)
def gif_dir() -> Path:
    """Where this process writes its animations (Gradio then serves its own copy)."""
    return Path(tempfile.mkdtemp(prefix="genzoo-"))


PATHS = Memo()


def interpolate_view(zoo: Zoo, dataset: str, class_a, index_a, class_b, index_b, drawing=None,
                     seed_a: int = 1, seed_b: int = 2, frames: int = 10,
                     progress: Progress = None) -> tuple[Image.Image, str, list[list]]:
    """Paths between the same two images for the autoencoders (your drawing replaces the
    first one if you made one), and between two seeds' noise for the GAN and DDPM (via DDIM)."""
    frames = clamp_int(frames, 3, MAX_FRAMES, "number of frames")
    seed_a = clamp_int(seed_a, 0, MAX_SEED, "first seed")
    seed_b = clamp_int(seed_b, 0, MAX_SEED, "second seed")
    a, _ = test_image(zoo, dataset, class_a, index_a)
    b, _ = test_image(zoo, dataset, class_b, index_b)
    art, drawn = drawing_array(drawing), False
    if art is not None:
        try:
            a, drawn = explore.prepare_drawing(art, **drawing_style(dataset)), True
        except explore.DrawingError:
            pass                # an untouched sketchpad: keep the test image

    def compute():
        return _paths(zoo, dataset, a, b, seed_a, seed_b, frames, progress)

    # the walks between two pictures are the same for every visitor who asks: computed once (a drawing by its pixels)
    first = hashlib.sha1(a.numpy().tobytes()).hexdigest() if drawn else (class_index(dataset, class_a), int(index_a))
    key = (zoo, dataset, first, class_index(dataset, class_b), int(index_b), seed_a, seed_b, frames)
    image, animation, rows = PATHS.get(key, compute)
    gif = gif_dir() / f"interpolation-{dataset}-{time.time_ns()}.gif"
    gif.write_bytes(animation)
    for old in sorted(gif_dir().glob("interpolation-*.gif"))[:-KEEP_FILES]:    # Gradio serves its own copy
        old.unlink(missing_ok=True)
    return image, str(gif), rows


def _paths(zoo: Zoo, dataset: str, a: torch.Tensor, b: torch.Tensor, seed_a: int, seed_b: int, frames: int,
           progress: Progress) -> tuple[Image.Image, bytes, list[list]]:
    """Every featured model's path: the labelled strips, the animation's bytes and the smoothness table."""
    strips: list[tuple[str, torch.Tensor, str]] = []
    ready = zoo.ready(dataset)
    shown = [n for n in featured("interpolate") if n in ready]
    encoders = [n for n in shown if zoo.model(dataset, n).can_encode]
    for name in encoders:           # a straight line between the two pictures' codes
        path = zoo.model(dataset, name).run(explore.latent_path, a, b, frames, runs=2 + frames)
        strips.append((name, torch.cat([a, path, b]), "between the two images"))
    walkers = [n for n in shown if n not in encoders]
    for i, name in enumerate(walkers):  # no encoder: a walk between two seeds' noise
        if progress:
            progress(i / len(walkers), f"walking {title(name)}'s noise")
        opts = sampler_options(name, dataset)
        if opts.get("sampler") == "ddim" and opts.get("steps"):
            opts["steps"] = min(opts["steps"], 25)      # 10+ frames of a 50-step walk: fewer steps keep it quick
        path = explore.noise_path(zoo.model(dataset, name), seed_a, seed_b, frames, None, **opts)
        strips.append((name, path, f"between seeds {seed_a} and {seed_b}"))
    if not strips:
        raise ValueError("no model with a latent space is available for this dataset")
    rows, labelled, gif_frames = [], [], []
    for name, path, what in strips:
        inner = path[1:-1] if len(path) == frames + 2 else path      # smoothness of the model's own frames
        s = explore.smoothness(inner)
        labelled.append((f"{caption(zoo, dataset, name)}\n{what}\nsmoothness {s:.2f}",
                         grid_pil(path, nrow=len(path), scale=2)))
        rows.append([title(name), round(s, 3)])
    for j in range(frames):
        column = torch.cat([p[1 + j if p.shape[0] == frames + 2 else j][None] for _, p, _ in strips])
        gif_frames.append(grid_pil(column, nrow=len(strips), scale=4))
    return labelled_rows(labelled), gif_bytes(gif_frames), rows



def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    names = list(class_names(default))
    with gr.Tab("Interpolate", id="interpolate"):
        gr.Markdown(TEXT["interpolate"])
        with gr.Row():
            with gr.Column():
                class_a = class_dropdown(names, value=names[1], label="First picture: class")
                index_a = Number(value=0, precision=0, minimum=0, label="First picture: number")
                class_b = class_dropdown(names, value=names[7], label="Second picture: class")
                index_b = Number(value=0, precision=0, minimum=0, label="Second picture: number")
            with gr.Column():
                seed_a = Number(value=1, precision=0, minimum=0, label="GAN / diffusion: first seed")
                seed_b = Number(value=2, precision=0, minimum=0, label="GAN / diffusion: second seed")
                frames = Slider(3, MAX_FRAMES, value=10, step=1, label="Frames", elem_id="interp-frames")
            drawing = sketchpad("Or draw the first picture", elem_id="interp-sketch")
        go_ = gr.Button("Interpolate", variant="primary")
        strips = gr.Image(label="Paths, first to last (the autoencoders' rows start and end with the two real "
                                "pictures)",
                          type="pil", format="png", elem_id="interp-paths")
        with gr.Row():
            gif = gr.Image(label="Animation (all paths at once)", type="filepath", format="gif")
            gif_file = gr.File(label="Download the animation (GIF)")
            table = gr.Dataframe(headers=["model", "smoothness (1 = even)"], label="Smoothness", interactive=False)

    @friendly
    @takes_turn(memoized=True)
    def interpolate(dataset, first_class, first_index, second_class, second_index, drawing, first_seed, second_seed,
                    frames, progress=gr.Progress()):
        """Walk each model smoothly from one picture to another: the autoencoders between two real pictures (or a
        drawing), the GAN and diffusion models between two seeds. Returns the paths, an animation and smoothness.

        Args:
            dataset: the dataset, "mnist" or "fashion"
            first_class: class of the first real picture
            first_index: number of the first real picture within its class
            second_class: class of the second real picture
            second_index: number of the second real picture within its class
            drawing: a drawing to start from instead of the first picture, or None
            first_seed: first seed (GAN and diffusion)
            second_seed: second seed (GAN and diffusion)
            frames: frames along each path (3 to the maximum)
        """
        paths, gif, rows = interpolate_view(zoo, dataset, first_class, first_index, second_class, second_index,
                                            drawing, first_seed, second_seed, frames, progress_adapter(progress))
        return paths, gif, gif, rows

    inputs = [dataset, class_a, index_a, class_b, index_b, drawing, seed_a, seed_b, frames]
    go_.click(interpolate, inputs, [strips, gif, gif_file, table], **api("interpolate"), **HEAVY)
    demo.load(on_load(interpolate, 4), inputs, [strips, gif, gif_file, table], **api("interpolate_on_load"),
              **HEAVY)
    built = Built([class_a, class_b], [redraw(interpolate, inputs, [strips, gif, gif_file, table])])
    return built._replace(tab="interpolate", link={
        "class_a": class_a, "index_a": index_a, "class_b": class_b, "index_b": index_b, "seed_a": seed_a,
        "seed_b": seed_b, "frames": frames})

"""What several tabs share: controls, the visitor-facing error wrapper, and small helpers over the ``Zoo``.

Errors a visitor can cause are raised as ``ValueError`` with a sentence meant for them; ``friendly`` shows that
sentence instead of a traceback.
"""
from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Callable, NamedTuple, Optional, Sequence

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ..data import DATASETS, dataset_info
from ..imaging import to_pil
from ..measurements import Measurements
from ..registry import SPECS
from ..zoo import Zoo
from .inputs import Dropdown, Sketchpad, clamp_int
from .pictures import as_files

Progress = Optional[Callable[[float, str], None]]
Gallery = list[tuple[Image.Image, str]]

DATASET_CHOICES = [(info.title, key) for key, info in DATASETS.items()]
DEFAULT_DATASET = next(iter(DATASETS))
#: the two lanes of the queue. Views that may run generative networks are let in sixteen at a time on HEAVY: their
#: long work (a diffusion model's many steps) then takes its turn on one thread (``turns``), while their quick work
#: (a VAE's or a GAN's single network run) runs at once. Views that never run long work (a decoded point, a rebuilt
#: picture, training grids, the scoreboard, the model guide) have a lane of their own
HEAVY = dict(concurrency_id="heavy", concurrency_limit=16)
LIGHT = dict(concurrency_id="light", concurrency_limit=4)
MAX_SAMPLES, MAX_FRAMES, MAX_SEED = 64, 16, 2**31 - 1
IMAGE_SCALE = 4
ROW = 16                  # pictures per row when a model's pictures are shown as a strip

#: galleries with long captions: the whole caption under each tile, wrapped, instead of one line cut off on top of
#: the picture; "strips" (one model each): full-width tiles as tall as their picture, instead of Gradio's square
#: tiles with the strip lost in the middle
CSS = """
.captioned .grid-wrap { height: auto !important; max-height: none !important; overflow-y: visible;
  padding-top: var(--size-8); }
.captioned .thumbnail-item { aspect-ratio: auto; height: auto; display: flex; flex-direction: column-reverse; }
.captioned .thumbnail-item img { height: auto; }
.captioned .thumbnail-item .caption-label { position: static; opacity: 1; max-width: 100%; border: none;
  white-space: normal; overflow: visible; text-overflow: clip; }
.captioned:not(.strips) .thumbnail-item { flex-direction: column; }   /* pictures in line, captions below */
.strips .thumbnail-item .caption-label { font-size: var(--text-lg); }
/* thirteen tabs on one line of a laptop screen (they wrap on a phone) */
.tab-container { gap: 0 !important; }
button[role="tab"] { padding-left: var(--size-1-5) !important; padding-right: var(--size-1-5) !important; }
/* on a phone, a gallery's columns shrink to the screen instead of running off it */
@media (max-width: 640px) {
  .grid-container { grid-template-columns: repeat(var(--grid-cols), minmax(0, 1fr)) !important;
    grid-template-rows: none !important; grid-auto-rows: auto !important; gap: var(--spacing-sm) !important; }
}
"""


# -- the zoo, as the tabs see it -------------------------------------------------------------
def class_names(dataset: str) -> tuple[str, ...]:
    return dataset_info(dataset).class_names


def class_index(dataset: str, name) -> int:
    names = class_names(dataset)
    if isinstance(name, (int, np.integer)) and 0 <= int(name) < len(names):
        return int(name)
    if name in names:
        return names.index(name)
    raise ValueError(f"unknown class {name!r}; choose one of {', '.join(names)}")


def test_image(zoo: Zoo, dataset: str, class_name, index) -> tuple[torch.Tensor, int]:
    """The ``index``-th test image of a class in the shipped subset, and its label."""
    d = zoo.subset(dataset)
    k = class_index(dataset, class_name)
    pool = torch.nonzero(d.test_labels == k).flatten()
    i = clamp_int(index, 0, len(pool) - 1, "image number")
    return d.test_images[pool[i]][None], k


def title(name: str) -> str:
    return SPECS[name].title if name in SPECS else name


def caption(zoo: Zoo, dataset: str, name: str) -> str:
    """The model's title, with a warning when its checkpoint is still part-way through training."""
    e = zoo.entry(dataset, name)
    if not e.in_training:
        return title(name)
    done, planned = e.epochs_done
    return f"{title(name)} (still training: {done} of {planned} epochs)"


def known_names(wanted: Sequence[str] | str) -> list[str]:
    """The chosen model names, checked against the registry."""
    if isinstance(wanted, str):
        wanted = [wanted]
    unknown = [n for n in wanted if n not in SPECS]
    if unknown:
        raise ValueError(f"unknown model(s): {', '.join(map(str, unknown))}")
    return list(wanted)


@functools.lru_cache(maxsize=8)
def _read_metrics(path: Path, mtime: float) -> Measurements:
    return Measurements.load(path)


def metrics(zoo: Zoo, dataset: str) -> Optional[Measurements]:
    """What ``python -m genzoo evaluate`` measured for the dataset, if it has (read again when the file changes)."""
    dataset_info(dataset)
    path = Path(zoo.root) / dataset / "metrics.json"
    return _read_metrics(path, path.stat().st_mtime) if path.exists() else None


def big(image: torch.Tensor) -> Image.Image:
    return to_pil(image, IMAGE_SCALE)


# -- controls ----------------------------------------------------------------------------------
def friendly(fn: Callable) -> Callable:
    """A view as an event handler: its ValueErrors become messages shown to the visitor (no traceback), and the
    pictures it returns are served as files (see ``picture_file``)."""
    if inspect.isgeneratorfunction(fn):         # a view that streams: each update in turn
        @functools.wraps(fn)
        def streaming(*args, **kwargs):
            try:
                for value in fn(*args, **kwargs):
                    yield as_files(value)
            except ValueError as exc:
                raise gr.Error(str(exc), print_exception=False) from None
        return streaming

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return as_files(fn(*args, **kwargs))
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
    return wrapper


#: the actions offered to programs (the API page, and the MCP server's tools): named functions with docstrings.
#: Every other listener only serves the page: callable by the app's own front end and clients, but undocumented.
PUBLIC = ("sample", "pick_class", "interpolate", "reconstruct", "scoreboard", "quiz_next", "quiz_answer",
          "quiz_results", "train_live")


def api(name: str) -> dict:
    """A listener's API name and visibility: documented (and an MCP tool) only for the public actions."""
    return {"api_name": name, "api_visibility": "public" if name in PUBLIC else "undocumented"}


class Built(NamedTuple):
    """What a tab hands the composer: its class pickers, which follow the dataset; the views to draw again once
    the dataset has switched and the pickers have followed (each the keyword arguments of one listener); its id;
    and the controls a share link may set, by the link's names for them (see ``links``)."""
    classes: tuple = ()
    redraws: tuple[dict, ...] = ()
    tab: str = ""
    link: dict = {}


def redraw(fn: Callable, inputs: list, outputs: list) -> dict:
    """A view to draw again after a dataset switch, a link or a step of the tour (``links.wire`` draws them all in
    one listener); its outputs stay as they are where it cannot be shown."""
    return dict(fn=on_load(fn, len(outputs)), inputs=inputs, outputs=outputs)


def on_load(fn: Callable, outputs: int = 1) -> Callable:
    """A ``friendly`` view for ``demo.load``: when it cannot be shown (a model unavailable, no measurements yet), its
    outputs stay as they are instead of greeting the visitor with an error; the button still says why."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            return gr.skip() if outputs == 1 else tuple(gr.skip() for _ in range(outputs))
    return wrapper


def progress_adapter(progress: gr.Progress):
    return lambda fraction, desc: progress(fraction, desc=desc)


def model_choices(zoo: Zoo, dataset: str, names) -> list[tuple[str, str]]:
    ready = zoo.ready(dataset)
    return [(SPECS[n].title + ("" if n in ready else " (unavailable)"), n) for n in names]


def class_dropdown(choices, **kwargs) -> gr.Dropdown:
    """A class picker; its choices follow the dataset, so the server accepts any value and the view checks it."""
    return Dropdown(choices, allow_custom_value=True, **kwargs)


def sketchpad(label: str, elem_id=None) -> gr.Sketchpad:
    """A square canvas with a thick black brush (pick the brush tool first)."""
    return Sketchpad(label=f"{label} — pick the brush on the left, then draw", elem_id=elem_id, type="numpy",
                        image_mode="RGBA", canvas_size=(280, 280), layers=False, transforms=(),
                        brush=gr.Brush(default_size=22, colors=["#000000"], color_mode="fixed"))


def gallery(label: str, columns: int = 3, height="auto", elem_id=None, strips: bool = False,
            captioned: bool = False, **kwargs) -> gr.Gallery:
    """A gallery of pictures; ``strips``: one full-width row per tile (a model's pictures, labelled);
    ``captioned``: each tile's whole caption written under it (strips always are)."""
    classes = (["captioned"] if strips or captioned else []) + (["strips"] if strips else [])
    if strips:          # a click selects a model's row (to explain it); the full-screen button enlarges
        kwargs.setdefault("allow_preview", False)
    return gr.Gallery(label=label, columns=1 if strips else columns, height=height, format="png",
                      object_fit="contain", buttons=["download", "fullscreen"], elem_id=elem_id,
                      elem_classes=classes or None, **kwargs)

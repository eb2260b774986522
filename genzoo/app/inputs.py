"""Clear messages for values a control cannot take, and pictures checked from their header before decoding; the
numbers and drawings a view reads, checked.

Gradio turns a value its component cannot preprocess (a word for a number, a file that is not a picture) into a
generic error. The input controls here are Gradio's, with ``Guarded`` mixed in, so the visitor reads which control
and why; range checks stay Gradio's own, which already name the limit.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import gradio as gr
import numpy as np
import torch
from gradio.data_classes import FileData
from PIL import Image as PILImage, UnidentifiedImageError

#: the largest picture read from an upload, checked from its header before anything is decoded
MAX_UPLOAD_PIXELS = 4000 * 4000
PILImage.MAX_IMAGE_PIXELS = MAX_UPLOAD_PIXELS      # and Pillow refuses twice that anywhere in the process


def _uploaded_files(payload) -> list[str]:
    """Paths of the files inside an input's payload (an image, or a sketchpad's background/layers/composite)."""
    parts = [payload] if isinstance(payload, FileData) else [
        getattr(payload, "background", None), getattr(payload, "composite", None),
        *(getattr(payload, "layers", None) or [])]
    return [p.path for p in parts if isinstance(p, FileData) and p.path]


def _check_picture(path: str, label: str) -> None:
    """Refuse a file that is not a picture, or one too large to decode, reading only its header."""
    try:
        with PILImage.open(path) as im:
            w, h = im.size
    except PILImage.DecompressionBombError:
        w = h = None
    except (UnidentifiedImageError, OSError):
        raise gr.Error(f"{label}: this file is not a picture GenZoo can read (use PNG or JPEG)",
                       print_exception=False) from None
    if w is None or w * h > MAX_UPLOAD_PIXELS:
        size = "far too large" if w is None else f"{w:,} × {h:,} pixels"
        raise gr.Error(f"{label}: the picture is {size}; GenZoo reads pictures of up to {MAX_UPLOAD_PIXELS:,} pixels "
                       "(4,000 × 4,000). Make it smaller and try again.", print_exception=False)


class Guarded:
    """Mixed into an input control: a value it cannot take (wrong type, missing, not a picture, a picture too large)
    gets a message naming the control and why, instead of Gradio's generic error. Range checks stay Gradio's own,
    which already name the limit; pictures are checked from their header before any decoding. Subclassing a
    component and overriding ``preprocess`` is Gradio's public route for custom components."""

    def preprocess(self, payload):
        label = self.label or type(self).__name__
        if isinstance(self, (gr.Image, gr.ImageEditor)) and payload is not None:
            for path in _uploaded_files(payload):
                _check_picture(path, label)
        try:
            return super().preprocess(payload)
        except gr.Error:
            raise
        except Exception:
            shown = repr(payload) if len(repr(payload)) <= 40 else repr(payload)[:40] + "…"
            raise gr.Error(f"{label}: {shown} is not a value this control accepts", print_exception=False) from None

    def get_block_name(self) -> str:
        """The front-end component to draw: the Gradio component's own (a template such as Sketchpad names its
        parent's), not this mixin's."""
        base = next(c for c in type(self).__mro__ if c.__module__.startswith("gradio."))
        return (base.__base__ if "is_template" in vars(base) else base).__name__.lower()

    get_block_class = get_block_name


class Number(Guarded, gr.Number):
    pass


class Slider(Guarded, gr.Slider):
    pass


class Radio(Guarded, gr.Radio):
    pass


class Dropdown(Guarded, gr.Dropdown):
    pass


class Checkbox(Guarded, gr.Checkbox):
    pass


class Textbox(Guarded, gr.Textbox):
    pass


class CheckboxGroup(Guarded, gr.CheckboxGroup):
    pass


class Image(Guarded, gr.Image):
    pass


class Sketchpad(Guarded, gr.Sketchpad):
    pass


# -- numbers and drawings, checked --------------------------------------------------------------
def clamp_int(value, lo: int, hi: int, what: str) -> int:
    """An integer in [lo, hi], or a ValueError naming the control."""
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a whole number, got {value!r}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{what} must lie between {lo} and {hi}, got {v}")
    return v


def clamp_float(value, lo: float, hi: float, what: str) -> float:
    """A number in [lo, hi], or a ValueError naming the control."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{what} must lie between {lo:g} and {hi:g}, got {v:g}")
    return v


def drawing_array(value) -> Optional[np.ndarray]:
    """The picture inside a Sketchpad / Image value (dict with 'composite', array or PIL), or None."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("composite") if value.get("composite") is not None else value.get("background")
        if value is None:
            return None
    if isinstance(value, (str, Path)):
        with PILImage.open(value) as im:
            value = np.asarray(im.convert("RGBA"))
    return np.asarray(value)


def drawing_style(dataset: str) -> dict:
    """How a visitor's drawing is framed to look like the dataset's pictures (MNIST digits sit in a 20-pixel box)."""
    return {"box": 20, "by_mass": True} if dataset == "mnist" else {"box": 28, "by_mass": False}


def prepared_drawing(dataset: str, value) -> torch.Tensor:
    """A visitor's drawing as a ``[1, 1, 28, 28]`` picture framed like the dataset's."""
    from .. import explore

    art = drawing_array(value)
    if art is None:
        raise ValueError("draw something first (or upload a picture)")
    try:
        return explore.prepare_drawing(art, **drawing_style(dataset))
    except explore.DrawingError as exc:
        raise ValueError(str(exc)) from None

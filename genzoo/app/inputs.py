"""Clear messages for values a control cannot take, and pictures checked from their header before decoding.

Gradio turns a value its component cannot preprocess (a word for a number, a file that is not a picture) into a
generic error. ``guard_inputs`` wraps each input component's ``preprocess`` so the visitor reads which control and
why; range checks stay Gradio's own, which already name the limit.
"""
from __future__ import annotations

import gradio as gr
from gradio.data_classes import FileData
from PIL import Image, UnidentifiedImageError

#: the largest picture read from an upload, checked from its header before anything is decoded
MAX_UPLOAD_PIXELS = 4000 * 4000
Image.MAX_IMAGE_PIXELS = MAX_UPLOAD_PIXELS      # and Pillow refuses twice that anywhere in the process


def _uploaded_files(payload) -> list[str]:
    """Paths of the files inside an input's payload (an image, or a sketchpad's background/layers/composite)."""
    parts = [payload] if isinstance(payload, FileData) else [
        getattr(payload, "background", None), getattr(payload, "composite", None),
        *(getattr(payload, "layers", None) or [])]
    return [p.path for p in parts if isinstance(p, FileData) and p.path]


def _check_picture(path: str, label: str) -> None:
    """Refuse a file that is not a picture, or one too large to decode, reading only its header."""
    try:
        with Image.open(path) as im:
            w, h = im.size
    except Image.DecompressionBombError:
        w = h = None
    except (UnidentifiedImageError, OSError):
        raise gr.Error(f"{label}: this file is not a picture GenZoo can read (use PNG or JPEG)",
                       print_exception=False) from None
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

        images = isinstance(block, (gr.Image, gr.ImageEditor))

        def preprocess(payload, _original=block.preprocess, _label=label, _images=images):
            if _images and payload is not None:
                for path in _uploaded_files(payload):
                    _check_picture(path, _label)
            try:
                return _original(payload)
            except gr.Error:
                raise
            except Exception:
                shown = repr(payload) if len(repr(payload)) <= 40 else repr(payload)[:40] + "…"
                raise gr.Error(f"{_label}: {shown} is not a value this control accepts",
                               print_exception=False) from None

        block.preprocess = preprocess

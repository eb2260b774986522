"""Clear messages for values a control cannot take, and pictures checked from their header before decoding.

Gradio turns a value its component cannot preprocess (a word for a number, a file that is not a picture) into a
generic error. The input controls here are Gradio's, with ``Guarded`` mixed in, so the visitor reads which control
and why; range checks stay Gradio's own, which already name the limit.
"""
from __future__ import annotations

import gradio as gr
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
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


class Slider(Guarded, gr.Slider):
    pass
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


class Radio(Guarded, gr.Radio):
    pass
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


class Dropdown(Guarded, gr.Dropdown):
    pass
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


class CheckboxGroup(Guarded, gr.CheckboxGroup):
    pass
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


class Image(Guarded, gr.Image):
    pass
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


class Sketchpad(Guarded, gr.Sketchpad):
    pass
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component

class Checkbox(Guarded, gr.Checkbox):
    pass
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component

    
class Textbox(Guarded, gr.Textbox):
    pass
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component

    
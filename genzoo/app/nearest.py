"""Does it copy? Click a model's pictures (Sample, Pick a class) to see, beside each picture, the three training
pictures closest to it, with how far they are, and how far an unseen real picture typically is from its nearest."""
from __future__ import annotations

from typing import Callable, Optional

import gradio as gr
import torch

from ..imaging import to_pil
from ..neighbours import nearest_pictures
from ..sampling import DrawRequest
from ..zoo import Zoo
from .common import (api, friendly, gallery, HEAVY, title)
from .drawing import drawn

SHOWN = 16          # pictures a click explains (the first of the model's row)
HINT = ("**Does it copy?** Click a model's pictures above to see, for each picture, the three training pictures "
        "closest to it.")


def strip(picture: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
    """The picture, a gap, then its nearest training pictures, in one row ``[1, 28, 28 * (k + 1) + 8]``."""
    gap = torch.full((1, 28, 8), 0.5)
    return torch.cat([picture.cpu().float(), gap, *neighbours.float()], dim=2)


def nearest_view(zoo: Zoo, request: DrawRequest) -> tuple[str, list]:
    """A sentence on what was searched, and one row per picture: it, then its three nearest training pictures,
    captioned with their distances beside the typical distance of an unseen real picture."""
    pictures = drawn(zoo, request).images[:SHOWN]
    search, dist, found = nearest_pictures(zoo, request.dataset, pictures)
    rows = []
    for i, (picture, near, d) in enumerate(zip(pictures, found, dist)):
        closest = "very close: a near copy?" if d[0] < 0.5 * search.typical else "no closer than new real pictures"
        rows.append((to_pil(strip(picture, near), 3),
                     f"#{i + 1} → distances {', '.join(f'{v:.2f}' for v in d)} ({closest})"))
    text = (f"**{title(request.model)}: its pictures (left) and the three training pictures closest to each.** "
            f"Distances are measured in the evaluator's eyes (its 128 numbers per picture). A new real picture is "
            f"typically {search.typical:.2f} from its nearest training picture; a copy would be near 0. Searched: "
            f"{search.searched}.")
    return text, rows


def panel(elem_id: str) -> tuple[gr.Markdown, gr.Gallery]:
    """The explanation (a hint until a click) and the pictures (``elem_id``), hidden until a click."""
    with gr.Group():
        words = gr.Markdown(HINT, elem_id=f"{elem_id}-words")
        pictures = gallery("Nearest training pictures", columns=2, captioned=True, visible=False, elem_id=elem_id)
    return words, pictures


def wire(zoo: Zoo, source: gr.Gallery, inputs: list, words: gr.Markdown, pictures: gr.Gallery,
         request_of: Callable[..., Optional[DrawRequest]], name: str) -> None:
    """Clicking a model's pictures in ``source`` explains them: ``request_of(*inputs, index)`` is the request
    that drew the row clicked."""
    @friendly
    def explain(evt: gr.SelectData, *args):          # the click first: Gradio finds it by position
        if evt is None or evt.index is None:
            raise ValueError("click a model's pictures first")
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        request = request_of(*args, int(index))
        if request is None:
            raise ValueError("those pictures are not there any more: draw again, then click them")
        text, rows = nearest_view(zoo, request)
        return text, gr.Gallery(value=rows, visible=True)

    source.select(explain, inputs, [words, pictures], **api(name), **HEAVY)

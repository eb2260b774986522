"""The opening pictures of every tab, drawn once at start-up so that the first visitors find them ready.

Each tab draws its opening view when the page loads (``demo.load``), and those views keep what they draw
(``common.Memo``; ``functools.lru_cache`` for the latent map). Calling each opening view once with its controls'
starting values fills those caches; a visitor who arrives while they are still being filled waits for the very same
computation (``Memo`` shares work in progress) instead of queueing a second copy of it.

Only the views on the heavy lane are drawn ahead: the quick ones take milliseconds on their own lane. They are drawn
for every dataset, the default first: a link to the other dataset opens with the values the page's own switch gives
its controls (the class pickers, the guidance slider), found by running the page's listeners of a dataset switch.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import NamedTuple, Optional

import gradio as gr

from ..data import DATASETS
from .common import HEAVY

log = logging.getLogger(__name__)


class Warmed(NamedTuple):
    drawn: tuple[str, ...]          # the views drawn ahead, by API name
    failed: tuple[str, ...]         # the views that could not be drawn (a visitor sees why, as before)
    seconds: float


def opening_views(demo: gr.Blocks) -> list:
    """The page-load listeners on the heavy lane: the views that run networks before a visitor has done anything."""
    return [fn for fn in demo.fns.values()
            if fn.concurrency_id == HEAVY["concurrency_id"] and any(event == "load" for _, event in fn.targets)]


def dataset_picker(demo: gr.Blocks) -> Optional[gr.Radio]:
    """The page's dataset choice (the radio whose choices are the datasets)."""
    return next((b for b in demo.blocks.values() if isinstance(b, gr.Radio)
                 and {value for _, value in b.choices} == set(DATASETS)), None)


def starting_values(demo: gr.Blocks, dataset: str) -> dict[int, object]:
    """Every control's value once the page has switched to ``dataset``: its starting value, changed as the page's
    listeners of a dataset switch change it (a class picker moves to a class the dataset has, the guidance slider
    to the dataset's strength). Keyed by the component's id."""
    picker = dataset_picker(demo)
    values = {b._id: getattr(b, "value", None) for b in demo.blocks.values()}
    if picker is None or dataset == picker.value:
        return values
    values[picker._id] = dataset
    for fn in demo.fns.values():
        if fn.fn is None or not any(t == picker._id and event == "change" for t, event in fn.targets):
            continue
        if not all(isinstance(b, (gr.Dropdown, gr.CheckboxGroup, gr.Slider, gr.Radio)) for b in fn.outputs):
            continue                          # a view drawn on a switch, not a control that follows it
        out = fn.fn(*[values[b._id] for b in fn.inputs])
        for block, new in zip(fn.outputs, out if len(fn.outputs) > 1 else (out,)):
            if isinstance(new, gr.components.Component):          # an update: its value only where it gives one
                if "value" in new.constructor_args:
                    values[block._id] = new.constructor_args["value"]
            elif not isinstance(new, dict):                       # gr.skip() keeps it
                values[block._id] = new
    return values


def warm(demo: gr.Blocks) -> Warmed:
    """Draw every opening view once for each dataset (the default first), with the values its controls start with
    there; returns what was drawn."""
    t0 = time.perf_counter()
    drawn, failed = [], []
    picker = dataset_picker(demo)
    datasets = [picker.value] + [d for d in DATASETS if d != picker.value] if picker is not None else [None]
    for dataset in datasets:
        values = starting_values(demo, dataset) if dataset else {}
        for fn in opening_views(demo):
            name = f"{fn.api_name} ({dataset})"
            try:
                fn.fn(*[values.get(block._id, block.value) for block in fn.inputs])
                drawn.append(name)
            except Exception as exc:             # noqa: BLE001 - one view failing must not stop the others
                failed.append(name)
                log.warning("could not draw %s ahead: %s", name, exc)
    done = Warmed(tuple(drawn), tuple(failed), time.perf_counter() - t0)
    log.info("opening views ready: %d of %d drawn ahead in %.1f s", len(drawn), len(drawn) + len(failed),
             done.seconds)
    return done


def start(demo: gr.Blocks) -> threading.Thread:
    """``warm`` in a background thread (the server answers at once; the views fill in behind it)."""
    thread = threading.Thread(target=warm, args=(demo,), name="genzoo-warm-up", daemon=True)
    thread.start()
    return thread

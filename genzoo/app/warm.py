"""The opening pictures of every tab, drawn once at start-up so that the first visitors find them ready.

Each tab draws its opening view when the page loads (``demo.load``), and those views keep what they draw
(``common.Memo``; ``functools.lru_cache`` for the latent map). Calling each opening view once with its controls'
starting values fills those caches; a visitor who arrives while they are still being filled waits for the very same
computation (``Memo`` shares work in progress) instead of queueing a second copy of it.

Only the views on the heavy lane are drawn ahead: the quick ones take milliseconds on their own lane.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import NamedTuple

import gradio as gr

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


def warm(demo: gr.Blocks) -> Warmed:
    """Draw every opening view once, with the values its controls start with; returns what was drawn."""
    t0 = time.perf_counter()
    drawn, failed = [], []
    for fn in opening_views(demo):
        try:
            fn.fn(*[block.value for block in fn.inputs])
            drawn.append(fn.api_name)
        except Exception as exc:             # noqa: BLE001 - one view failing must not stop the others
            failed.append(fn.api_name)
            log.warning("could not draw %s ahead: %s", fn.api_name, exc)
    done = Warmed(tuple(drawn), tuple(failed), time.perf_counter() - t0)
    log.info("opening views ready: %d of %d drawn ahead in %.1f s", len(drawn), len(drawn) + len(failed),
             done.seconds)
    return done


def start(demo: gr.Blocks) -> threading.Thread:
    """``warm`` in a background thread (the server answers at once; the views fill in behind it)."""
    thread = threading.Thread(target=warm, args=(demo,), name="genzoo-warm-up", daemon=True)
    thread.start()
    return thread

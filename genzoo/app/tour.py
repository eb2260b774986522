"""The presenter's tour: eleven steps a teacher can follow without the maths. Each step opens a tab in a set
state (a share link underneath) and says what to notice."""
from __future__ import annotations

import urllib.parse

import gradio as gr

from .text import TOUR


def step_words(i: int) -> str:
    title, _, words = TOUR[i]
    return f"**Step {i + 1} of {len(TOUR)}: {title}.** {words}"


def build() -> tuple:
    """The tour's controls (inside an accordion at the top of the page)."""
    with gr.Accordion("Presenter's tour: the ideas step by step, no maths needed", open=False,
                      elem_id="tour"):
        text = gr.Markdown("Press *Start* (or *Next*): each step opens the right tab, set up to show one idea.",
                           elem_id="tour-text")
        with gr.Row():
            back = gr.Button("← Back", elem_id="tour-back", scale=0, min_width=120)
            nxt = gr.Button("Start / next →", variant="primary", elem_id="tour-next", scale=0, min_width=160)
    return text, back, nxt


def wire(text, back, nxt, outputs, show, chain, api) -> None:
    at = gr.State(-1)

    def go(i: int, by: int):
        i = min(max(int(i) + by, 0), len(TOUR) - 1)
        params = dict(urllib.parse.parse_qsl(TOUR[i][1]))
        return [i, step_words(i), *show(params)]

    for button, by, name in ((nxt, 1, "tour_next"), (back, -1, "tour_back")):
        chain(button.click(lambda i, _by=by: go(i, _by), at, [at, text, *outputs], **api(name)), name)

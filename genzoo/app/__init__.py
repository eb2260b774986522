"""The Gradio app: one module per tab (its widgets, listeners and view logic together), composed here."""
from __future__ import annotations

import gradio as gr

from ..registry import SPECS
from ..zoo import Zoo
from . import links, tour
from . import (class_tab, data_tab, diffusion_tab, fast_tab, interpolate_tab, latent_tab, live_tab, models_tab,
               quiz_tab, reconstruct_tab, sample_tab, scoreboard_tab, training_tab)
from .common import CSS, api, DATASET_CHOICES, DEFAULT_DATASET, class_names, model_choices
from .inputs import Dropdown, Radio, Textbox
from .text import INTRO

__all__ = ["CSS", "HEAD", "TABS", "build_app"]

#: the tabs, in the order a visitor meets them
TABS = (data_tab, sample_tab, class_tab, interpolate_tab, latent_tab, reconstruct_tab, training_tab, live_tab,
        diffusion_tab, fast_tab, quiz_tab, scoreboard_tab, models_tab)

#: what the page's <head> adds: the quiz's keyboard shortcuts
HEAD = quiz_tab.KEYS_JS


def build_app(zoo: Zoo) -> gr.Blocks:
    default = DEFAULT_DATASET
    # every 30 minutes, delete the pictures and GIFs Gradio cached for visitors more than an hour ago
    with gr.Blocks(title="GenZoo — how generative models draw", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO)
        dataset = Radio(DATASET_CHOICES, value=default, label="Dataset")
        unavailable = [f"- {e.dataset}/{e.spec.name}: {e.error}" for ds in zoo.entries.values()
                       for e in ds.values() if not e.ready]
        if unavailable:
            with gr.Accordion(f"{len(unavailable)} model(s) unavailable", open=False):
                gr.Markdown("\n".join(unavailable))
        tour_parts = tour.build()
        link_note = gr.Markdown(elem_id="link-note")
        with gr.Tabs(overflow_behavior="wrap") as tabs_block:     # every tab in sight, on any screen
            built = [tab.build(zoo, dataset, default, demo) for tab in TABS]
        with gr.Row(equal_height=True):
            copy = gr.Button("Copy link to this view", scale=0, min_width=220, elem_id="copy-link")
            link_box = Textbox(label="Link to this view (open it anywhere to see the same pictures)",
                                  buttons=["copy"], interactive=False, elem_id="link-box", scale=4)
        class_pickers = [picker for b in built for picker in b.classes]

        # model pickers (their choices are registry names) relabel "(unavailable)" for the dataset chosen
        pickers = [b for b in demo.blocks.values() if isinstance(b, (gr.CheckboxGroup, gr.Dropdown))
                   and b.choices and all(value in SPECS for _, value in b.choices)]

        def switch(ds, *chosen):
            """The class pickers follow the dataset: a class it has stays (a link may have set it), another becomes
            its first class; the model pickers say which models it lacks."""
            names = list(class_names(ds))
            classes = [Dropdown(choices=(["any"] + names if d.value == "any" else names),
                                value=(c if c in names or (c == "any" and d.value == "any") else
                                       "any" if d.value == "any" else names[0]))
                       for d, c in zip(class_pickers, chosen)]
            return classes + [type(p)(choices=model_choices(zoo, ds, [v for _, v in p.choices])) for p in pickers]

        # every switch updates the pickers at once (not after the last switch's redraws), so a view never pairs one
        # dataset with the other's class names
        switched = dataset.change(switch, [dataset, *class_pickers], class_pickers + pickers, **api("class_names"),
                                  trigger_mode="multiple")
        opened = links.wire(demo, tabs_block, dataset, {b.tab: b for b in built}, api, link_box, copy, link_note)
        chain = opened[2]
        chain(switched, "switch", every_tab=True)       # then the views that show a class, drawn again
        tour.wire(*tour_parts, *opened, api)
    return demo

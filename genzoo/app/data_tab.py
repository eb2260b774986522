"""Data: real training pictures of every class, and how many there are."""
from __future__ import annotations

import functools

import gradio as gr

from ..imaging import grid_pil
from ..zoo import Zoo
from .common import Built, Gallery, api, class_names, friendly, gallery, LIGHT, on_load
from .text import TEXT


@functools.lru_cache(maxsize=8)
def data_view(zoo: Zoo, dataset: str, per_class: int = 12) -> tuple[Gallery, list[list]]:
    d = zoo.subset(dataset)
    names = class_names(dataset)
    tiles = []
    for k, name in enumerate(names):
        imgs = d.train_images[d.train_labels == k][:per_class]
        tiles.append((grid_pil(imgs, nrow=4, scale=3), f"digit {name}" if dataset == "mnist" else name))
    rows = [[name, d.counts["train"][k], d.counts["test"][k]] for k, name in enumerate(names)]
    rows.append(["all classes", sum(d.counts["train"]), sum(d.counts["test"])])
    return tiles, rows


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    with gr.Tab("Data", id="data"):
        gr.Markdown(TEXT["data"])
        show = gr.Button("Show the data", variant="primary")
        images = gallery("Real training images of each class", columns=5, elem_id="data-gallery")
        counts = gr.Dataframe(headers=["class", "training images", "test images"], label="Images per class",
                              interactive=False)
    fn = friendly(lambda ds: data_view(zoo, ds))
    show.click(fn, dataset, [images, counts], **api("data"), **LIGHT)
    dataset.change(fn, dataset, [images, counts], **api("data_on_switch"), **LIGHT)
    demo.load(on_load(fn, 2), dataset, [images, counts], **api("data_on_load"), **LIGHT)
    built = Built()
    return built._replace(tab="data", link={})

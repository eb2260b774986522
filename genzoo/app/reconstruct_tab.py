"""Reconstruct: each autoencoder squeezes a test picture, or your drawing, into its code and rebuilds it."""
from __future__ import annotations


import gradio as gr

from ..registry import featured
from ..zoo import Zoo
from .common import (Built, Gallery, api, big, class_dropdown, class_names, friendly, gallery, LIGHT, on_load,
                     prepared_drawing, redraw, sketchpad, test_image, title)
from .inputs import Number, Radio
from .text import TEXT

def reconstruct_view(zoo: Zoo, dataset: str, source: str, class_name, index,
                     drawing=None) -> tuple[Gallery, tuple, list[list]]:
    if source == "drawing":
        x = prepared_drawing(dataset, drawing)
    elif source == "test image":
        x, _ = test_image(zoo, dataset, class_name, index)
    else:
        raise ValueError("source must be 'test image' or 'drawing'")
    tiles = [(big(x[0]), "input")]
    rows, best, shown_vae = [], None, False
    ready = zoo.ready(dataset)
    for name in [n for n in featured("reconstruct") if n in ready]:
        model = zoo.model(dataset, name)
        r = model.reconstruct(x)
        mse = float((r - x).pow(2).mean())
        tiles.append((big(r[0]), f"{title(name)} — error {mse:.4f}"))
        rows.append([title(name), round(mse, 5)])
        if best is None or (model.has_likelihood and not shown_vae):   # the slider: the first VAE, else the first
            best, shown_vae = r, model.has_likelihood
    if best is None:
        raise ValueError("no autoencoder is available for this dataset")
    return tiles, (big(x[0]), big(best[0])), rows


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    names = list(class_names(default))
    with gr.Tab("Reconstruct", id="reconstruct"):
        gr.Markdown(TEXT["reconstruct"])
        with gr.Row():
            with gr.Column():
                source = Radio(["test image", "drawing"], value="test image", label="Rebuild",
                                  elem_id="recon-source")
                cls = class_dropdown(names, value=names[2], label="Test picture: class")
                idx = Number(value=0, precision=0, minimum=0, label="Test picture: number")
            drawing = sketchpad("Your drawing", elem_id="recon-sketch")
        go_ = gr.Button("Rebuild", variant="primary")
        out = gallery("Input and each autoencoder's rebuild", columns=6, elem_id="recon-gallery")
        with gr.Row():
            slider = gr.ImageSlider(label="Before / after (the VAE, when available)", type="pil", format="png")
            table = gr.Dataframe(headers=["model", "error (mean squared)"], label="Rebuild error", interactive=False)
    @friendly
    def reconstruct(dataset, source, label, index, drawing=None):
        """Squeeze a picture through every autoencoder and show what each rebuilds, with the error.

        Args:
            dataset: the dataset, "mnist" or "fashion"
            source: "test image" (a real picture) or "drawing"
            label: class of the real picture
            index: number of the real picture within its class
            drawing: the drawing, when source is "drawing"
        """
        return reconstruct_view(zoo, dataset, source, label, index, drawing)

    view = reconstruct
    go_.click(view, [dataset, source, cls, idx, drawing], [out, slider, table], **api("reconstruct"), **LIGHT)
    demo.load(on_load(view, 3), [dataset, source, cls, idx, drawing], [out, slider, table],
              **api("reconstruct_on_load"), **LIGHT)
    built = Built([cls], [redraw(view, [dataset, source, cls, idx, drawing], [out, slider, table])])
    return built._replace(tab="reconstruct", link={"class": cls, "index": idx})

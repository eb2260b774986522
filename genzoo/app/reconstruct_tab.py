"""Reconstruct: each autoencoder squeezes a test picture, or your drawing, into its code and rebuilds it; and how
surprising the picture is to every model that can compute its likelihood."""
from __future__ import annotations


import gradio as gr

from ..registry import featured
from ..zoo import Zoo
from .common import (Built, Gallery, api, big, class_dropdown, class_names, friendly, gallery, HEAVY, LIGHT,
                     on_load, redraw, sketchpad, test_image, title)
from .inputs import prepared_drawing
from . import likelihoods
from .inputs import Number, Radio
from .turns import takes_turn
from .text import TEXT

def picture_of(zoo: Zoo, dataset: str, source: str, class_name, index, drawing=None):
    """The picture chosen: a test picture of the dataset, or the visitor's drawing, ``[1, 1, 28, 28]``."""
    if source == "drawing":
        return prepared_drawing(dataset, drawing)
    if source == "test image":
        return test_image(zoo, dataset, class_name, index)[0]
    raise ValueError("source must be 'test image' or 'drawing'")


def reconstruct_view(zoo: Zoo, dataset: str, source: str, class_name, index,
                     drawing=None) -> tuple[Gallery, tuple, list[list]]:
    x = picture_of(zoo, dataset, source, class_name, index, drawing)
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
        gr.Markdown(TEXT["surprise"])
        surprise = gr.Dataframe(headers=likelihoods.SURPRISE_HEADERS, label="How surprising is this picture?",
                                interactive=False, elem_id="recon-surprise")
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

    @friendly
    @takes_turn(memoized=True)
    def how_surprising(dataset, source, label, index, drawing=None):
        """How many bits per pixel each model with a likelihood (of both datasets) gives the picture, and where that
        lies among the model's own test pictures.

        Args:
            dataset: the dataset the test picture comes from, "mnist" or "fashion"
            source: "test image" (a real picture) or "drawing"
            label: class of the real picture
            index: number of the real picture within its class
            drawing: the drawing, when source is "drawing"
        """
        return likelihoods.surprise_view(zoo, picture_of(zoo, dataset, source, label, index, drawing))

    inputs = [dataset, source, cls, idx, drawing]
    go_.click(how_surprising, inputs, surprise, **api("surprise"), **HEAVY)     # an ODE's likelihood: seconds
    demo.load(on_load(how_surprising, 1), inputs, surprise, **api("surprise_on_load"), **HEAVY)
    view = reconstruct
    go_.click(view, [dataset, source, cls, idx, drawing], [out, slider, table], **api("reconstruct"), **LIGHT)
    demo.load(on_load(view, 3), [dataset, source, cls, idx, drawing], [out, slider, table],
              **api("reconstruct_on_load"), **LIGHT)
    built = Built([cls], [redraw(view, inputs, [out, slider, table]), redraw(how_surprising, inputs, [surprise])])
    return built._replace(tab="reconstruct", link={"class": cls, "index": idx})

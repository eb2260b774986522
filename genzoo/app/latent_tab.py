"""Latent map: the codes of 2,000 test pictures on a plane; decode any point, place a test picture or a drawing."""
from __future__ import annotations

import functools
from typing import Optional

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

from .. import explore, plots
from ..imaging import as_numpy_uint8, grid_pil, map_picture
from ..registry import SPECS, featured
from ..zoo import Zoo
from .common import (Built, Gallery, api, big, class_dropdown, class_names, friendly, gallery, HEAVY, LIGHT,
                     model_choices, on_load, sketchpad, test_image, title)
from .inputs import prepared_drawing
from .inputs import Checkbox, Dropdown, Number, Radio, Slider
from .text import TEXT
from .turns import takes_turn

PROJECTIONS = ("PCA", "t-SNE")


def latent_models() -> list[str]:
    """Every model with an encoder, so a code for each picture."""
    return [n for n, s in SPECS.items() if s.cls.can_encode]


@functools.lru_cache(maxsize=32)
def code_map(zoo: Zoo, dataset: str, name: str) -> explore.LatentMap:
    d = zoo.subset(dataset)
    return explore.latent_map(zoo.model(dataset, name), d.test_images, d.test_labels)


@functools.lru_cache(maxsize=8)
def decoded_plane(zoo: Zoo, dataset: str, name: str) -> Image.Image:
    """A 2-number code's plane, decoded at evenly spaced codes (the same picture every time)."""
    return grid_pil(explore.decoded_plane(zoo.model(dataset, name)), nrow=15, scale=2)


def latent_map_view(zoo: Zoo, dataset: str, name: str,
                    marker: Optional[np.ndarray] = None) -> tuple[go.Figure, Optional[Image.Image], str]:
    if name not in latent_models():
        raise ValueError(f"{name!r} has no latent map; choose one of {', '.join(latent_models())}")
    model = zoo.model(dataset, name)
    m = code_map(zoo, dataset, name)
    extra = []
    if marker is not None:
        extra.append(go.Scatter(x=[marker[0]], y=[marker[1]], mode="markers+text", name="your drawing",
                                text=["your drawing"], textposition="top center",
                                marker=dict(size=18, symbol="star", color="#EE7733", line=dict(width=2, color="#000"))))
    if m.explained is None:
        fig = plots.class_scatter(m.xy, m.labels, class_names(dataset), f"{title(name)}: its 2 code numbers",
                                  "code number 1", "code number 2", extra)
        plane = decoded_plane(zoo, dataset, name)
        note = ("This model's code has only two numbers, so the map shows them directly; the grid decodes evenly "
                "spaced codes.")
    else:
        e = m.explained
        fig = plots.class_scatter(m.xy, m.labels, class_names(dataset),
                                  f"{title(name)}: {model.latent_dim}-number codes, flattened by PCA",
                                  f"main direction 1 ({e[0]:.0%} of the spread)", f"main direction 2 ({e[1]:.0%})",
                                  extra)
        plane = None
        note = f"The two main directions together hold {e.sum():.0%} of how the codes vary."
    if model.conditional:
        note += (f" This model also needs a class to turn a code into a picture: a point you pick here is decoded as "
                 f"class {class_names(dataset)[0]!r}.")
    return fig, plane, note


def latent_point(zoo: Zoo, dataset: str, name: str, u: float, v: float) -> Image.Image:
    """Decode the code at map position (u, v): the mean code plus u and v along the two axes."""
    model = zoo.model(dataset, name)
    m = code_map(zoo, dataset, name)
    z = torch.from_numpy(m.lift(np.array([float(u), float(v)]))).float()[None]
    labels = torch.zeros(1, dtype=torch.long) if model.conditional else None
    return big(model.decode(z, labels)[0])


def latent_test_image(zoo: Zoo, dataset: str, name: str, class_name,
                      index) -> tuple[float, float, Image.Image, Image.Image]:
    """Where a test image lands on the map, and what its code decodes to."""
    model = zoo.model(dataset, name)
    x, k = test_image(zoo, dataset, class_name, index)
    lab = torch.tensor([k]) if model.conditional else None
    z = explore.encode_all(model, x, lab if lab is not None else torch.tensor([k]))
    u, v = code_map(zoo, dataset, name).project(z)[0]
    return float(u), float(v), big(x[0]), big(model.decode(torch.from_numpy(z).float(), lab)[0])


def latent_drawing(zoo: Zoo, dataset: str, name: str, drawing) -> tuple[go.Figure, Gallery]:
    """Your drawing as a marked point on the map, and the training images nearest to it."""
    x = prepared_drawing(dataset, drawing)
    model = zoo.model(dataset, name)
    m = code_map(zoo, dataset, name)
    lab = torch.zeros(1, dtype=torch.long)
    if model.conditional:   # the CVAE also needs a class: use the one the classifier would pick, else 0
        clf = zoo.entry(dataset, "classifier")
        lab = clf.model.predict(x) if clf.ready else lab
    xy = m.project(explore.encode_all(model, x, lab))[0]
    fig, _, _ = latent_map_view(zoo, dataset, name, marker=xy)
    d = zoo.subset(dataset)
    idx, dist = explore.nearest(d.train_images, x, k=6)
    names = class_names(dataset)
    tiles = [(big(x[0]), "your drawing, as the model sees it")]
    tiles += [(big(d.train_images[i]), f"{names[int(d.train_labels[i])]} — distance {dd:.1f}")
              for i, dd in zip(idx, dist)]
    return fig, tiles


@functools.lru_cache(maxsize=16)
def layout(zoo: Zoo, dataset: str, name: str, projection: str) -> tuple[np.ndarray, explore.MapFrame]:
    """The map's 2-D positions of the 2,000 test pictures (PCA or t-SNE of their codes) and its picture frame."""
    if projection not in PROJECTIONS:
        raise ValueError(f"choose a projection: {', '.join(PROJECTIONS)}")
    m = code_map(zoo, dataset, name)
    xy = m.xy if projection == "PCA" or m.explained is None else explore.tsne(m.codes)
    return xy, explore.MapFrame.around(xy)


def click_map_view(zoo: Zoo, dataset: str, name: str, projection: str, pictures: bool) -> tuple[Image.Image, str]:
    """The map as a picture to click: a dot per test picture (or, with ``pictures``, every eighth as itself)."""
    if name not in latent_models():
        raise ValueError(f"{name!r} has no latent map; choose one of {', '.join(latent_models())}")
    xy, frame = layout(zoo, dataset, name, projection)
    m = code_map(zoo, dataset, name)
    thumbs = as_numpy_uint8(zoo.subset(dataset).test_images) if pictures else None
    picture = map_picture(frame.to_pixels(xy), m.labels, plots.CLASS_COLOURS, frame.size, thumbs)
    legend = " · ".join(f"<span style='color:{plots.CLASS_COLOURS[k]}'>●</span> {c}"
                        for k, c in enumerate(class_names(dataset)))
    own = m.explained is None
    return picture, legend + "\n\n" + (TEXT["map_two_numbers"] if own else TEXT[f"map_{projection}"])


def map_click(zoo: Zoo, dataset: str, name: str, projection: str, px, py) -> tuple[Image.Image, str]:
    """Decode where the map was clicked: the code at that point (PCA, or a 2-number code), or, for t-SNE, which
    has no way back from an empty spot, the code of the nearest test picture."""
    xy, frame = layout(zoo, dataset, name, projection)
    try:
        px, py = float(px), float(py)
    except (TypeError, ValueError):
        raise ValueError("click a point on the map") from None
    if not (0 <= px <= frame.size and 0 <= py <= frame.size):
        raise ValueError(f"a point of the map lies within 0 to {frame.size} pixels, got ({px:g}, {py:g})")
    m = code_map(zoo, dataset, name)
    if projection == "PCA" or m.explained is None:
        u, v = frame.to_plane(px, py)
        return latent_point(zoo, dataset, name, u, v), f"the code at ({u:.2f}, {v:.2f}), decoded"
    i = int(np.argmin(((frame.to_pixels(xy) - [px, py]) ** 2).sum(1)))
    model = zoo.model(dataset, name)
    k = int(m.labels[i])
    labels = torch.tensor([k]) if model.conditional else None
    z = torch.from_numpy(m.codes[i]).float()[None]
    return big(model.decode(z, labels)[0]), (f"the nearest test picture's code (a {class_names(dataset)[k]}), "
                                             "decoded: t-SNE cannot turn an empty spot back into a code")


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    names = list(class_names(default))
    with gr.Tab("Latent map", id="latent"):
        gr.Markdown(TEXT["latent"])
        model = Dropdown(model_choices(zoo, default, latent_models()), value=featured("latent")[0], label="Model")
        show = gr.Button("Show the map", variant="primary")
        note = gr.Markdown()
        with gr.Row():
            fig = gr.Plot(label="Codes of 2,000 test pictures", elem_id="latent-plot")
            plane = gr.Image(label="2-D VAE: decoded grid of its code plane", type="pil", format="png")
        with gr.Row():
            with gr.Column():
                u = Slider(-4, 4, value=0, step=0.05, label="Position along direction 1")
                v = Slider(-4, 4, value=0, step=0.05, label="Position along direction 2")
                decoded = gr.Image(label="That point, decoded", type="pil", format="png", height=200)
            with gr.Column():
                cls = class_dropdown(names, value=names[0], label="A test picture: class")
                idx = Number(value=0, precision=0, minimum=0, label="A test picture: number")
                locate = gr.Button("Find it on the map")
                with gr.Row():
                    picked = gr.Image(label="The test picture", type="pil", format="png", height=150)
                    picked_dec = gr.Image(label="Its code, decoded", type="pil", format="png", height=150)
            with gr.Column():
                drawing = sketchpad("Draw something", elem_id="latent-sketch")
                place = gr.Button("Place my drawing")
        neighbours = gallery("Your drawing and the most similar training pictures (is the model copying?)", columns=7)
        gr.Markdown(TEXT["click_map"])
        with gr.Row():
            projection = Radio(list(PROJECTIONS), value="PCA",
                               label="Flatten the codes with (t-SNE takes some seconds the first time)")
            thumbs = Checkbox(False, label="Show small pictures instead of dots")
            draw_map = gr.Button("Draw the map to click", variant="primary")
        with gr.Row():
            click_map = gr.Image(label="Click anywhere on the map", type="pil", format="png", interactive=False,
                                 elem_id="click-map", scale=3, buttons=["fullscreen"])
            with gr.Column(scale=1):
                clicked = gr.Image(label="The clicked point, decoded", type="pil", format="png", height=220,
                                   elem_id="click-decoded")
                clicked_words = gr.Markdown(elem_id="click-words")
        map_words = gr.Markdown(elem_id="click-map-words")
        click_x, click_y = Number(visible=False), Number(visible=False)

    def over_zoo(fn, long: bool = False):
        """``fn`` with the zoo bound, its errors told plainly; ``long``: its work takes its turn (``turns``)."""
        bound = functools.partial(fn, zoo)
        return friendly(takes_turn()(bound) if long else bound)

    show.click(over_zoo(latent_map_view), [dataset, model], [fig, plane, note], **api("latent_map"),
               **HEAVY)
    dataset.change(on_load(over_zoo(latent_map_view), 3), [dataset, model], [fig, plane, note],
                   **api("latent_map_on_switch"), **HEAVY)
    demo.load(on_load(over_zoo(latent_map_view), 3), [dataset, model], [fig, plane, note],
              **api("latent_map_on_load"),
              **HEAVY)
    point = over_zoo(latent_point)
    u.release(point, [dataset, model, u, v], decoded, **api("latent_point"), **LIGHT)
    v.release(point, [dataset, model, u, v], decoded, **api("latent_point_v"), **LIGHT)
    locate.click(over_zoo(latent_test_image), [dataset, model, cls, idx], [u, v, picked, picked_dec],
                 **api("latent_locate"), **LIGHT)
    place.click(over_zoo(latent_drawing), [dataset, model, drawing], [fig, neighbours],
                **api("latent_drawing"), **LIGHT)
    map_inputs = [dataset, model, projection, thumbs]
    for event, name in ((draw_map.click, "click_map"), (projection.change, "click_map_projection"),
                        (thumbs.change, "click_map_pictures")):
        event(over_zoo(click_map_view, long=True), map_inputs, [click_map, map_words],
              **api(name), **HEAVY)        # a t-SNE layout takes seconds of both cores: it takes its turn

    def where(evt: gr.SelectData):
        return evt.index[0], evt.index[1]

    click_map.select(where, None, [click_x, click_y], **api("click_map_where"), queue=False).then(
        over_zoo(map_click), [dataset, model, projection, click_x, click_y], [clicked, clicked_words],
        **api("latent_click"), **LIGHT)
    built = Built([cls])
    return built._replace(tab="latent", link={"model": model, "u": u, "v": v, "class": cls, "index": idx,
                                                  "projection": projection})

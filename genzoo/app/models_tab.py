"""Models: what each model can do (read from the model objects), a plain description of each, its layers and the
equation it is trained on."""
from __future__ import annotations

import functools

import gradio as gr

from .. import guide
from ..data import dataset_info
from ..registry import SPECS, featured, sampler_options
from ..zoo import Zoo
from .common import Built, api, friendly, LIGHT, metrics, on_load
from .inputs import Dropdown
from .text import TEXT

LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


@functools.lru_cache(maxsize=32)
def untrained(name: str):
    """An untrained instance, for models without a checkpoint: same class, same abilities."""
    return SPECS[name].build().eval()


def any_model(zoo: Zoo, dataset: str, name: str):
    """The model to read facts from: the checkpoint's (its CPU copy), or an untrained one of the same shape."""
    e = zoo.entries.get(dataset, {}).get(name)
    return e.model.cpu if e is not None and e.ready else untrained(name)


def guide_table(zoo: Zoo, dataset: str) -> list[list]:
    """The capability table: one row per registry model, every cell read from the model object."""
    dataset_info(dataset)
    return [guide.capabilities(any_model(zoo, dataset, n), s.title, sampler_options(n, dataset))
            for n, s in SPECS.items()]


def guide_model(zoo: Zoo, dataset: str, name: str) -> tuple[str, list[list]]:
    """Description, training facts and key equation (Markdown with LaTeX), and the layer table."""
    if name not in SPECS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(SPECS)}")
    spec = SPECS[name]
    model = any_model(zoo, dataset, name)
    e = zoo.entries.get(dataset, {}).get(name)
    facts = (guide.training_facts(e.history, model) if e is not None and e.ready
             else f"{sum(p.numel() for p in model.parameters()):,} parameters · no checkpoint for this dataset yet")
    # a shipped checkpoint is described as it was trained (its history's recipe), not as the registry reads today
    recipe = (e.history.get("recipe") or {}) if e is not None and e.ready else {}
    summary = recipe.get("summary", spec.summary)
    lesson = f"**What it teaches:** {model.teaches}" if model.teaches else ""
    text = "\n\n".join(part for part in [f"### {spec.title}", summary, model.about, lesson, f"*{facts}*",
                                          "**Key equation**", model.equation] if part)
    # one small forward pass, where the checkpoint's networks run (an untrained stand-in runs here, on the CPU)
    layers = e.model.run(guide.layer_table, runs=3) if e is not None and e.ready else guide.layer_table(model)
    return text, layers


def guide_advice(zoo: Zoo, dataset: str) -> str:
    return "**Which model should I use?** " + guide.advice(metrics(zoo, dataset))


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    with gr.Tab("Models", id="models"):
        gr.Markdown(TEXT["models"])
        advice = gr.Markdown(elem_id="guide-advice")
        # every model in sight without scrolling; the yes/no columns wide enough for their headers' words
        table = gr.Dataframe(headers=guide.CAPABILITY_HEADERS, label="What each model can do (read from the models)",
                             interactive=False, elem_id="guide-table", wrap=True, max_height=1200,
                             column_widths=["19%", "10%", "10%", "10%", "10%", "11%", "30%"])
        model = Dropdown([(s.title, n) for n, s in SPECS.items()], value=featured("sample")[0],
                            label="Tell me about")
        about = gr.Markdown(latex_delimiters=LATEX, elem_id="guide-about")
        layers = gr.Dataframe(headers=["layer", "type", "output shape", "parameters"],
                              label="How it is built: its layers in the order they run", interactive=False)
    both = friendly(lambda ds: (guide_table(zoo, ds), guide_advice(zoo, ds)))
    demo.load(on_load(both, 2), dataset, [table, advice], **api("guide"), **LIGHT)
    dataset.change(both, dataset, [table, advice], **api("guide_on_switch"), **LIGHT)
    show = friendly(functools.partial(guide_model, zoo))
    model.change(show, [dataset, model], [about, layers], **api("guide_model"), **LIGHT)
    demo.load(show, [dataset, model], [about, layers], **api("guide_model_on_load"), **LIGHT)
    built = Built()
    return built._replace(tab="models", link={"model": model})

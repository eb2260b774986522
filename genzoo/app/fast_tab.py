"""How diffusion got fast: one noise and one class through ever fewer network runs, with each setting's measured
time here and its referee FID, and the plot of quality against network runs."""
from __future__ import annotations

import json
from typing import NamedTuple, Optional

import gradio as gr
import plotly.graph_objects as go
import torch

from .. import explore, plots
from ..measurements import sampler_scores
from ..registry import SPECS, sampler_settings
from ..zoo import Zoo
from models.samplers import SamplerSettings
from .common import (Built, Gallery, Progress, api, big, class_dropdown, class_index, class_names, friendly,
                     gallery, HEAVY, MAX_SEED, on_load, progress_adapter, redraw, title)
from .memo import Memo
from .drawing import sampler_options
from .inputs import clamp_int
from .inputs import Checkbox, Number
from .turns import takes_turn
from .text import TEXT

COMPARISON = Memo()


class Setting(NamedTuple):
    model: str
    how: SamplerSettings
    default: bool = False            # the app's own setting for the model

    @property
    def key(self) -> str:            # as ``scripts/sampler_scores.py`` records it in referee.json
        return self.how.key(T=self.how.steps or 0)

    def options(self, dataset: str) -> dict:
        """``sample``'s keyword arguments: the model's guidance on ``dataset``, with this sampler and its steps."""
        opts = sampler_options(self.model, dataset, self.how.sampler, self.how.steps)
        if self.how.guidance_interval is not None:
            opts["guidance_interval"] = self.how.guidance_interval
        return opts

    def words(self) -> str:
        return self.how.words() + (" (the app's choice)" if self.default else "")


def students() -> list[str]:
    """The distilled models: each names the model it was distilled from as its base."""
    return [n for n, s in SPECS.items() if s.generative and s.cls.distilled]


def settings(zoo: Zoo, dataset: str, with_ddpm: bool) -> list[Setting]:
    """From the original sampler to the distilled student: the teacher's samplers (and the app's own setting for
    it, where that is none of them), then the student's own steps."""
    out = []
    for student in students():
        teacher = SPECS[student].base
        if teacher in zoo.ready(dataset):
            T = zoo.model(dataset, teacher).T
            mine = sampler_settings(teacher, dataset)
            listed = ([SamplerSettings("ddpm", T, eta=1.0)] if with_ddpm else []) + \
                [SamplerSettings("ddim", s) for s in (50, 20, 10)] + \
                [SamplerSettings("dpm++2m", s) for s in (20, 10, 5)]
            out += [Setting(teacher, h, h.key(T) == mine.key(T)) for h in listed]
            if mine.key(T) not in {h.key(T) for h in listed}:
                out.append(Setting(teacher, mine, True))
        if student in zoo.ready(dataset):
            out += [Setting(student, SamplerSettings("ddim", s)) for s in
                    sorted(zoo.model(dataset, student).step_choices(), reverse=True)]
    return out


def referee_scores(zoo: Zoo, dataset: str, name: str) -> dict:
    """The referee's scores of a model's samplers, by setting."""
    return sampler_scores(zoo.entry(dataset, name).folder)


def labelled_fid(zoo: Zoo, dataset: str, name: str) -> Optional[float]:
    """The referee's FID of a one-pass model's pictures asked for with labels cycling, where it has one."""
    path = zoo.entry(dataset, name).folder / "referee.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    return (record.get("labels_cycling") or {}).get("fid")


def fid_figure(zoo: Zoo, dataset: str) -> go.Figure:
    """FID (10,000 pictures, labels cycling) against network runs a picture, log scale, for every measured setting
    of every model: one line per model and kind of sampler (its points differ only in their steps), and a point at
    1 run for each one-pass model that can be told a class."""
    fig = go.Figure()
    for name in zoo.ready(dataset, lambda e: e.model.generative and e.model.conditional):
        model = zoo.model(dataset, name)
        lines: dict[str, list] = {}
        if not model.samplers:
            fid = labelled_fid(zoo, dataset, name)
            if fid is not None:
                lines[title(name)] = [(model.network_evaluations(), fid, "one pass")]
        for k, v in referee_scores(zoo, dataset, name).items():
            how = SamplerSettings.from_key(k)
            kind = title(name) if model.distilled else f"{title(name)}: {how.words(short=True, steps=False)}"
            lines.setdefault(kind, []).append((v["network_runs"], v["fid"], how.words(short=True)))
        for kind, pts in lines.items():
            pts.sort()
            fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], text=[p[2] for p in pts],
                            mode="markers+lines+text", textposition="top center", name=kind, marker={"size": 11})
    fig = plots.style(fig, "Quality against cost: FID (lower is better) by network runs a picture", "network runs a "
                      "picture (log scale)", "FID")
    fig.update_xaxes(type="log", tickvals=[1, 2, 4, 8, 15, 20, 40, 100, 200, 1000, 2000])  # plain numbers
    return fig


def comparison_view(zoo: Zoo, dataset: str, class_name, seed: int = 0, with_ddpm: bool = False,
                    progress: Progress = None) -> tuple[Gallery, go.Figure]:
    k = class_index(dataset, class_name)
    seed = clamp_int(seed, 0, MAX_SEED, "seed")
    chosen = settings(zoo, dataset, with_ddpm)
    if not chosen:
        raise ValueError("no diffusion model and distilled student are available for this dataset")

    def compute():
        out = []
        for i, s in enumerate(chosen):
            if progress:
                progress(i / len(chosen), f"{title(s.model)}: {s.words()}")
            opts = s.options(dataset)
            model = zoo.model(dataset, s.model)
            timed = explore.timed_sample(model, 1, seed, torch.tensor([k]), **opts)
            fid = referee_scores(zoo, dataset, s.model).get(s.key, {}).get("fid")
            score = f"FID {fid:.2f}" if fid is not None else "FID not measured yet"
            out.append((big(timed.images), f"{title(s.model)} · {s.words()} — {model.network_evaluations(**opts)} "
                        f"network runs, {timed.seconds * 1000:,.0f} ms here, {score}"))
        return out
    pictures = COMPARISON.get((zoo, dataset, k, seed, with_ddpm), compute)
    return pictures, fid_figure(zoo, dataset)


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    names = list(class_names(default))
    with gr.Tab("Fast diffusion", id="fast"):
        gr.Markdown(TEXT["fast"])
        with gr.Row():
            cls = class_dropdown(names, value=names[3], label="Class to draw")
            seed = Number(value=0, precision=0, minimum=0, label="Seed (the same noise for every setting)")
            with_ddpm = Checkbox(False, label="Include the original DDPM (2,000 network runs: about 20 s here)")
        go_ = gr.Button("Draw with every setting", variant="primary")
        pictures = gallery("One noise, one class, ever fewer network runs", columns=5, elem_id="fast-gallery",
                           captioned=True)
        fid = gr.Plot(label="FID against network runs", elem_id="fast-plot")

    @friendly
    @takes_turn(memoized=True)
    def compare(ds, c, s, d, progress=gr.Progress()):
        return comparison_view(zoo, ds, c, s, d, progress_adapter(progress))

    inputs = [dataset, cls, seed, with_ddpm]
    go_.click(compare, inputs, [pictures, fid], **api("fast_diffusion"), **HEAVY)
    demo.load(on_load(compare, 2), inputs, [pictures, fid], **api("fast_diffusion_on_load"), **HEAVY)
    built = Built([cls], [redraw(compare, inputs, [pictures, fid])])
    return built._replace(tab="fast", link={"class": cls, "seed": seed})


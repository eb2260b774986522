"""Scoreboard: every model measured the same way (quality, variety, classes, sharpness, speed), with plots and a
few sentences written from the numbers."""
from __future__ import annotations

from typing import Optional

import gradio as gr
import plotly.graph_objects as go

from models.samplers import SamplerSettings

from .. import explore, plots
from ..answers import REAL, AnswerStore, StoreError
from ..data import dataset_info
from ..evaluation import percent
from ..measurements import Measurements
from ..provenance import describe
from ..registry import generative
from ..zoo import Zoo
from .common import (Built, Progress, api, friendly, HEAVY, LIGHT, metrics, on_load, progress_adapter, title)
from .drawing import sampler_options
from . import likelihoods
from .text import TEXT
from .turns import takes_turn

SCORE_HEADERS = ["model", "FID ↓", "referee's FID ↓", "precision ↑", "recall ↑", "class imbalance ↓",
                 "class accuracy ↑", "sharpness (real = 1)", "sits on a training picture (chance: 1 %)",
                 "ms per picture ↓", "network runs per picture", "parameters", "training minutes",
                 "people fooled (95 % interval)"]


def copy_words(copying: Optional[dict]) -> str:
    """A model's copying check in a table cell: the share of its pictures closer to a training picture than 99 %
    of unseen real pictures are, flagged when far above chance."""
    if not copying:
        return "not measured"
    share = f"{copying['close_share']:.1%}"
    return f"⚠ {share}: it copies" if copying["flagged"] else share


def curve_words(settings: Optional[dict]) -> str:
    """How a guidance curve was drawn, for its legend: ", DDIM 50" (its settings may be older than the table's)."""
    if not settings or not settings.get("sampler"):
        return ""
    interval = settings.get("guidance_interval")
    return ", " + SamplerSettings(settings["sampler"], settings.get("steps"),
                                  guidance_interval=tuple(interval) if interval else None).words(short=True)


def model_cell(r) -> str:
    """The model's name, with a warning when its row was measured on other settings or weights than today's."""
    return f"{r.title} (⚠ out of date: {describe(list(r.stale))})" if r.stale else r.title


def time_model(model, opts: dict) -> float:
    """Seconds for 16 pictures on this machine now, after a warm-up (measured afresh at every click)."""
    explore.timed_sample(model, 2, 0, **opts)
    return explore.timed_sample(model, 16, 1, **opts).seconds


def human_scores(store: AnswerStore, dataset: str) -> tuple[dict, str]:
    """The quiz's rates by source, and a sentence on them (or on why they cannot be read)."""
    try:
        rates = {s.source: s.rate for s in store.scores(dataset)}
    except StoreError as exc:
        return {}, f"*The quiz's answers cannot be read just now: {exc}.*"
    real = rates.get(REAL)
    if real is None:
        return rates, "*No one has played “Real or generated?” on this dataset yet.*"
    return rates, (f"**People's eyes** (the “Real or generated?” tab): real pictures were taken for generated ones "
                   f"in {real.words()}. A model's column says how often its pictures were taken for real.")


def scoreboard_view(zoo: Zoo, dataset: str, store: Optional[AnswerStore] = None
                    ) -> tuple[list[list], go.Figure, go.Figure, go.Figure, go.Figure, str]:
    """The measured table, a FID bar chart, quality against speed, the guidance curve, people fooled against FID,
    and a summary."""
    m = metrics(zoo, dataset)
    if m is None:
        raise ValueError(f"no measurements for {dataset_info(dataset).title} yet: run "
                         f"`python -m genzoo evaluate --dataset {dataset}`")
    human, human_line = human_scores(store or AnswerStore(), dataset)
    scores = list(m.models.values())
    rows = [[model_cell(r), round(r.fid, 2), None if r.referee_fid is None else round(r.referee_fid, 2),
             round(r.precision, 3), round(r.recall, 3), round(r.class_kl, 4),
             None if r.cond_acc is None else round(r.cond_acc, 4), round(r.sharpness, 2), copy_words(r.copying),
             round(r.ms_per_image, 3) if r.ms_per_image else None, r.network_runs, r.parameters,
             round(r.train_minutes, 1), human[name].words() if name in human else "no answers yet"]
            for name, r in m.models.items()]
    enough = [(m.models[n].title, m.models[n].fid, rate.value, *rate.interval) for n, rate in human.items()
              if n in m.models and rate.enough]
    real = human.get(REAL)
    people = plots.fooled(enough, (real.value, *real.interval) if real is not None and real.enough else None)
    fid_bar = plots.bars([r.title for r in scores], [r.fid for r in scores],
                         f"FID (lower is better; real pictures score {m.floor_fid:.2f})", "model", "FID (log scale)",
                         log_y=True)
    scatter = go.Figure()
    for i, r in enumerate(scores):
        if r.ms_per_image:
            scatter.add_trace(go.Scatter(x=[r.ms_per_image], y=[r.fid], mode="markers+text", text=[r.title],
                                         textposition="top center", name=r.title,
                                         marker=dict(size=12, color=plots.SERIES[i % len(plots.SERIES)])))
    scatter = plots.style(scatter, "Quality against speed (bottom left is best)",
                          "milliseconds per picture (log scale)", "FID (log scale)")
    scatter.update_xaxes(type="log")
    scatter.update_yaxes(type="log")
    scatter.update_layout(showlegend=False)
    # FID from fewer pictures reads higher, so each curve says how many it was measured on
    curves = {f"{r.title} ({r.guidance_curve[0]['n']:,} pictures a point{curve_words(r.curve_settings)})":
              tuple([p[k] for p in r.guidance_curve] for k in ("guidance", "cond_acc", "fid"))
              for r in scores if r.guidance_curve}
    return rows, fid_bar, scatter, plots.guidance(curves), people, summary(m) + "\n\n" + human_line


def summary(m: Measurements) -> str:
    """A few plain sentences written from the numbers."""
    res = m.models
    lines = [f"Scored on {m.n:,} pictures per model; the evaluator recognises {percent(m.classifier_accuracy)} of "
             f"real test pictures."]
    best = min(res.values(), key=lambda r: r.fid)
    line = (f"**Closest to real pictures:** {best.title} (FID {best.fid:.2f}; real pictures themselves score "
            f"{m.floor_fid:.2f}).")
    timed = [r for r in res.values() if r.ms_per_image]
    if timed and best.ms_per_image:
        fast = min(timed, key=lambda r: r.ms_per_image)
        ratio = best.ms_per_image / fast.ms_per_image
        line += (f" It takes {best.ms_per_image:.2f} ms per picture, about {ratio:.0f}× slower than the fastest, "
                 f"{fast.title} ({fast.ms_per_image:.2f} ms)." if ratio >= 2 else
                 f" It is also among the fastest: {best.ms_per_image:.2f} ms per picture.")
    lines.append(line)
    lines += [x for x in (referee_agreement(res), copying_line(res), speed_machine(res)) if x]
    if "vae" in res and "gan" in res:       # the question every course asks of these two
        vae, gan = res["vae"].sharpness, res["gan"].sharpness
        lines.append(f"**Are VAE pictures blurrier than GAN pictures?** Yes: the VAE's edges are {vae:.2f}× as sharp "
                     f"as real pictures, the GAN's {gan:.2f}×." if vae < gan else
                     f"**Are VAE pictures blurrier than GAN pictures?** Not here: sharpness {vae:.2f} vs {gan:.2f} "
                     f"(1 = as sharp as real pictures).")
    # models that choose the class themselves (those that need a class are given random ones: even by construction)
    free = [r for r in res.values() if not r.requires_labels]
    if free:
        even, uneven = min(free, key=lambda r: r.class_kl), max(free, key=lambda r: r.class_kl)
        lines.append(f"**Which model covers every class?** Most evenly: {even.title} (imbalance {even.class_kl:.3f}); "
                     f"least evenly: {uneven.title} ({uneven.class_kl:.3f}; 0 = all classes equally often).")
    walked = [r for r in res.values() if r.smoothness is not None]
    if walked:
        s_best, s_worst = min(walked, key=lambda r: r.smoothness), max(walked, key=lambda r: r.smoothness)
        lines.append(f"**Is interpolation smooth?** Smoothest: {s_best.title} ({s_best.smoothness:.2f}); "
                     f"jumpiest: {s_worst.title} ({s_worst.smoothness:.2f}; 1 = perfectly even steps).")
    told = [r for r in res.values() if r.cond_acc is not None]
    if told:
        a_best = max(told, key=lambda r: r.cond_acc)
        lines.append(f"**Draws the class you ask for most reliably:** {a_best.title} ({percent(a_best.cond_acc)} "
                     f"recognised as that class by the evaluator).")
    for r in res.values():
        if r.number_format != "fp32" and r.precision_check:
            c = r.precision_check
            lines.append(f"*To save time, the pictures scored for {r.title} were drawn with a shorter number "
                         f"format ({r.number_format}) than the app's. Checked on {c['n']} pictures drawn both ways "
                         f"from the same noise: the evaluator saw the same class in {c['same_class']:.0%} of them, "
                         f"and pixels differ by {c['mean_abs_pixel_diff']:.1%} on average.*")
    return "\n\n".join(lines)


def referee_agreement(res: dict) -> Optional[str]:
    """Whether the referee (a classifier trained apart from the project) orders the models as the project's own
    evaluator does, from the models both scored on the same pictures' settings and weights."""
    both = [r for r in res.values() if r.referee_fid is not None]
    if len(both) < 2:
        return None
    swapped = [(a, b) for i, a in enumerate(both) for b in both[i + 1:]
               if (a.fid - b.fid) * (a.referee_fid - b.referee_fid) < 0]
    ref_best = min(both, key=lambda r: r.referee_fid)
    head = (f"**A second opinion:** the referee, a scorer trained apart from this project, ranks {ref_best.title} "
            f"first (its FID {ref_best.referee_fid:.2f}).")
    if not swapped:
        return head + f" It orders all {len(both)} models it scored as the project's evaluator does."
    pairs = "; ".join(f"{a.title} and {b.title} (evaluator {a.fid:.2f} vs {b.fid:.2f}, referee "
                      f"{a.referee_fid:.2f} vs {b.referee_fid:.2f})" for a, b in swapped[:4])
    more = f", and {len(swapped) - 4} more pairs" if len(swapped) > 4 else ""
    return (head + f" The two disagree on the order of {len(swapped)} of {len(both) * (len(both) - 1) // 2} pairs: "
            f"{pairs}{more}.")


def copying_line(res: dict) -> Optional[str]:
    """Does any model copy its training pictures? From each model's nearest-training-picture check."""
    checked = [r for r in res.values() if r.copying]
    if not checked:
        return None
    flagged = [r for r in checked if r.copying["flagged"]]
    closest = max(checked, key=lambda r: r.copying["close_share"])
    if flagged:
        return ("**Does any model copy?** " + ", ".join(r.title for r in flagged) + ": too many of its pictures sit "
                "almost on top of a training picture, closer than 99 % of unseen real pictures come.")
    return (f"**Does any model copy?** No: at most {closest.copying['close_share']:.1%} of a model's pictures "
            f"({closest.title}) sit closer to a training picture than 99 % of unseen real pictures do, about what "
            f"chance gives (1 %).")


def speed_machine(res: dict) -> Optional[str]:
    machines = sorted({r.machine for r in res.values() if r.machine})
    return (f"*Speeds measured at each model's default settings, 16 pictures a batch, on {' and '.join(machines)}.*"
            if machines else None)


def speed_view(zoo: Zoo, dataset: str, progress: Progress = None) -> list[list]:
    """Sizes and a quick live timing of every model on this machine (batch 16)."""
    rows = []
    names = generative()
    for i, name in enumerate(names):
        e = zoo.entries.get(dataset, {}).get(name)
        if e is None or not e.ready:
            rows.append([title(name), None, None, None, "unavailable"])
            continue
        if progress:
            progress(i / len(names), f"timing {title(name)}")
        opts = sampler_options(name, dataset)
        secs = time_model(e.model, opts)
        evals = e.model.network_evaluations(**opts, labels_given=False)
        rows.append([title(name), e.parameters, evals, round(1000 * secs / 16, 2),
                     "still training" if e.in_training else "ready"])
    return rows


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    with gr.Tab("Scoreboard", id="scoreboard"):
        gr.Markdown(TEXT["scoreboard"])
        with gr.Accordion("What the columns mean", open=False):
            gr.Markdown(TEXT["scoreboard_columns"])
        show = gr.Button("Show the scoreboard", variant="primary")
        summary_md = gr.Markdown(elem_id="scoreboard-summary")
        table = gr.Dataframe(headers=SCORE_HEADERS, label="Measured with the project's evaluator",
                             interactive=False, elem_id="scoreboard-table")
        with gr.Row():
            fid = gr.Plot(label="FID", elem_id="scoreboard-fid")
            scatter = gr.Plot(label="Quality against speed")
        with gr.Row():
            guidance = gr.Plot(label="Guidance")
            people = gr.Plot(label="People fooled", elem_id="scoreboard-people")
        like_words, like_table, like_plot = likelihoods.panel()
        with gr.Accordion("Time the models on this machine now", open=False):
            measure = gr.Button("Measure speed")
            speed = gr.Dataframe(headers=["model", "parameters", "network runs per picture",
                                          "ms per picture (batch 16)", "status"],
                                 label="Measured just now", interactive=False)

    @friendly
    def scoreboard(dataset):
        """The measured comparison of every model on a dataset: FID and the other referee scores, speed, and a
        plain summary.

        Args:
            dataset: the dataset, "mnist" or "fashion"
        """
        return scoreboard_view(zoo, dataset)

    board, outputs = scoreboard, [table, fid, scatter, guidance, people, summary_md]
    show.click(board, dataset, outputs, **api("scoreboard"), **LIGHT)
    for event, when in ((demo.load, "load"), (dataset.change, "switch")):
        event(on_load(board, len(outputs)), dataset, outputs, **api(f"scoreboard_on_{when}"), **LIGHT)

    @friendly
    def likelihood_board(dataset):
        """How likely each model with a likelihood finds real pictures, in bits per pixel, on its own dataset's test
        pictures and on the other dataset's, with what the numbers show.

        Args:
            dataset: the dataset, "mnist" or "fashion"
        """
        return likelihoods.likelihood_view(zoo, dataset)

    like_outputs = [like_words, like_table, like_plot]
    show.click(likelihood_board, dataset, like_outputs, **api("likelihoods"), **LIGHT)
    for event, when in ((demo.load, "load"), (dataset.change, "switch")):
        event(on_load(likelihood_board, len(like_outputs)), dataset, like_outputs,
              **api(f"likelihoods_on_{when}"), **LIGHT)

    @friendly
    @takes_turn()
    def run(ds, progress=gr.Progress()):
        return speed_view(zoo, ds, progress_adapter(progress))

    measure.click(run, dataset, speed, **api("speed"), **HEAVY)
    built = Built()
    return built._replace(tab="scoreboard", link={})

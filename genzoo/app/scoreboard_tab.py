"""Scoreboard: every model measured the same way (quality, variety, classes, sharpness, speed), with plots and a
few sentences written from the numbers."""
from __future__ import annotations

import functools

import gradio as gr
import plotly.graph_objects as go

from .. import explore, plots
from ..data import dataset_info
from ..evaluation import ms_per_image, percent
from ..registry import SPECS
from ..zoo import Zoo
from .common import on_load, HEAVY, Progress, friendly, metrics, progress_adapter, sampler_options, title
from .text import TEXT

SCORE_HEADERS = ["model", "FID ↓", "precision ↑", "recall ↑", "class imbalance ↓", "class accuracy ↑",
                 "sharpness (real = 1)", "ms per picture ↓", "network runs per picture", "parameters",
                 "training minutes"]


def time_model(model, opts: dict) -> float:
    """Seconds for 16 pictures on this machine now, after a warm-up (measured afresh at every click)."""
    explore.timed_sample(model, 2, 0, **opts)
    return explore.timed_sample(model, 16, 1, **opts).seconds


def scoreboard_view(zoo: Zoo, dataset: str) -> tuple[list[list], go.Figure, go.Figure, go.Figure, str]:
    """The measured table, a FID bar chart, quality against speed, the guidance curve and a summary."""
    m = metrics(zoo, dataset)
    if m is None:
        raise ValueError(f"no measurements for {dataset_info(dataset).title} yet: run "
                         f"`python -m genzoo evaluate --dataset {dataset}`")
    rows, names, fids, speeds = [], [], [], []
    for name, r in m["models"].items():
        u = r["unconditional"]
        c = r.get("conditional_samples", {})
        ms = ms_per_image(r)
        rows.append([r["title"], round(u["fid"], 2), round(u["precision"], 3), round(u["recall"], 3),
                     round(u["class_kl"], 4), round(c["cond_acc"], 4) if "cond_acc" in c else None,
                     round(u["sharpness"], 2), round(ms, 3) if ms else None,
                     next(iter(r["network_evaluations"].values())), r["parameters"],
                     round(r["training"]["time_s"] / 60, 1)])
        names.append(r["title"])
        fids.append(u["fid"])
        speeds.append(ms)
    fid_bar = plots.bars(names, fids, f"FID (lower is better; real pictures score {m['floor_fid']:.2f})",
                         "model", "FID (log scale)", log_y=True)
    scatter = go.Figure()
    for i, (nm, f, sp) in enumerate(zip(names, fids, speeds)):
        if sp:
            scatter.add_trace(go.Scatter(x=[sp], y=[f], mode="markers+text", text=[nm], textposition="top center",
                                         name=nm, marker=dict(size=12, color=plots.SERIES[i % len(plots.SERIES)])))
    scatter = plots.style(scatter, "Quality against speed (bottom left is best)",
                          "milliseconds per picture (log scale)",
                          "FID (log scale)")
    scatter.update_xaxes(type="log")
    scatter.update_yaxes(type="log")
    scatter.update_layout(showlegend=False)
    # FID from fewer pictures reads higher, so each curve says how many it was measured on
    curves = {f"{r['title']} ({r['guidance_curve'][0]['n']:,} pictures a point)":
              tuple([p[k] for p in r["guidance_curve"]] for k in ("guidance", "cond_acc", "fid"))
              for r in m["models"].values() if "guidance_curve" in r}
    return rows, fid_bar, scatter, plots.guidance(curves), summary(m)

def summary(m: dict) -> str:
    """A few plain sentences written from the numbers."""
    res = m["models"]
    lines = [f"Scored on {m['n']:,} pictures per model; the evaluator recognises "
             f"{percent(m['classifier_test_accuracy'])} of real test pictures."]
    fid = {n: r["unconditional"]["fid"] for n, r in res.items()}
    speed = {n: ms_per_image(r) for n, r in res.items() if ms_per_image(r)}
    best = min(fid, key=fid.get)
    line = (f"**Closest to real pictures:** {res[best]['title']} (FID {fid[best]:.2f}; real pictures themselves score "
            f"{m['floor_fid']:.2f}).")
    if speed and best in speed:
        fast = min(speed, key=speed.get)
        ratio = speed[best] / speed[fast]
        line += (f" It takes {speed[best]:.2f} ms per picture, about {ratio:.0f}× slower than the fastest, "
                 f"{res[fast]['title']} ({speed[fast]:.2f} ms)." if ratio >= 2 else
                 f" It is also among the fastest: {speed[best]:.2f} ms per picture.")
    lines.append(line)
    sharp = {n: r["unconditional"]["sharpness"] for n, r in res.items()}
    if "vae" in sharp and "gan" in sharp:
        verdict = "blurrier" if sharp["vae"] < sharp["gan"] else "not blurrier"
        lines.append(f"**Are VAE pictures blurrier than GAN pictures?** Yes: the VAE's edges are "
                     f"{sharp['vae']:.2f}× as sharp as real pictures, the GAN's {sharp['gan']:.2f}×."
                     if verdict == "blurrier" else
                     f"**Are VAE pictures blurrier than GAN pictures?** Not here: sharpness {sharp['vae']:.2f} vs "
                     f"{sharp['gan']:.2f} (1 = as sharp as real pictures).")
    # models that choose the class themselves (those that need a class are given random ones: even by construction)
    kl = {n: r["unconditional"]["class_kl"] for n, r in res.items() if not r["requires_labels"]}
    if kl:
        even, uneven = min(kl, key=kl.get), max(kl, key=kl.get)
        lines.append(f"**Which model covers every class?** Most evenly: {res[even]['title']} "
                     f"(imbalance {kl[even]:.3f}); "
                     f"least evenly: {res[uneven]['title']} ({kl[uneven]:.3f}; 0 = all classes equally often).")
    smooth = {n: r["interpolation_smoothness"] for n, r in res.items() if "interpolation_smoothness" in r}
    if smooth:
        s_best, s_worst = min(smooth, key=smooth.get), max(smooth, key=smooth.get)
        lines.append(f"**Is interpolation smooth?** Smoothest: {res[s_best]['title']} ({smooth[s_best]:.2f}); "
                     f"jumpiest: {res[s_worst]['title']} ({smooth[s_worst]:.2f}; 1 = perfectly even steps).")
    acc = {n: r["conditional_samples"]["cond_acc"] for n, r in res.items() if "conditional_samples" in r}
    if acc:
        a_best = max(acc, key=acc.get)
        lines.append(f"**Draws the class you ask for most reliably:** {res[a_best]['title']} ({percent(acc[a_best])} "
                     f"recognised as that class by the evaluator).")
    for r in res.values():
        if r.get("precision", "fp32") != "fp32" and "precision_check" in r:
            c = r["precision_check"]
            lines.append(f"*To save time, the pictures scored for {r['title']} were drawn with a shorter number "
                         f"format ({r['precision']}) than the app's. Checked on {c['n']} pictures drawn both ways "
                         f"from the same noise: the evaluator saw the same class in {c['same_class']:.0%} of them, "
                         f"and pixels differ by {c['mean_abs_pixel_diff']:.1%} on average.*")
    return "\n\n".join(lines)

def speed_view(zoo: Zoo, dataset: str, progress: Progress = None) -> list[list]:
    """Sizes and a quick live timing of every model on this machine (batch 16)."""
    rows = []
    names = [n for n in SPECS if SPECS[n].generative]
    for i, name in enumerate(names):
        e = zoo.entries.get(dataset, {}).get(name)
        if e is None or not e.ready:
            rows.append([title(name), None, None, None, "unavailable"])
            continue
        if progress:
            progress(i / len(names), f"timing {title(name)}")
        opts = sampler_options(name, dataset)
        secs = time_model(e.model, opts)
        evals = e.model.network_evaluations(**opts, labels_given=False) if opts else 1
        rows.append([title(name), e.parameters, evals, round(1000 * secs / 16, 2),
                     "still training" if e.in_training else "ready"])
    return rows


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> list:
    with gr.Tab("Scoreboard", id="scoreboard"):
        gr.Markdown(TEXT["scoreboard"])
        show = gr.Button("Show the scoreboard", variant="primary")
        summary_md = gr.Markdown(elem_id="scoreboard-summary")
        table = gr.Dataframe(headers=SCORE_HEADERS, label="Measured with the project's evaluator",
                             interactive=False, elem_id="scoreboard-table")
        with gr.Row():
            fid = gr.Plot(label="FID", elem_id="scoreboard-fid")
            scatter = gr.Plot(label="Quality against speed")
        guidance = gr.Plot(label="Guidance")
        with gr.Accordion("Time the models on this machine now", open=False):
            measure = gr.Button("Measure speed")
            speed = gr.Dataframe(headers=["model", "parameters", "network runs per picture",
                                          "ms per picture (batch 16)", "status"],
                                 label="Measured just now", interactive=False)

    board = friendly(functools.partial(scoreboard_view, zoo))
    show.click(board, dataset, [table, fid, scatter, guidance, summary_md], api_name="scoreboard")
    for event, when in ((demo.load, "load"), (dataset.change, "switch")):
        event(on_load(board, 5), dataset, [table, fid, scatter, guidance, summary_md], api_name=f"scoreboard_on_{when}")

    @friendly
    def run(ds, progress=gr.Progress()):
        return speed_view(zoo, ds, progress_adapter(progress))

    measure.click(run, dataset, speed, api_name="speed", concurrency_id=HEAVY)
    return []

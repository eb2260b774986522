"""How likely is a real picture? The Scoreboard's bits-per-dimension table of every model with a likelihood, the
histograms of its own test pictures beside the other dataset's (the paradox of Nalisnick et al.), and the sentences
the numbers support."""
from __future__ import annotations

import hashlib

import gradio as gr
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .. import likelihood, plots
from ..data import DATASETS, dataset_info
from ..zoo import Zoo
from .common import metrics, title
from .memo import Memo

HEADERS = ["model", "what it computes", "bits per pixel, own test pictures ↓", "tighter bound",
           "bits per pixel, the other dataset's", "pictures of each"]
KIND_WORDS = {"exact": "the exact likelihood", "ode": "the exact likelihood, through its ODE (estimated)",
              "bound": "a lower bound on it (fewer bits are possible)"}


def other(dataset: str) -> str:
    return next(d for d in DATASETS if d != dataset)


def rows_of(zoo: Zoo, dataset: str) -> dict[str, dict]:
    """The fresh rows for the models the app has, in the registry's order."""
    table = likelihood.read(dataset, zoo.root)
    return {n: table[n] for n in zoo.ready(dataset) if n in table}


def likelihood_table(zoo: Zoo, dataset: str) -> list[list]:
    away = other(dataset)
    out = []
    for name, r in rows_of(zoo, dataset).items():
        tight = r.get("importance_weighted")
        out.append([title(name), KIND_WORDS[r["kind"]], round(r["own"]["bits_per_dim"], 3),
                    f"{tight['bits_per_dim']:.3f} with {tight['k']} draws (one: {tight['one_draw_bits_per_dim']:.3f}; "
                    f"{tight['n']:,} pictures)" if tight else "—",
                    round(r[away]["bits_per_dim"], 3) if away in r else None, r["own"]["n"]])
    return out


def histogram(percentiles: list[float], edges: np.ndarray) -> np.ndarray:
    """The share of pictures in each bin, from the set's percentiles (linear between them)."""
    cdf = np.interp(edges, percentiles, likelihood.PERCENTILES, left=0.0, right=100.0)
    return np.diff(cdf)


def paradox_figure(zoo: Zoo, dataset: str) -> go.Figure:
    """One panel per model: the bits per pixel it gives its own test pictures and the other dataset's."""
    rows, away = rows_of(zoo, dataset), other(dataset)
    own_name, away_name = dataset_info(dataset).title, dataset_info(away).title
    shown = {n: r for n, r in rows.items() if away in r}
    fig = make_subplots(rows=max(1, len(shown)), cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[title(n) for n in shown])
    everything = [v for r in shown.values() for part in ("own", away) for v in r[part]["percentiles"]]
    lo, hi = (np.percentile(everything, 1), np.percentile(everything, 99)) if everything else (0.0, 8.0)
    edges = np.linspace(lo, hi, 61)
    centres = (edges[:-1] + edges[1:]) / 2
    for i, r in enumerate(shown.values()):
        for part, name, colour in (("own", f"its own test pictures ({own_name})", plots.SERIES[0]),
                                   (away, f"test pictures of {away_name}", plots.SERIES[1])):
            fig.add_trace(go.Bar(x=centres.tolist(), y=histogram(r[part]["percentiles"], edges).tolist(), name=name,
                                 marker_color=colour, opacity=0.6, showlegend=i == 0, legendgroup=part),
                          row=i + 1, col=1)
    fig.update_layout(barmode="overlay", bargap=0)
    plots.style(fig, "Bits per pixel: its own test pictures and the other dataset's", "", "% of pictures",
                height=max(320, 170 * len(shown) + 120))
    fig.update_xaxes(title_text="bits per pixel (fewer = the model finds the picture more likely)",
                     row=max(1, len(shown)), col=1)           # once, under the last panel
    fig.update_layout(legend=dict(orientation="h", y=-0.12 if len(shown) < 3 else -0.05))
    return fig


def likelihood_summary(zoo: Zoo, dataset: str) -> str:
    rows, away = rows_of(zoo, dataset), other(dataset)
    if not rows:
        return (f"No likelihoods measured for {dataset_info(dataset).title} yet: run "
                f"`python -m genzoo likelihood --dataset {dataset}`.")
    own_name, away_name = dataset_info(dataset).title, dataset_info(away).title
    counts = sorted({r["own"]["n"] for r in rows.values()})
    pictures = f"{counts[0]:,} test pictures" if len(counts) == 1 else (
        f"up to {counts[-1]:,} test pictures (fewer where a likelihood costs many network runs)")
    best = min(rows, key=lambda k: rows[k]["own"]["bits_per_dim"])
    lines = [f"**How likely does each model find real pictures?** Measured on {pictures}, on one scale for "
             f"all: the bits a model needs to store each pixel (8 = guessing among 256 greys; fewer = more likely). "
             f"Most likely here: {title(best)}, {rows[best]['own']['bits_per_dim']:.2f} bits per pixel."]
    if dataset == "mnist":
        lines.append("Published, for comparison (MNIST): " + ", ".join(f"{k} {v:.2f}" for k, v in
                                                                         likelihood.PUBLISHED_MNIST)
                     + f" bits per pixel ({likelihood.PUBLISHED_SOURCE}).")
    m = metrics(zoo, dataset)
    scored = [k for k in rows if m is not None and k in m.models]
    if len(scored) >= 2:
        by_fid = min(scored, key=lambda k: m.models[k].fid)
        by_bits = min(scored, key=lambda k: rows[k]["own"]["bits_per_dim"])
        lines.append(f"**Likelihood and looks can disagree** (Theis et al., 2016): of these models, the best "
                     f"pictures (lowest FID) come from {title(by_fid)}, the highest likelihood from {title(by_bits)}."
                     if by_fid != by_bits else
                     f"**Likelihood and looks agree here:** {title(by_fid)} has both the best pictures (lowest FID) "
                     f"and the highest likelihood of these models.")
    flipped = [k for k, r in rows.items() if away in r and r[away]["bits_per_dim"] < r["own"]["bits_per_dim"]]
    with_other = [k for k in rows if away in rows[k]]
    if with_other:
        lines.append(
            f"**The paradox** (Nalisnick et al., 2019): {len(flipped)} of {len(with_other)} models trained on "
            f"{own_name} find the test pictures of {away_name} *more* likely than their own"
            + (f" ({', '.join(title(k) for k in flipped)}): a high likelihood does not mean a picture is of the "
               f"kind the model learned." if flipped else
               ": here a picture of the other kind costs more bits, as one would hope."))
    return "\n\n".join(lines)


def likelihood_view(zoo: Zoo, dataset: str) -> tuple[str, list[list], go.Figure]:
    return likelihood_summary(zoo, dataset), likelihood_table(zoo, dataset), paradox_figure(zoo, dataset)


def panel() -> tuple[gr.Markdown, gr.Dataframe, gr.Plot]:
    """The section's words, its table and its histograms (filled with the rest of the Scoreboard)."""
    words = gr.Markdown(elem_id="likelihood-summary")
    table = gr.Dataframe(headers=HEADERS, label="How likely each model finds real pictures (bits per pixel)",
                         interactive=False, wrap=True, elem_id="likelihood-table")
    figure = gr.Plot(label="Its own pictures and the other dataset's", elem_id="likelihood-paradox")
    return words, table, figure


def percentile_words(row: dict, bits: float) -> str:
    """Where a picture's bits per pixel lie among the model's own test pictures, in words."""
    share = likelihood.percentile(row, bits)
    return (f"more surprising than {share:.0f} % of its test pictures" if share >= 50 else
            f"less surprising than {100 - share:.0f} % of its test pictures")


#: each model's bits per pixel for a picture, by picture (a test picture opens the tab: drawn ahead at start-up)
SCORED = Memo(256)
SURPRISE_HEADERS = ["model", "trained on", "bits per pixel for this picture", "how surprising to it"]


def surprise_view(zoo: Zoo, picture) -> list[list]:
    """Every likelihood model of both datasets: the bits per pixel it gives one picture ``[1, 1, 28, 28]`` in
    [0, 1], and where that lies among its own test pictures (a digit on the clothes models, and clothes on the digit
    models, side by side)."""
    out, key = [], hashlib.sha256(picture.cpu().numpy().tobytes()).hexdigest()
    for dataset in DATASETS:
        for name, row in rows_of(zoo, dataset).items():
            model = zoo.model(dataset, name)
            bits = SCORED.get((zoo, dataset, name, key), lambda: float(
                likelihood.bits_per_dim(likelihood.picture_nats(model, picture))[0]))
            out.append([title(name), dataset_info(dataset).title, round(bits, 3), percentile_words(row, bits)])
    if not out:
        raise ValueError("no model with a likelihood has been measured yet: run `python -m genzoo likelihood`")
    return out

"""Train it yourself: a small VAE or GAN learns from the shipped pictures in the page, with play, pause, one step
and reset; samples from one fixed noise batch arrive every second, the curves every three. The training is
``genzoo.live``."""
from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go

from .. import plots
from ..imaging import grid_pil
from ..live import SEATS, LiveError, LiveRun, Seats
from ..zoo import Zoo
from .common import Built, api, friendly
from .inputs import Dropdown, Radio, Slider
from .text import TEXT

CURVES_EVERY = 3        # seconds between updates of the training curves (the samples come every second)
LANE = dict(concurrency_id="live", concurrency_limit=SEATS + 6)   # the extra visitors hear why at once
RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01]


def curves_figure(run: LiveRun) -> go.Figure:
    c = run.curves
    return plots.lines({k: (c.steps, v) for k, v in c.values.items()}, "What the training measures, step by step",
                       "training step (64 pictures each)", "value")


def status(run: LiveRun, state: str) -> str:
    return (f"**{state}** · step {run.step:,} · {run.used_s:.0f} s of {run.budget_s:.0f} s of computing used "
            f"({run.cpu_s:.0f} s of CPU time)")


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    seats = Seats()
    with gr.Tab("Train it yourself", id="live"):
        gr.Markdown(TEXT["live"])
        with gr.Row():
            family = Radio([("VAE", "vae"), ("GAN", "gan")], value="vae", label="Model to train")
            beta = Slider(0, 10, value=1, step=0.5, label="VAE: β (weight of the bell-curve pressure)")
            critic = Slider(1, 5, value=1, step=1, label="GAN: critic steps per generator step")
            lr = Dropdown(RATES, value=0.001, label="Learning rate")
        with gr.Row():
            play = gr.Button("▶ Play", variant="primary", elem_id="live-play")
            pause = gr.Button("Pause", elem_id="live-pause")
            step = gr.Button("Step (one second)", elem_id="live-step")
            reset = gr.Button("Reset", elem_id="live-reset")
        state = gr.Markdown("Press Play to start. Settings take effect at the next Reset.", elem_id="live-status")
        with gr.Row():
            samples = gr.Image(label="16 samples from the same noise, as the model learns", type="pil",
                               format="png", height=360, elem_id="live-samples", scale=1)
            curves = gr.Plot(label="Training curves", elem_id="live-curves", scale=2)
        watch = gr.Markdown(TEXT["live_vae"], elem_id="live-watch")

    def run_for(request: gr.Request, ds, fam, b, k, rate, fresh: bool = False) -> LiveRun:
        visitor = request.session_hash if request is not None else "api"
        run = seats.get(visitor)
        if fresh or run is None or run.dataset != ds or run.left_s <= 0:
            run = LiveRun(zoo.subset(ds).train_images, fam, rate, b, k, dataset=ds)
            seats.take(visitor, run)
        return run

    def shown(run: LiveRun, words: str, curves: bool = True):
        """The samples, the curves (or, between their updates, the ones on show), the status and the family's words."""
        return (grid_pil(run.samples(), nrow=4, scale=4), curves_figure(run) if curves else gr.skip(),
                status(run, words), TEXT[f"live_{run.family}"])

    @friendly
    def train_live(dataset, family, beta, critic_steps, learning_rate, request: gr.Request):
        """Train a small VAE or GAN on the dataset's pictures and stream, every second, 16 samples from one fixed
        noise batch and how much of the run's 60 s of computing is used; the training curves every three seconds.

        Args:
            dataset: the dataset, "mnist" or "fashion"
            family: "vae" or "gan"
            beta: the VAE's β (0 to 10)
            critic_steps: the GAN's critic steps per generator step (1 to 5)
            learning_rate: the learning rate (0.0001 to 0.01)
        """
        try:
            run = run_for(request, dataset, family, beta, critic_steps, learning_rate)
            run.paused, second = False, 0
            while run.left_s > 0 and not run.stopped and not run.paused:
                run.work(1.0)
                # the curves every CURVES_EVERY seconds: a browser on a slow laptop redraws a plot slowly, and one
                # redrawn every second kept its page too busy to answer the Pause button promptly
                yield shown(run, "Training", curves=second % CURVES_EVERY == 0)
                second += 1
            yield shown(run, "Paused" if run.paused else
                        "Finished: the run used its 60 s" if run.left_s <= 0 else "Stopped")
        except LiveError as exc:
            raise ValueError(str(exc)) from None

    @friendly
    def one_step(ds, fam, b, k, rate, request: gr.Request):
        try:
            run = run_for(request, ds, fam, b, k, rate)
            run.work(1.0)
            return shown(run, "Paused after one step")
        except LiveError as exc:
            raise ValueError(str(exc)) from None

    @friendly
    def restart(ds, fam, b, k, rate, request: gr.Request):
        try:
            return shown(run_for(request, ds, fam, b, k, rate, fresh=True), "New run, ready: press Play")
        except LiveError as exc:
            raise ValueError(str(exc)) from None

    def paused(request: gr.Request):
        """Pause: the playing loop ends at its next update and says so itself (its last word is "Paused"). Cancelling
        it instead left on the page whatever update was still on its way, "Training" after "Paused"."""
        run = seats.get(request.session_hash) if request is not None else None
        if run is None:
            return gr.skip()
        run.paused = True
        return status(run, "Paused")

    def leave(request: gr.Request):
        seats.release(request.session_hash)

    inputs, outputs = [dataset, family, beta, critic, lr], [samples, curves, state, watch]
    playing = play.click(train_live, inputs, outputs, **api("train_live"), **LANE)
    pause.click(paused, None, state, **api("train_live_pause"), queue=False)
    step.click(one_step, inputs, outputs, cancels=[playing], **api("train_live_step"), **LANE)
    reset.click(restart, inputs, outputs, cancels=[playing], **api("train_live_reset"), **LANE)
    family.change(lambda f: TEXT[f"live_{f}"], family, watch, **api("train_live_family"), queue=False)
    demo.unload(leave)
    built = Built()
    return built._replace(tab="live", link={"model": family, "beta": beta, "critic": critic, "lr": lr})

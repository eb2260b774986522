"""Train it yourself: the small models learn visibly within 30 s from the pictures the app ships, runs stop
at their budget, the seats are limited, and the page streams, pauses (really stopping the computing) and refuses
the extra visitor with a reason."""
import time
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client

from genzoo.live import LiveError, LiveRun, Seats
from genzoo.zoo import load_subset
from tests.app_server import AppServer
from tests.conftest import ROOT

SUBSET = ROOT / "checkpoints" / "mnist" / "data_subset.npz"     # the real pictures the app ships and trains on


@pytest.fixture(scope="module")
def pictures():
    return load_subset(SUBSET).train_images


def train_until(run: LiveRun, done, seconds: float = 30.0) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        run.work(1.0)
        if done(run.curves.values):
            break
    return time.perf_counter() - t0


def mean(values, a, b=None):
    return float(np.mean(values[a:b]))


@pytest.mark.timeout(90)
def test_the_vae_loss_falls_threefold_within_30_s(pictures):
    run = LiveRun(pictures, "vae", 1e-3)
    key = "loss (nats a picture)"
    took = train_until(run, lambda v: len(v[key]) > 10 and mean(v[key], -5) <= mean(v[key], 0, 5) / 3)
    loss = run.curves.values[key]
    assert mean(loss, -5) <= mean(loss, 0, 5) / 3, (mean(loss, 0, 5), mean(loss, -5), run.step)
    print(f"VAE: loss {mean(loss, 0, 5):.0f} -> {mean(loss, -5):.0f} in {took:.1f} s ({run.step} steps)")


@pytest.mark.timeout(90)
def test_the_gans_critic_lead_shrinks_within_30_s(pictures):
    """The balance measure: the critic's lead, D(x) - D(G(z)) over 10 steps. It jumps while the critic learns to
    spot fakes, then falls as the generator catches up: to 0.8 of its peak or less within 30 s."""
    run = LiveRun(pictures, "gan", 2e-4)

    def lead(v):
        gap = np.array(v["D(x): critic's score of real pictures"]) - np.array(v["D(G(z)): its score of generated ones"])
        return np.convolve(gap, np.ones(10) / 10, mode="valid") if len(gap) >= 10 else np.array([0.0])

    took = train_until(run, lambda v: lead(v).max() > 0.3 and lead(v)[-1] <= 0.8 * lead(v).max())
    curve = lead(run.curves.values)
    assert curve.max() > 0.3 and curve[-1] <= 0.8 * curve.max(), (curve.max(), curve[-1], run.step)
    print(f"GAN: critic's lead peaked at {curve.max():.2f}, {curve[-1]:.2f} after {took:.1f} s ({run.step} steps)")


def test_a_run_stops_at_its_budget_and_checks_its_settings(pictures):
    run = LiveRun(pictures[:256], "vae", 1e-3, budget_s=0.5)
    while run.left_s > 0:
        run.work(0.2)
    with pytest.raises(LiveError, match="used its 0 s|used its 1 s"):
        run.work(1.0)
    for bad in (dict(lr=1.0), dict(lr=1e-3, beta=-1), dict(lr=1e-3, critic_steps=0)):
        with pytest.raises(LiveError):
            LiveRun(pictures[:64], "gan", **bad)


def test_seats_are_limited_and_an_idle_run_gives_its_up(pictures, monkeypatch):
    seats, runs = Seats(2), [LiveRun(pictures[:64], "vae", 1e-3) for _ in range(3)]
    seats.take("a", runs[0])
    seats.take("b", runs[1])
    with pytest.raises(LiveError, match="all 2 training seats are taken by other visitors; one frees within"):
        seats.take("c", runs[2])
    seats.take("a", runs[2])                                   # a visitor's new run replaces their old one
    monkeypatch.setattr(runs[1], "last_active", time.monotonic() - 61)
    seats.take("c", LiveRun(pictures[:64], "gan", 2e-4))       # b left it paused over a minute: the seat is free
    seats.release("a")
    assert runs[2].stopped


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100          # utime + stime, in clock ticks of 1/100 s


@pytest.mark.timeout(180)
def test_the_page_streams_pauses_and_tells_the_extra_visitor_why(app_checkpoints, tmp_path):
    # no start-up warm-up: the server's own CPU use is measured below
    server = AppServer(app_checkpoints, tmp_path / "app.log", GENZOO_LIVE_SEATS="1", GENZOO_WARM="0")
    try:
        first = Client(server.url, verbose=False)
        job = first.submit("mnist", "vae", 1, 1, 0.001, api_name="/train_live")
        deadline = time.time() + 60
        while len(job.outputs()) < 3 and time.time() < deadline:
            time.sleep(0.2)
        updates = job.outputs()
        assert len(updates) >= 3
        steps = [int(u[2].split("step ")[1].split(" ")[0].replace(",", "")) for u in updates[:3]]
        assert steps == sorted(steps) and steps[0] < steps[-1]
        with pytest.raises(Exception, match="all 1 training seats are taken by other visitors"):
            Client(server.url, verbose=False).predict("mnist", "gan", 1, 1, 0.001, api_name="/train_live")
        job.cancel()                                           # what Pause does for the page
        time.sleep(2)
        before = cpu_seconds(server.proc.pid)
        time.sleep(3)
        idle = cpu_seconds(server.proc.pid) - before
        assert idle < 0.5, f"the server used {idle:.2f} s of CPU in 3 s after the run was stopped"
        print(f"after stopping: {idle:.2f} s of CPU in 3 s")
    finally:
        server.stop()

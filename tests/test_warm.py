"""Nobody waits for what is already known: every tab's opening pictures are drawn once at start-up, and the quick
views have a queue lane of their own, so they never wait behind a diffusion job."""
import threading
import time

import gradio as gr
import pytest
from gradio_client import Client

from genzoo.app import build_app, warm
from genzoo.app.common import HEAVY, LIGHT
from genzoo.app.memo import Memo
from genzoo.zoo import Zoo


def test_memo_computes_a_view_once_when_two_visitors_ask_at_the_same_time():
    memo, calls, release = Memo(4), [], threading.Event()

    def compute():
        calls.append(threading.current_thread().name)
        release.wait(10)
        return "picture"

    results = []
    threads = [threading.Thread(target=lambda: results.append(memo.get("key", compute))) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.2)                      # all three are inside get(): one computing, two waiting for it
    release.set()
    for t in threads:
        t.join(10)
    assert results == ["picture"] * 3 and len(calls) == 1
    assert (memo.misses, memo.hits) == (1, 2)


def test_memo_recomputes_after_a_failure_and_stays_bounded():
    memo = Memo(2)
    with pytest.raises(RuntimeError):
        memo.get("a", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert memo.get("a", lambda: 1) == 1                     # a failed computation is not remembered
    memo.get("b", lambda: 2), memo.get("c", lambda: 3)
    assert list(memo.items) == ["b", "c"]                    # the oldest went


def test_after_the_warm_up_the_opening_views_run_no_network(app_checkpoints):
    zoo = Zoo(app_checkpoints)
    demo = build_app(zoo)
    runs = []
    for dataset in zoo.datasets():
        for name in zoo.ready(dataset):
            for module in zoo.model(dataset, name).modules():     # any layer of any model
                module.register_forward_hook(lambda *_: runs.append(1))
    opening = warm.opening_views(demo)
    assert {"sample_on_load", "pick_class_on_load", "fast_diffusion_on_load"} <= {fn.api_name for fn in opening}
    done = warm.warm(demo)
    assert not done.failed and set(done.drawn) == {f"{fn.api_name} ({ds})" for fn in opening for ds in zoo.datasets()}
    assert runs, "the warm-up drew the opening pictures"
    runs.clear()
    for fn in opening:                   # a first visitor's page load: every opening view is already drawn
        fn.fn(*[block.value for block in fn.inputs])
    assert not runs
    # a link to Fashion-MNIST: the page switches (class pickers and guidance follow), then draws: known already
    fashion = warm.starting_values(demo, "fashion")
    assert "T-shirt/top" in fashion.values() and 1.25 in fashion.values()
    for fn in opening:
        try:
            fn.fn(*[fashion[block._id] for block in fn.inputs])
        except gr.Error:                 # a view Fashion-MNIST's smoke checkpoints cannot show says so, as before
            pass
    assert not runs


def test_quick_views_are_on_their_own_lane(tmp_path):
    demo = build_app(Zoo(root=tmp_path, datasets=("mnist",), names=["vae"]))
    lane = {fn.api_name: fn.concurrency_id for fn in demo.fns.values()}
    for name in ("latent_point", "reconstruct", "training_grids", "scoreboard", "guide", "data"):
        assert lane[name] == LIGHT["concurrency_id"], name
    for name in ("sample", "pick_class", "reverse_process", "fast_diffusion", "interpolate", "latent_map"):
        assert lane[name] == HEAVY["concurrency_id"], name


def test_a_quick_view_answers_while_diffusion_jobs_wait(app_server):
    """Two long diffusion jobs take turns; the scoreboard, a decoded latent point and a Sample of one-shot models (a
    VAE and a GAN, on the same lane as the diffusion jobs), asked for after both, are served before the second one
    ends."""
    client = Client(app_server.url, verbose=False)
    heavy = [client.submit("mnist", ["ddpm-cosine"], 16, seed, "ddim", 100, api_name="/sample")
             for seed in (11, 12)]
    time.sleep(0.5)
    t0 = time.perf_counter()
    client.predict("mnist", api_name="/scoreboard")
    client.predict("mnist", "vae", 0.5, -0.5, api_name="/latent_point")
    quick = client.predict("mnist", ["vae", "gan"], 8, 13, "own", 50, api_name="/sample")
    light_s = time.perf_counter() - t0
    assert len(quick) == 2
    assert not heavy[1].done(), f"the quick views took {light_s:.1f} s, longer than two diffusion jobs"
    for job in heavy:
        job.result(timeout=300)

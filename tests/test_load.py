"""Short versions of the load and soak runs in benchmarks/load.py, and the queue's polite refusal when full."""
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from gradio import processing_utils
from gradio_client import Client
from PIL import Image

from benchmarks.load import LIGHT_MIX, MIX, rss_mb, run_load, run_soak
from tests.app_server import AppServer


# explicit limits, about twice each test's time on a slow 2-core machine (measured: 19 s, 85 s and 15 s there,
# the soak with 300 requests; it now sends 200, and benchmarks/load.py's soak 2,000)
@pytest.mark.timeout(60)
def test_concurrent_visitors_get_no_errors(app_server):
    report = run_load(app_server.url, clients=4, requests=5, mix=MIX)
    assert report.errors == [] and report.rejected == 0
    assert report.done == 20 and set(report.by_api) == {api for api, _ in MIX}


@pytest.mark.timeout(200)
def test_memory_stays_flat_over_a_soak(app_server):
    report, before, after = run_soak(
        app_server.url, app_server.proc.pid, total=140, clients=3, warmup=40, mix=LIGHT_MIX
    )
    assert report.errors == [] and report.done >= 90
    assert after - before < 50, f"resident memory grew from {before:.0f} MB to {after:.0f} MB"


def test_gradio_rewrites_a_returned_pil_image_in_place(tmp_path):
    """Why the app returns files: Gradio 6 writes a returned PIL image into its cache by rewriting the same file on
    every return (same inode, new contents), so a visitor downloading it while another gets the same picture can
    read a file cut short (the soak run met this as a download broken off). When this fails, Gradio writes
    atomically and the app's ``picture_file`` could go."""
    img = Image.fromarray((np.random.default_rng(0).random((84, 84)) * 255).astype(np.uint8))
    path = Path(processing_utils.save_pil_to_cache(img, str(tmp_path), format="png"))
    inode, written = path.stat().st_ino, path.stat().st_mtime_ns
    time.sleep(0.01)
    assert processing_utils.save_pil_to_cache(img, str(tmp_path), format="png") == str(path)
    assert path.stat().st_ino == inode and path.stat().st_mtime_ns > written


def test_a_picture_being_downloaded_is_never_seen_half_written(tmp_path):
    """Two visitors given the same picture at once: the app's pictures are files written once under a temporary
    name and renamed, and Gradio copies a returned file into its cache the same way; a reader never sees part."""
    from genzoo.app.pictures import as_files

    img = Image.fromarray((np.random.default_rng(0).random((84, 84)) * 255).astype(np.uint8))
    cache = tmp_path / "cache"
    path = Path(processing_utils.save_file_to_cache(as_files(img), str(cache)))
    size, stop, short = path.stat().st_size, threading.Event(), []

    def resave():
        while not stop.is_set():
            assert processing_utils.save_file_to_cache(as_files(img), str(cache)) == str(path)

    writer = threading.Thread(target=resave)
    writer.start()
    try:
        short = [n for n in (len(path.read_bytes()) for _ in range(5000)) if n != size]
    finally:
        stop.set()
        writer.join()
    assert short == [], (
        f"{len(short)} of 5000 reads saw a partly written file ({sorted(set(short))[:3]} of {size} bytes)"
    )
    assert [p.name for p in path.parent.iterdir()] == [path.name]      # no staging files left behind
    assert os.stat(path).st_mode & 0o044 == 0o044                      # readable by the server's other users


@pytest.fixture(scope="module")
def tiny_queue(app_checkpoints, tmp_path_factory):
    server = AppServer(app_checkpoints, tmp_path_factory.mktemp("queue") / "app.log", GENZOO_QUEUE="1",
                       GENZOO_WARM="0")
    yield server
    server.stop()


@pytest.mark.timeout(60)
def test_a_full_queue_refuses_with_a_clear_message(tiny_queue):
    """One job running and one waiting fill a queue of one: the rest are told so, and nothing else fails."""
    outcomes, lock = [], threading.Lock()
    clients = [Client(tiny_queue.url, verbose=False) for _ in range(6)]
    together = threading.Barrier(len(clients))   # all six ask at once, however slowly their threads start

    def visit(client, seed):
        try:
            together.wait(timeout=30)
            client.predict("mnist", "3", 2.0, 16, seed, api_name="/pick_class")
            result = "served"
        except Exception as exc:  # noqa: BLE001
            result = str(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=visit, args=(c, i)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [o for o in outcomes if o != "served"]
    assert "served" in outcomes and refused, outcomes
    assert all("queue is full" in o.lower() for o in refused), refused
    assert rss_mb(tiny_queue.proc.pid) > 0

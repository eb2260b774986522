"""GenZoo: compare how generative models draw MNIST digits and Fashion-MNIST clothes.

    python app.py        # serves http://127.0.0.1:7860

Checkpoints come from ./checkpoints, or from the Hugging Face Hub repo named by
$GENZOO_HUB_REPO (falling back to ./checkpoints when the Hub cannot be reached).
"""
import spaces  # noqa: F401, I001 - first: on ZeroGPU it must patch torch before anything touches CUDA

import logging
import os
from pathlib import Path

import torch

from genzoo.app import CSS, HEAD, build_app, warm
from genzoo.app.turns import TURNS
from genzoo.zoo import Zoo

FAVICON = Path(__file__).parent / "assets" / "favicon.png"
THREADS = int(os.environ.get("GENZOO_THREADS", "2"))   # a basic Space has 2 vCPUs
WARM = os.environ.get("GENZOO_WARM", "1") != "0"        # draw every tab's opening pictures at start-up


def create_app():
    torch.set_num_threads(THREADS)
    zoo = Zoo()
    demo = build_app(zoo)
    # a bounded queue refuses politely when full (one long network job at a time: see genzoo/app/turns.py)
    demo.queue(default_concurrency_limit=1, max_size=int(os.environ.get("GENZOO_QUEUE", "64")))
    if WARM:
        warm.start(demo)
    return demo


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    port = int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", 7860)))
    TURNS.claim()          # the networks' long work runs on this (the main) thread, once the server is up
    demo = create_app()
    # the public actions are also tools for AI assistants, at /gradio_api/mcp (Gradio's MCP server)
    demo.launch(max_file_size="5mb", server_port=port, css=CSS, head=HEAD, mcp_server=True,
                favicon_path=str(FAVICON), prevent_thread_lock=True)
    try:
        TURNS.serve_forever()
    except KeyboardInterrupt:
        demo.close()

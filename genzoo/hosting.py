"""Where GenZoo runs: the device it draws on, and ZeroGPU's GPU lending on Hugging Face Spaces.

One ``app.py`` serves a CPU machine and a ZeroGPU Space. The device is chosen once, here: CUDA when present (on
ZeroGPU the ``spaces`` package makes CUDA available from import time and lends a real GPU only inside functions
decorated with ``spaces.GPU``), the CPU otherwise. Off ZeroGPU, ``spaces.GPU`` hands the function back unchanged, so
the same code runs everywhere.
"""
from __future__ import annotations

import functools
from typing import Callable

import torch

#: where the app's networks run; noise is always drawn on the CPU, so a seed gives the same pictures on either
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")

#: a ZeroGPU request asks for at most this long (seconds); longer requests wait longer in its queue
MAX_GPU_SECONDS = 120
#: seconds a GPU needs for one network run on one picture, measured generously for the diffusion UNet, plus a
#: fixed allowance for moving the result back and encoding pictures
SECONDS_PER_RUN = 2e-4
OVERHEAD_S = 5.0


def gpu_seconds(network_runs: int) -> int:
    """The GPU time to ask for a request needing ``network_runs`` network runs in all (pictures x runs each)."""
    return int(min(MAX_GPU_SECONDS, OVERHEAD_S + SECONDS_PER_RUN * max(0, int(network_runs))))


def on_gpu(duration: Callable[..., int]) -> Callable[[Callable], Callable]:
    """``@spaces.GPU(duration=duration)``: on ZeroGPU the decorated function gets a GPU for ``duration(*args)``
    seconds, computed from the request; anywhere else (or without the ``spaces`` package) it is the function
    itself."""
    try:
        import spaces
    except ImportError:                          # pragma: no cover - spaces is in requirements.txt
        return lambda fn: fn

    def decorate(fn: Callable) -> Callable:
        decorated = spaces.GPU(fn, duration=duration)
        if decorated is not fn:
            functools.update_wrapper(decorated, fn)
        return decorated
    return decorate

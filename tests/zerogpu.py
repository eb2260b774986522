"""The app served as on a ZeroGPU Space, on a machine without a GPU.

``python -m tests.zerogpu REPORT`` starts ``app.py`` under the ``spaces`` package's own emulation of ZeroGPU (written
for spaces 0.51: ``spaces.zero.torch.patching.patch()``): CUDA is available, tensors moved with ``.cuda()`` stay on
the CPU, and mixing them with CPU tensors raises ZeroGPU's own error ("found at least two devices, cuda:0 (ZeroGPU)
and cpu"), as on a Space. ``spaces.GPU`` is replaced by a stand-in for ZeroGPU's lease that does what a lease does to
the code inside it:

- its arguments and its result cross a pickle, as they cross into ZeroGPU's forked worker and back;
- the emulation's device checks hold in the thread that runs it (on a Space, the worker's GPU is real).

Outside a lease, ZeroGPU lends no GPU: the networks' weights there are empty placeholders. So every forward pass of a
network whose weights live on (emulated) CUDA is checked: one outside a lease is written to REPORT, as JSON lines
``{"outside": module, "thread": name, "where": frames}``; each lease as ``{"lease": seconds}``.

While a file ``REPORT.refuse`` exists, every lease fails as ZeroGPU fails when a visitor's quota is spent.
"""
from __future__ import annotations

import functools
import json
import pickle
import runpy
import sys
import threading
import traceback
from pathlib import Path

#: the ``spaces`` release this emulation was written for; another one is skipped by the test, which names it
SPACES_VERSION = "0.51."

_inside = threading.local()
_lock = threading.Lock()


def record(report: Path, **row) -> None:
    with _lock, open(report, "a") as f:
        f.write(json.dumps(row) + "\n")


def stand_in_gpu(report: Path):
    """A stand-in for ``spaces.GPU`` (same signature) that leases as described in the module's docstring."""
    import gradio as gr
    from spaces.zero.torch import patching

    main = threading.main_thread()

    def gpu(task=None, *, duration=None, size=None, **_):
        if task is None:
            return functools.partial(gpu, duration=duration, size=size)

        @functools.wraps(task)
        def leased(*args, **kwargs):
            seconds = duration(*args, **kwargs) if callable(duration) else duration
            record(report, lease=seconds, task=task.__name__)
            if report.with_suffix(".refuse").exists():
                raise gr.Error("You have exceeded your GPU quota (stand-in)", title="ZeroGPU quota exceeded")
            args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
            own = threading.current_thread() is not main          # the main thread holds the emulation already
            if own:
                patching.enter_mode()
            _inside.depth = getattr(_inside, "depth", 0) + 1
            try:
                result = task(*args, **kwargs)
            finally:
                _inside.depth -= 1
                if own:
                    patching.dispatch_mode.__exit__(None, None, None)
                    patching.function_mode.__exit__(None, None, None)
            return pickle.loads(pickle.dumps(result))
        return leased
    return gpu


def watch_networks(report: Path) -> None:
    """Every forward pass of a network on emulated CUDA outside a lease is recorded."""
    import torch
    from spaces.zero.torch import patching

    def check(module, _inputs):
        if getattr(_inside, "depth", 0):
            return
        first = next(module.parameters(), None)
        if first is not None and first in patching.cuda_aliases:
            where = [f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in traceback.extract_stack()[-12:-1]
                     if "torch/nn" not in f.filename]
            record(report, outside=type(module).__name__, thread=threading.current_thread().name, where=where)
    torch.nn.modules.module.register_module_forward_pre_hook(check)


def main(report: str) -> None:
    import spaces
    from spaces.zero.torch import patching

    path = Path(report)
    patching.patch()
    spaces.GPU = stand_in_gpu(path)
    watch_networks(path)
    sys.argv = ["app.py"]
    runpy.run_path(str(Path(__file__).resolve().parent.parent / "app.py"), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1])

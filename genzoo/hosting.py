"""Where GenZoo's networks run, and the one boundary every use of a network goes through.

One ``app.py`` serves a CPU machine, a GPU machine and a ZeroGPU Space (the only hardware a free Hugging Face account
can host a Gradio Space on). The device is chosen once, here: CUDA when present, the CPU otherwise.

ZeroGPU lends a real GPU only inside a function decorated with ``spaces.GPU``, run in a worker process forked from
the server, with its arguments and result pickled; outside such a function CUDA is only emulated. So:

- weights are loaded on the CPU and moved once (``Served``); the CPU copy answers questions about the model (its
  flags, how many network runs a drawing needs) and draws when no GPU can be had;
- every network call is one ``Job``: a model (by key, so the forked worker finds its own copy), a method name or a
  module-level function, CPU tensors, and the network runs it needs, which size the lease. ``Job.run`` moves the
  inputs to the device, runs the network there and hands back CPU tensors; views never touch a device;
- the caches stay in the serving process, above this boundary: a cached answer asks for no GPU;
- when ZeroGPU has no GPU free or the visitor's quota is spent, the job runs on the CPU and the page says so, with
  the expected wait.

Off ZeroGPU, ``spaces.GPU`` hands the function back unchanged and jobs run in the calling thread.
"""
from __future__ import annotations

import spaces  # noqa: I001 - before torch: on ZeroGPU it patches torch, which must happen before anything touches CUDA

import copy
import functools
import itertools
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

import torch

log = logging.getLogger(__name__)

#: where the app's networks run; noise is always drawn on the CPU, so a seed gives the same pictures on either
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")

#: a ZeroGPU request asks for at most this long (seconds); longer requests wait longer in its queue
MAX_GPU_SECONDS = 120
#: seconds a GPU needs for one network run on one picture, measured generously for the diffusion UNet, plus a
#: fixed allowance for starting the worker and moving the weights and the result
SECONDS_PER_RUN = 2e-4
OVERHEAD_S = 5.0
#: seconds one network run on one picture takes on a 2-core CPU (the diffusion UNet, the dearest network: 5.1 ms a
#: picture at batch 100, fp32), for the wait a visitor is told when a job falls back to the CPU
CPU_SECONDS_PER_RUN = 6e-3
#: the titles of the errors ZeroGPU raises when it cannot lend a GPU for a request (spaces 0.51, ``zero/client.py``)
NO_GPU = ("ZeroGPU quota exceeded", "ZeroGPU queue timeout", "ZeroGPU client error",
          "ZeroGPU pending credits exceeded")


def gpu_seconds(network_runs: int) -> int:
    """The GPU time to ask for a request needing ``network_runs`` network runs in all (pictures x runs each)."""
    return int(min(MAX_GPU_SECONDS, OVERHEAD_S + SECONDS_PER_RUN * max(0, int(network_runs))))


def cpu_seconds(network_runs: int) -> float:
    """About how long ``network_runs`` network runs take on the CPU."""
    return CPU_SECONDS_PER_RUN * max(1, int(network_runs))


# -- the boundary ---------------------------------------------------------------------------------------------------
#: every served model by key, for as long as something holds it (a zoo); a forked ZeroGPU worker inherits it
_SERVED: "weakref.WeakValueDictionary[str, Served]" = weakref.WeakValueDictionary()
_KEYS = itertools.count()


class Refused(ValueError):
    """A job's input that its model refused (a ValueError with a sentence for the visitor). It travels back from the
    GPU worker as this value, since ZeroGPU would replace the message with "ZeroGPU worker error"."""


def _tree(fn: Callable[[torch.Tensor], Any], value):
    """``fn`` applied to every tensor in nested tuples, lists and dicts."""
    if torch.is_tensor(value):
        return fn(value)
    if isinstance(value, (list, tuple)):
        out = [_tree(fn, v) for v in value]
        return type(value)(out) if type(value) in (list, tuple) else type(value)(*out)
    if isinstance(value, dict):
        return {k: _tree(fn, v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Job:
    """One use of a network: ``task`` (a method name of the model, or a module-level function called as
    ``task(model, *args, **kwargs)``) on the served model ``key``, with CPU tensors in ``args`` and ``kwargs``;
    ``runs``, the network runs it needs in all, sizes its GPU lease."""
    key: str
    task: Union[str, Callable]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    runs: int = 1

    def execute(self, on_cpu: bool = False, progress: Optional[Callable] = None):
        """Run here: inputs moved to the model's device, outputs brought back to the CPU."""
        served = _SERVED[self.key]
        model = served.cpu if on_cpu else served.on_device
        device = DEVICE if not on_cpu else torch.device("cpu")
        args = _tree(lambda t: t.to(device), self.args)
        kwargs = _tree(lambda t: t.to(device), self.kwargs)
        if progress is not None:
            kwargs["progress"] = progress
        fn = getattr(model, self.task) if isinstance(self.task, str) else functools.partial(self.task, model)
        try:
            with torch.no_grad():
                out = fn(*args, **kwargs)
        except ValueError as exc:
            return Refused(str(exc))
        return _tree(lambda t: t.detach().cpu(), out)

    def run(self, progress: Optional[Callable] = None):
        """The job's result (CPU tensors), on the GPU where one is lent, else on the CPU."""
        if not ON_ZEROGPU:
            out = self.execute(progress=progress)
        else:
            try:
                out = _leased(self)           # a progress callback cannot travel to the forked worker
            except Exception as exc:          # noqa: BLE001 - only ZeroGPU's own "no GPU for you" falls back
                if getattr(exc, "title", None) not in NO_GPU:
                    raise
                tell_fallback(exc, self.runs)
                out = self.execute(on_cpu=True, progress=progress)
        if isinstance(out, Refused):
            raise out
        return out


def _lease_seconds(job: Job) -> int:
    return gpu_seconds(job.runs)


def _in_lease(job: Job):
    return job.execute()


#: the one function that holds a GPU lease on ZeroGPU (decorated once, at import, as ZeroGPU asks)
_leased = spaces.GPU(_in_lease, duration=_lease_seconds)
#: True on ZeroGPU, where ``spaces.GPU`` wraps functions (anywhere else it hands them back unchanged)
ON_ZEROGPU = _leased is not _in_lease


def tell_fallback(exc: Exception, runs: int) -> None:
    """The visitor hears that their request is drawn on the CPU, and about how long it takes."""
    words = (f"No GPU could be lent for this just now ({getattr(exc, 'title', 'ZeroGPU')}), so it is drawn on the "
             f"CPU instead: about {max(1, round(cpu_seconds(runs)))} s.")
    log.info(words)
    try:
        import gradio as gr

        gr.Warning(words)
    except Exception:                         # noqa: BLE001 - outside a request there is nobody to tell
        pass


class Served:
    """A loaded model as the app uses it. Questions about the model (``conditional``, ``network_evaluations``, ...)
    are answered by its CPU copy; the methods that run its networks (the class's ``network_methods``) go through the
    boundary, as ``Job``s, with CPU tensors in and out. ``run`` does the same for a function of the model."""

    def __init__(self, model: torch.nn.Module, name: str = "model"):
        self.cpu = model.requires_grad_(False).eval()
        self.on_device = self.cpu if DEVICE.type == "cpu" else copy.deepcopy(self.cpu).to(DEVICE)
        self.key = f"{name}#{next(_KEYS)}"
        _SERVED[self.key] = self

    def __getattr__(self, name: str):
        if name in ("cpu", "on_device", "key"):       # not set yet (copying, unpickling)
            raise AttributeError(name)
        value = getattr(self.cpu, name)
        if name in getattr(type(self.cpu), "network_methods", ()):
            return functools.partial(self.call, name)
        return value

    def __repr__(self) -> str:
        return f"Served({type(self.cpu).__name__}, {self.key}, on {DEVICE})"

    def call(self, method: str, *args, progress: Optional[Callable] = None, **kwargs):
        """``model.method(*args, **kwargs)`` through the boundary."""
        return Job(self.key, method, args, kwargs, self.runs(method, args, kwargs)).run(progress)

    def run(self, fn: Callable, *args, runs: int = 1, progress: Optional[Callable] = None, **kwargs):
        """``fn(model, *args, **kwargs)`` through the boundary: ``fn`` a module-level function (the forked worker
        finds it by name), ``runs`` the network runs it needs in all."""
        return Job(self.key, fn, args, kwargs, runs).run(progress)

    def runs(self, method: str, args: tuple, kwargs: dict) -> int:
        """Network runs for a method call: its pictures (the batch, or ``n``) times the runs each needs at the
        call's sampler settings (one for an encoder, a decoder or a classifier)."""
        first = args[0] if args else kwargs.get("n", kwargs.get("x", kwargs.get("noise", 1)))
        pictures = int(first) if isinstance(first, int) else len(first) if torch.is_tensor(first) else 1
        each = 1
        if method in ("sample", "generate", "denoise") and hasattr(self.cpu, "network_evaluations"):
            options = {k: v for k, v in kwargs.items() if k not in ("generator", "frames", "progress")}
            try:
                each = self.cpu.network_evaluations(**options)
            except (TypeError, ValueError):
                each = 1000                   # a setting it cannot read: the job itself will say why
        return pictures * max(1, int(each))


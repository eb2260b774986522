"""Turns at the networks: the long work of drawing (a diffusion model's many steps) runs one request at a time, in the
order the requests came, on one thread; quick work (a VAE's or a GAN's single network run, a decoded point) never
waits for it.

Why one at a time: two CPU cores run one network job fastest when it has both. Why the process's main thread, where
it can: the same networks ran slower from any other thread (Pick a class's networks, in one process on the 2-core
AVX2 machine: 1.00 s on the main thread, 1.29 s on a second thread, median of 9; the cause was not pinned down, and
it is not the memory allocator). So ``app.py`` claims the main thread for ``TURNS`` before it builds the app and
serves the turns there once the server is up; anywhere else (a test building the app, a notebook), the first turn
starts a thread of its own.

A visitor whose request waits sees "waiting for your turn: 2 drawings ahead of yours" in its progress bar.
"""
from __future__ import annotations

import contextvars
import functools
import inspect
import queue
import threading
from concurrent.futures import Future
from typing import Callable, Optional

from .memo import Unknown, known_only

#: how often a waiting request tells its visitor how many drawings are ahead (seconds)
POLL_S = 0.5


class Turns:
    """Runs submitted work one job at a time, first come first served, on one thread."""

    def __init__(self, name: str = "genzoo-turns"):
        self.name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._issued = self._served = 0
        self._server: Optional[threading.Thread] = None

    @property
    def waiting(self) -> int:
        """Jobs handed in and not finished (the one running included)."""
        with self._lock:
            return self._issued - self._served

    def claim(self) -> None:
        """The calling thread will serve the turns (``serve_forever``): no other thread is started for them."""
        with self._lock:
            if self._server is not None and self._server is not threading.current_thread():
                raise RuntimeError(f"{self._server.name} already serves the turns")
            self._server = threading.current_thread()

    def run(self, fn: Callable, progress: Optional[Callable[[str], None]] = None):
        """``fn()`` in its turn, on the turns' thread, with the caller's context (a Gradio request's progress bar
        and identity go with it); its result or its exception. ``progress(words)`` hears how many jobs are ahead
        while this one waits."""
        if threading.current_thread() is self._server:   # already inside a turn (or the serving thread itself)
            return fn()
        future: Future = Future()
        with self._lock:
            ticket = self._issued
            self._issued += 1
            self._jobs.put((contextvars.copy_context(), fn, future))
            if self._server is None:
                self._server = threading.Thread(target=self.serve_forever, name=self.name, daemon=True)
                self._server.start()
        told = None
        while True:
            try:
                return future.result(timeout=POLL_S)
            except TimeoutError:
                if future.done():                   # fn itself raised TimeoutError
                    raise
                with self._lock:
                    ahead = ticket - self._served
                if progress is not None and not future.running() and ahead > 0 and ahead != told:
                    progress(f"waiting for your turn: {ahead} drawing{'s' if ahead > 1 else ''} ahead of yours")
                    told = ahead

    def serve_forever(self) -> None:
        """Run the jobs as they come, on the calling thread, until ``stop``."""
        self.claim()
        while True:
            job = self._jobs.get()
            if job is None:
                return
            context, fn, future = job
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(context.run(fn))
                    except BaseException as exc:      # noqa: BLE001 - handed to the waiting request, which raises it
                        future.set_exception(exc)
            finally:
                with self._lock:
                    self._served += 1

    def stop(self) -> None:
        """``serve_forever`` returns once the jobs handed in before this call are done."""
        self._jobs.put(None)


#: the app's turns (one process, one pair of cores)
TURNS = Turns()


def takes_turn(needed: Callable[..., bool] = lambda *args, **kwargs: True, memoized: bool = False,
               turns: Turns = TURNS) -> Callable:
    """A view whose work waits for its turn (see the module's docstring) when ``needed(*args, **kwargs)`` says it
    is long; a quick request runs at once, on its own thread. ``memoized``: all of the view's long work goes through a
    ``Memo``, so a request whose pictures are all known already (a tab's opening pictures, drawn at start-up) is
    answered at once from them instead of waiting for a turn. A ``progress`` argument of the view (a Gradio progress
    bar) tells the visitor how many drawings are ahead."""
    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if not needed(*args, **kwargs):
                return fn(*args, **kwargs)
            if memoized:
                try:
                    with known_only():
                        return fn(*args, **kwargs)
                except Unknown:
                    pass
            try:
                bar = signature.bind_partial(*args, **kwargs).arguments.get("progress")
            except TypeError:
                bar = None
            tell = None if bar is None else (lambda words: bar(0.0, desc=words))
            return turns.run(functools.partial(fn, *args, **kwargs), tell)
        return wrapper
    return decorate

"""A small bounded cache of finished views that shares work in progress."""
from __future__ import annotations

import collections
import contextlib
import contextvars
import threading
from typing import Callable, Iterator

_KNOWN_ONLY = contextvars.ContextVar("known_only", default=False)


class Unknown(Exception):
    """Raised by ``Memo.get`` inside ``known_only()`` for a view not computed yet."""


@contextlib.contextmanager
def known_only() -> Iterator[None]:
    """Within this block a ``Memo`` answers only from what it holds (a view already computed): anything else raises
    ``Unknown`` instead of being computed. A request that must wait its turn to compute (``turns``) first tries this,
    so that pictures already drawn never wait behind someone else's diffusion job."""
    token = _KNOWN_ONLY.set(True)
    try:
        yield
    finally:
        _KNOWN_ONLY.reset(token)


class Memo:
    """A small bounded cache of finished views (pictures, figures), for views that report progress while they compute
    (so they cannot be wrapped in ``functools.lru_cache``): the default view every visitor opens is computed once.
    A request for a key that another thread is computing waits for that result instead of computing it again (the
    start-up warm-up and the first visitors ask for the same views at the same time)."""

    def __init__(self, size: int = 32):
        self.size, self.items = size, collections.OrderedDict()
        self.lock = threading.Lock()
        self.pending: dict = {}               # key -> the lock its computing thread holds
        self.hits = self.misses = 0

    def _cached(self, key):
        if key in self.items:
            self.items.move_to_end(key)
            self.hits += 1
            return True, self.items[key]
        return False, None

    def get(self, key, compute: Callable):
        with self.lock:
            found, value = self._cached(key)
            if found:
                return value
            if _KNOWN_ONLY.get():
                raise Unknown(key)
            computing = self.pending.setdefault(key, threading.Lock())
        with computing:                       # the first thread computes; the others wait here, then read its result
            with self.lock:
                found, value = self._cached(key)
                if found:
                    return value
                self.misses += 1
            try:
                value = compute()
            finally:
                with self.lock:
                    self.pending.pop(key, None)
            with self.lock:
                self.items[key] = value
                while len(self.items) > self.size:
                    self.items.popitem(last=False)
        return value

"""Turns at the networks: long work one job at a time, first come first served, on one thread; quick work at once."""
from __future__ import annotations

import contextvars
import threading
import time

import pytest

from genzoo.app.turns import Turns, takes_turn


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.fixture
def turns():
    t = Turns(name="test-turns")
    yield t
    t.stop()


def hold(turns: Turns):
    """A job that holds the turn until the returned event is set; returns (event, thread running the job)."""
    release, started = threading.Event(), threading.Event()

    def job():
        started.set()
        release.wait(10)

    caller = threading.Thread(target=turns.run, args=(job,))
    caller.start()
    assert started.wait(10)
    return release, caller


def test_jobs_run_one_at_a_time_in_arrival_order_on_one_thread(turns):
    release, first = hold(turns)
    done, running, overlap, threads = [], [0], [], set()
    lock = threading.Lock()

    def job(i):
        def work():
            with lock:
                running[0] += 1
                overlap.append(running[0])
                threads.add(threading.current_thread().name)
            time.sleep(0.01)
            with lock:
                running[0] -= 1
                done.append(i)
            return i * i
        return work

    results = {}
    callers = []
    for i in range(6):              # each caller hands in its job before the next one starts
        c = threading.Thread(target=lambda i=i: results.__setitem__(i, turns.run(job(i))))
        c.start()
        callers.append(c)
        wait_for(lambda i=i: turns.waiting == i + 2)
    release.set()
    for c in [first, *callers]:
        c.join(10)
    assert done == list(range(6))                       # first come, first served
    assert max(overlap) == 1                            # never two at once
    assert threads == {"test-turns"}                    # always the same thread
    assert results == {i: i * i for i in range(6)}      # each caller gets its own job's result
    assert turns.waiting == 0


def test_an_error_reaches_its_caller_and_the_turns_go_on(turns):
    def broken():
        raise ValueError("pick at least one model")

    with pytest.raises(ValueError, match="pick at least one model"):
        turns.run(broken)
    with pytest.raises(TimeoutError):          # the job's own TimeoutError, not the caller's wait
        turns.run(lambda: (_ for _ in ()).throw(TimeoutError("slow")))
    assert turns.run(lambda: 42) == 42


def test_the_callers_context_goes_with_its_job(turns):
    """Gradio keeps a request's progress bar and identity in context variables: the job must see the caller's."""
    request = contextvars.ContextVar("request", default=None)
    seen = {}

    def caller(name):
        request.set(name)
        seen[name] = turns.run(lambda: (request.get(), threading.current_thread().name))

    threads = [threading.Thread(target=caller, args=(n,)) for n in ("ann", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"ann": ("ann", "test-turns"), "bob": ("bob", "test-turns")}


def test_a_waiting_request_hears_how_many_drawings_are_ahead(turns, monkeypatch):
    monkeypatch.setattr("genzoo.app.turns.POLL_S", 0.02)
    release, first = hold(turns)
    second = threading.Thread(target=turns.run, args=(lambda: time.sleep(0.3),))
    second.start()
    wait_for(lambda: turns.waiting == 2)
    heard = []
    third = threading.Thread(target=turns.run, args=(lambda: None, heard.append))
    third.start()
    wait_for(lambda: heard)
    release.set()
    for t in (first, second, third):
        t.join(10)
    assert heard[0] == "waiting for your turn: 2 drawings ahead of yours"
    assert heard[-1] == "waiting for your turn: 1 drawing ahead of yours"
    assert len(heard) == 2                      # told again only when the number changes


def test_work_inside_a_turn_runs_at_once(turns):
    """A job that asks for a turn again (a view calling another view) already has it: no deadlock."""
    assert turns.run(lambda: turns.run(lambda: "inner")) == "inner"


def test_quick_requests_do_not_wait_for_the_turn(turns):
    calls = []

    @takes_turn(lambda kind: kind == "diffusion", turns=turns)
    def view(kind, progress=None):
        calls.append((kind, threading.current_thread().name))
        return kind

    release, first = hold(turns)
    t0 = time.perf_counter()
    assert view("vae") == "vae"                 # while a long job holds the turn
    assert time.perf_counter() - t0 < 1.0
    assert calls == [("vae", threading.current_thread().name)]
    long_one = threading.Thread(target=view, args=("diffusion",))
    long_one.start()
    wait_for(lambda: turns.waiting == 2)
    assert len(calls) == 1                      # the long one waits
    release.set()
    long_one.join(10)
    first.join(10)
    assert calls[1] == ("diffusion", "test-turns")
    assert view.__wrapped__.__name__ == "view"  # Gradio reads the view's own signature and docstring


def test_the_claiming_thread_serves(turns):
    """``app.py`` claims its main thread, then serves there: no other thread is started for the turns."""
    ready = threading.Event()

    def claim_then_serve():
        turns.claim()
        ready.set()
        time.sleep(0.1)                         # a request may arrive before serving starts: it waits
        turns.serve_forever()

    server = threading.Thread(target=claim_then_serve, name="claimed")
    server.start()
    assert ready.wait(10)
    assert turns.run(lambda: threading.current_thread().name) == "claimed"
    with pytest.raises(RuntimeError, match="already serves"):
        turns.claim()
    turns.stop()
    server.join(10)
    assert not server.is_alive()


def test_known_pictures_do_not_wait_for_the_turn(turns):
    """A memoized view whose pictures are already drawn (a tab's opening view) is answered at once, even while a long
    job holds the turn; a new request to the same view waits, and is drawn in its turn."""
    from genzoo.app.memo import Memo

    memo, drawn = Memo(), []

    @takes_turn(memoized=True, turns=turns)
    def view(seed, progress=None):
        return memo.get(seed, lambda: drawn.append((seed, threading.current_thread().name)) or seed * 10)

    assert view(0) == 0                          # the warm-up: drawn in a turn
    assert drawn == [(0, "test-turns")]
    release, first = hold(turns)
    t0 = time.perf_counter()
    assert view(0) == 0                          # known: answered while the turn is held
    assert time.perf_counter() - t0 < 1.0
    new = threading.Thread(target=view, args=(1,))
    new.start()
    wait_for(lambda: turns.waiting == 2)         # unknown: it waits for its turn
    assert len(drawn) == 1
    release.set()
    for t in (new, first):
        t.join(10)
    assert drawn == [(0, "test-turns"), (1, "test-turns")]
    assert memo.misses == 2                      # the known-only tries computed nothing

"""Real or generated? The quiz's rules, apart from its page: which picture to show, the answer's verdict, the score
after every ten, and the limits that keep the measurement honest.

- Half the pictures are real test pictures and half are drawn by the generative models, shared evenly among them.
- The server chooses every picture and keeps which is which. A player gets only the picture and a random token;
  every pool is drawn before the first picture of its dataset is chosen, so no response's timing depends on it.
- One answer per picture per browser, at most ``MAX_RATE`` answers a second per browser, and only for a picture
  served to that browser.
"""
from __future__ import annotations

import collections
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from .answers import API, PAGE, REAL, AnswerStore, StoreError
from .data import dataset_info
from .imaging import as_numpy_uint8
from .registry import SPECS, sampler_options
from .zoo import Zoo
from models.base import NO_CLASS_RULE

POOL = 24              # pictures drawn by each model, once per dataset
REAL_POOL = 400        # real test pictures to show (from the shipped subset)
ROUND = 10             # a score after every ten answers
MAX_RATE = 2           # answers a second per browser
BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
POOL_FILE = "quiz_pool.npz"   # checkpoints/<dataset>/: the models' quiz pictures, drawn ahead by ``genzoo quiz-pool``


@dataclass(frozen=True)
class Verdict:
    correct: bool
    truth: str                    # "a real picture" / "drawn by the GAN"
    answered: int                 # this browser's answers so far
    round_summary: Optional[str]  # after every ten answers: the score and which models fooled the player


def new_browser_id() -> str:
    return secrets.token_hex(16)


def check_browser(browser, channel: str = PAGE) -> str:
    """The player's id, or a StoreError in words for whoever asked: a person in the page, or a program."""
    if not isinstance(browser, str) or not BROWSER_ID.match(browser):
        raise StoreError("browser_id must be a random id of 8 to 64 letters, digits, '-' or '_': make one up and "
                         "send the same one with all of one player's pictures and answers" if channel == API else
                         "this browser has no quiz id yet; reload the page")
    return browser


def title(source: str) -> str:
    return "real pictures" if source == REAL else SPECS[source].title


def weights_id(folder: Path) -> str:
    """Which weights a checkpoint holds (the SHA-1 of its safetensors file): a pool drawn by other weights is
    stale."""
    return hashlib.sha1((Path(folder) / "model.safetensors").read_bytes()).hexdigest()


def draw_pool(zoo: Zoo, dataset: str, name: str, n: int) -> np.ndarray:
    """``n`` pictures from a model with the app's sampler settings and the model's own fixed seed, as uint8."""
    with torch.no_grad():
        images = zoo.model(dataset, name).sample(n, generator=torch.Generator().manual_seed(10_000 + list(SPECS).index(
            name)), class_prior=dataset_info(dataset).class_prior, **sampler_options(name, dataset))
    return as_numpy_uint8(images)


def write_pool(zoo: Zoo, dataset: str, n: int = POOL, progress: Optional[Callable[[float, str], None]] = None
               ) -> Path:
    """Draw every ready generative model's quiz pictures ahead and save them beside its checkpoints, each with the
    weights that drew it (``python -m genzoo quiz-pool``)."""
    names = [m for m in zoo.ready(dataset) if SPECS[m].generative]
    pools, about = {}, {}
    for i, name in enumerate(names):
        if progress:
            progress(i / len(names), title(name))
        pools[name] = draw_pool(zoo, dataset, name, n)
        about[name] = {"weights": weights_id(zoo.entry(dataset, name).folder), "n": n,
                       "sampler": sampler_options(name, dataset), "no_class": NO_CLASS_RULE}
    out = Path(zoo.root) / dataset / POOL_FILE
    np.savez_compressed(out, about=np.array(json.dumps(about)), **pools)
    return out


def read_pool(zoo: Zoo, dataset: str) -> dict[str, np.ndarray]:
    """The pictures drawn ahead for the models that still hold the weights that drew them."""
    path = Path(zoo.root) / dataset / POOL_FILE
    if not path.exists():
        return {}
    with np.load(path) as f:
        about = json.loads(str(f["about"]))
        return {name: f[name] for name, a in about.items() if name in zoo.ready(dataset)
                and a["weights"] == weights_id(zoo.entry(dataset, name).folder)
                and a["sampler"] == json.loads(json.dumps(sampler_options(name, dataset)))
                and a.get("no_class") == NO_CLASS_RULE}


class Quiz:
    def __init__(self, zoo: Zoo, store: Optional[AnswerStore] = None, pool: int = POOL):
        self.zoo, self.store, self.pool_size = zoo, store or AnswerStore(), pool
        self.pools: dict[str, dict[str, np.ndarray]] = {}
        self.pool_lock, self.rate_lock = threading.Lock(), threading.Lock()
        self.recent_answers: dict[str, collections.deque] = collections.defaultdict(
            lambda: collections.deque(maxlen=MAX_RATE))
        self.rng = secrets.SystemRandom()

    # -- the pictures ---------------------------------------------------------------------------------
    def models(self, dataset: str) -> list[str]:
        """Every generative model ready for the dataset."""
        return [n for n in self.zoo.ready(dataset) if SPECS[n].generative]

    def pools_for(self, dataset: str, progress: Optional[Callable[[float, str], None]] = None) -> dict:
        """Every source's pictures for a dataset as uint8 ``[N, 28, 28]``: real test pictures, and ``pool`` from
        each model with the app's sampler settings: read from the file drawn ahead where its weights match, else
        drawn now; all of them before the first picture is chosen."""
        with self.pool_lock:
            if dataset not in self.pools:
                real = self.zoo.subset(dataset).test_images[:REAL_POOL]
                pools = {REAL: as_numpy_uint8(real)}
                names = self.models(dataset)
                if not names:
                    raise StoreError("no generative model is available for this dataset, so there is nothing to "
                                     "tell apart from real pictures")
                ahead = read_pool(self.zoo, dataset)
                missing = [n for n in names if n not in ahead]
                for i, name in enumerate(missing):
                    if progress:
                        progress(i / len(missing), f"drawing the quiz's pictures once: {title(name)}")
                    ahead[name] = draw_pool(self.zoo, dataset, name, self.pool_size)
                self.pools[dataset] = {**pools, **{n: ahead[n] for n in names}}
            return self.pools[dataset]

    def choose(self, dataset: str, browser: str) -> tuple[str, int]:
        """A picture this browser has not been shown: real half the time, else from a model chosen evenly."""
        pools = self.pools_for(dataset)
        seen = self.store.seen(browser, dataset)
        fresh = {s: [i for i in range(len(p)) if (s, i) not in seen] for s, p in pools.items()}
        models = [s for s in pools if s != REAL and fresh[s]]
        kinds = [k for k, ok in ((REAL, bool(fresh[REAL])), ("model", bool(models))) if ok]
        if not kinds:
            raise StoreError("you have seen every picture of this dataset; try the other one")
        source = REAL if self.rng.choice(kinds) == REAL else self.rng.choice(models)
        return source, self.rng.choice(fresh[source])

    def next(self, dataset: str, browser: str, channel: str = PAGE) -> tuple[np.ndarray, str]:
        """The next picture for a browser, and the token to answer it with (which says nothing of its source). Its
        answer counts in the human score only when the picture was served to a person in the page (``channel``)."""
        browser = check_browser(browser, channel)
        source, index = self.choose(dataset, browser)
        token = secrets.token_hex(16)
        self.store.serve(token, browser, dataset, source, index, channel)
        return self.pools[dataset][source][index], token

    # -- the answers ----------------------------------------------------------------------------------
    def check_rate(self, browser: str) -> None:
        times = self.recent_answers[browser]
        if len(times) == MAX_RATE and time.monotonic() - times[0] < 1.0:
            raise StoreError(f"slow down: at most {MAX_RATE} answers a second")

    def answer(self, token: str, answer: str, browser: str, channel: str = PAGE) -> Verdict:
        browser = check_browser(browser, channel)
        if not isinstance(token, str) or not token:
            raise StoreError("there is no picture to answer yet; ask for one first")
        with self.rate_lock:
            self.check_rate(browser)
            _, source, correct = self.store.record(token, browser, str(answer).strip().lower())
            self.recent_answers[browser].append(time.monotonic())
        answered = self.store.count(browser)
        summary = self.round_summary(browser) if answered % ROUND == 0 else None
        truth = "a real picture" if source == REAL else f"drawn by {title(source)}"
        return Verdict(correct, truth, answered, summary)

    def round_summary(self, browser: str) -> str:
        last = self.store.recent(browser, ROUND)
        right = sum(ok for _, ok in last)
        fooled = collections.Counter(s for s, ok in last if not ok and s != REAL)
        alarms = sum(1 for s, ok in last if not ok and s == REAL)
        lines = [f"**Your score for the last {len(last)}: {right} right.**"]
        if fooled:
            lines.append("Models that fooled you: " + ", ".join(f"{title(s)} ({k}×)" for s, k in fooled.most_common())
                         + ".")
        else:
            lines.append("No model fooled you this round.")
        if alarms:
            lines.append(f"You took {alarms} real picture{'s' if alarms > 1 else ''} for generated.")
        return " ".join(lines)

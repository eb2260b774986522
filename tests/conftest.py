"""Shared fixtures: a tiny synthetic dataset in torchvision's layout, so no test needs the real data, and the app's
smoke checkpoints, built once per session in a background process while the tests that do not need them run."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
torch.set_num_threads(int(os.environ.get("GENZOO_TEST_THREADS", "1")))


def _write_idx(path: Path, array: np.ndarray) -> None:
    dtype_code = 0x08  # unsigned byte
    header = struct.pack(">BBBB", 0, 0, dtype_code, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def synthetic_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class k is a bright bar at a position set by k, plus a little noise: easy to learn."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = np.zeros((n, 28, 28), dtype=np.float32)
    for i, k in enumerate(labels):
        r = 3 + 2 * k
        images[i, r:r + 3, 4:24] = 1.0
        images[i, 4:24, 12:15] = 0.5 * (k % 2)
    images = np.clip(images + rng.normal(0, 0.05, images.shape), 0, 1)
    return (images * 255).round().astype(np.uint8), labels.astype(np.uint8)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """MNIST and FashionMNIST folders with 300 train / 100 test synthetic images each (the same bars, with their own
    noise: a view that changes dataset shows other pictures)."""
    root = tmp_path_factory.mktemp("data")
    for offset, folder in ((0, "MNIST"), (2, "FashionMNIST")):
        raw = root / folder / "raw"
        raw.mkdir(parents=True)
        for prefix, n, seed in (("train", 300, 0), ("t10k", 100, 1)):
            x, y = synthetic_images(n, seed + offset)
            _write_idx(raw / f"{prefix}-images-idx3-ubyte", x)
            _write_idx(raw / f"{prefix}-labels-idx1-ubyte", y)
    return root


@pytest.fixture(scope="session")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """32 synthetic images in [0, 1] with labels."""
    x, y = synthetic_images(32)
    return torch.from_numpy(x).float().div(255).unsqueeze(1), torch.from_numpy(y).long()


#: seconds the app's smoke checkpoints may take to build (about 25 s on a fast 2-core machine, 40-213 s on a slow
#: AVX2 one depending on what shares its CPU; see the README)
BUILD_BUDGET_S = float(os.environ.get("GENZOO_BUILD_BUDGET", "480"))
NEEDS_APP = "app_checkpoints"


class CheckpointBuild:
    """``python -m tests.app_server OUT DATA``, started once in the background on one core: the other core runs the
    tests that need no app meanwhile. Its budget is its own (``BUILD_BUDGET_S``), never a test's timeout."""

    def __init__(self, data_root: Path, out: Path):
        self.out, self.log_path = out, out.parent / "build.log"
        self.started = time.perf_counter()
        self.seconds: float | None = None
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.app_server", str(out), str(data_root)],
                                         cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "GENZOO_TEST_THREADS": "1"})

    def wait(self) -> Path:
        left = BUILD_BUDGET_S - (time.perf_counter() - self.started)
        try:
            code = self.proc.wait(timeout=max(left, 0.1))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self.seconds = time.perf_counter() - self.started
        if code != 0:
            tail = self.log_path.read_text()[-3000:]
            why = f"ran past its budget of {BUILD_BUDGET_S:.0f} s" if code is None else f"exited with {code}"
            pytest.fail(
                f"building the app's smoke checkpoints {why}; the end of {self.log_path}:\n{tail}", pytrace=False
            )
        return self.out


_build: CheckpointBuild | None = None


def pytest_collection_modifyitems(items):
    """Tests that need the app run last, so the checkpoints build in the background while the others run."""
    items.sort(key=lambda item: NEEDS_APP in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session", autouse=True)
def _start_building(request, data_root, tmp_path_factory):
    global _build
    if any(NEEDS_APP in getattr(item, "fixturenames", ()) for item in request.session.items):
        _build = CheckpointBuild(data_root, tmp_path_factory.mktemp("app") / "checkpoints")
    yield
    if _build is not None and _build.proc.poll() is None:
        _build.proc.kill()


@pytest.fixture(scope="session")
def app_checkpoints() -> Path:
    assert _build is not None, "the checkpoint build starts with the session"
    return _build.wait()


def pytest_terminal_summary(terminalreporter):
    if _build is not None and _build.seconds is not None:
        terminalreporter.write_line(f"app smoke checkpoints: built in {_build.seconds:.0f} s in the background "
                                    f"(budget {BUILD_BUDGET_S:.0f} s)")


@pytest.fixture(scope="session")
def app_server(app_checkpoints, tmp_path_factory):
    from tests.app_server import AppServer

    server = AppServer(app_checkpoints, tmp_path_factory.mktemp("logs") / "app.log")
    yield server
    server.stop()

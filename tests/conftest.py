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


#: seconds the app's smoke checkpoints may take to build (about 40 s alone on a 2-core AVX2 machine, 100-200 s
#: while the tests run beside it; see the README)
BUILD_BUDGET_S = float(os.environ.get("GENZOO_BUILD_BUDGET", "480"))
NEEDS_APP = "app_checkpoints"
#: a folder of smoke checkpoints built earlier (``python -m tests.app_server OUT DATA``), to rerun the app's tests
#: without building them again while working on them; unset, every run builds its own
PREBUILT = os.environ.get("GENZOO_TEST_CHECKPOINTS")


def run_folder(tmp_path_factory) -> Path:
    """A folder the whole run shares: with pytest-xdist, the workers' common parent."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


class CheckpointBuild:
    """``python -m tests.app_server OUT DATA``, started once per run in the background, by whichever test process
    (pytest-xdist worker) comes first; the others wait for the status file it leaves. Its budget is its own
    (``BUILD_BUDGET_S``), never a test's timeout."""

    def __init__(self, folder: Path, data_root: Path):
        from filelock import FileLock

        self.out, self.log_path = folder / "app" / "checkpoints", folder / "app" / "build.log"
        self.status, self.proc = folder / "app" / "build.status", None
        with FileLock(str(folder / "app.lock")):
            started = folder / "app" / "build.started"
            if not started.exists():
                self.out.parent.mkdir(parents=True, exist_ok=True)
                with open(self.log_path, "w") as log:
                    self.proc = subprocess.Popen(
                        [sys.executable, "-m", "tests.app_server", str(self.out), str(data_root), str(self.status)],
                        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "GENZOO_TEST_THREADS": "1"})
                started.write_text(f"{self.proc.pid} {time.time()}")
            pid, self.started = started.read_text().split()
            self.pid, self.started = int(pid), float(self.started)

    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        try:
            os.kill(self.pid, 0)
            return True
        except OSError:
            return False

    def wait(self) -> Path:
        while not self.status.exists() and self.running() and time.time() - self.started < BUILD_BUDGET_S:
            time.sleep(0.5)
        if not self.status.exists() and self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        code = int(self.status.read_text().split()[0]) if self.status.exists() else None
        if code != 0:
            tail = self.log_path.read_text()[-3000:]
            why = (f"exited with {code}" if code is not None else f"ran past its budget of {BUILD_BUDGET_S:.0f} s"
                   if time.time() - self.started >= BUILD_BUDGET_S else "stopped without leaving its status")
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
    if not PREBUILT and any(NEEDS_APP in getattr(item, "fixturenames", ()) for item in request.session.items):
        _build = CheckpointBuild(run_folder(tmp_path_factory), data_root)
    yield
    if _build is not None and _build.proc is not None and _build.proc.poll() is None:
        try:                                     # another worker may still need it: let it finish, within budget
            _build.proc.wait(timeout=max(0.1, BUILD_BUDGET_S - (time.time() - _build.started)))
        except subprocess.TimeoutExpired:
            _build.proc.kill()


@pytest.fixture(scope="session")
def app_checkpoints() -> Path:
    if PREBUILT:
        return Path(PREBUILT)
    assert _build is not None, "the checkpoint build starts with the session"
    return _build.wait()


def pytest_terminal_summary(terminalreporter, config):
    status = Path(str(config._tmp_path_factory.getbasetemp())) / "app" / "build.status"
    if status.exists():
        code, seconds = status.read_text().split()
        terminalreporter.write_line(f"app smoke checkpoints: built in {float(seconds):.0f} s in the background "
                                    f"(budget {BUILD_BUDGET_S:.0f} s)" + ("" if code == "0" else f", exit {code}"))


@pytest.fixture(scope="session")
def app_server(app_checkpoints, tmp_path_factory):
    from tests.app_server import AppServer

    server = AppServer(app_checkpoints, tmp_path_factory.mktemp("logs") / "app.log")
    yield server
    server.stop()

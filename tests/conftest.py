"""Shared fixtures: a tiny synthetic dataset in torchvision's layout, so no test needs the real data."""
from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
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
    """MNIST and FashionMNIST folders with 300 train / 100 test synthetic images each."""
    root = tmp_path_factory.mktemp("data")
    for folder in ("MNIST", "FashionMNIST"):
        raw = root / folder / "raw"
        raw.mkdir(parents=True)
        for prefix, n, seed in (("train", 300, 0), ("t10k", 100, 1)):
            x, y = synthetic_images(n, seed)
            _write_idx(raw / f"{prefix}-images-idx3-ubyte", x)
            _write_idx(raw / f"{prefix}-labels-idx1-ubyte", y)
    return root


@pytest.fixture(scope="session")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """32 synthetic images in [0, 1] with labels."""
    x, y = synthetic_images(32)
    return torch.from_numpy(x).float().div(255).unsqueeze(1), torch.from_numpy(y).long()


@pytest.fixture(scope="session")
def app_checkpoints(data_root, tmp_path_factory):
    from tests.app_server import make_checkpoints

    return make_checkpoints(data_root, tmp_path_factory.mktemp("app-checkpoints"))


@pytest.fixture(scope="session")
def app_server(app_checkpoints, tmp_path_factory):
    from tests.app_server import AppServer

    server = AppServer(app_checkpoints, tmp_path_factory.mktemp("logs") / "app.log")
    yield server
    server.stop()

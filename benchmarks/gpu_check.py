"""The app on a GPU, checked through its API: every endpoint, its time, the peak GPU memory, and pictures that match
the CPU's for the same seed.

    python -m benchmarks.gpu_check [--checkpoints DIR] [--out FILE]

Starts two servers on the shipped checkpoints: one where CUDA is (the GPU), one with CUDA hidden (the CPU). Every
named listener the page can call is sent to the GPU server with its starting values (a streaming one gives its first
update, then stops); a handful of drawings go to both, and their pictures are compared pixel by pixel. It prints a
Markdown report (errors, seconds per endpoint, peak GPU memory from ``nvidia-smi``, the largest picture difference)
and exits 1 on any error or mismatch. Meant for a lent GPU machine: about 2 minutes there.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tests.app_server import AppServer

ROOT = Path(__file__).resolve().parent.parent
#: drawings compared between the GPU and the CPU: the same seed must give the same pictures
SAME_SEED = [
    ("/sample", ["mnist", ["vae", "gan", "ddpm-cosine", "ldm"], 8, 3, "own", 50]),
    ("/sample", ["fashion", ["cgan", "ddpm-cosine"], 8, 3, "own", 50]),
    ("/pick_class", ["mnist", "7", 2.0, 4, 5]),
]
#: largest mean difference per pixel (0..255) allowed between GPU and CPU pictures: float32 sums in another order
TOLERANCE = 2.0
STREAMS = {"train_live"}


class PeakMemory(threading.Thread):
    """Samples the GPU memory ``nvidia-smi`` reports for a process, every 0.2 s, keeping the largest (MiB)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            try:
                out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,"
                                      "nounits"], capture_output=True, text=True, timeout=5).stdout
                for line in out.splitlines():
                    pid, mib = (int(v) for v in line.split(","))
                    if pid == self.pid:
                        self.peak = max(self.peak, mib)
            except (OSError, ValueError, subprocess.SubprocessError):
                pass
            time.sleep(0.2)


def pictures(result) -> list[np.ndarray]:
    """Every picture in a view's result (gallery items or image paths), as arrays."""
    out = []
    for item in result if isinstance(result, list) else [result]:
        path = item.get("image") if isinstance(item, dict) else item
        path = path.get("path") if isinstance(path, dict) else path
        if isinstance(path, str) and Path(path).exists():
            with Image.open(path) as im:
                out.append(np.asarray(im.convert("L"), dtype=np.float64))
    return out


def call(client, name: str, values: list, streams: bool):
    job = client.submit(*values, api_name=f"/{name}" if not name.startswith("/") else name)
    if streams:
        deadline = time.time() + 60
        while not job.outputs() and not job.done() and time.time() < deadline:
            time.sleep(0.2)
        job.cancel()
        return None
    return job.result(timeout=180)


def main(argv: list[str] | None = None) -> int:
    from gradio_client import Client

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoints", default=str(ROOT / "checkpoints"))
    p.add_argument("--out", help="also write the report here")
    args = p.parse_args(argv)
    logs = Path(tempfile.mkdtemp(prefix="genzoo-gpu-check-"))
    gpu = AppServer(Path(args.checkpoints), logs / "gpu.log", GENZOO_THREADS="4")
    cpu = AppServer(Path(args.checkpoints), logs / "cpu.log", CUDA_VISIBLE_DEVICES="", GENZOO_THREADS="4")
    memory = PeakMemory(gpu.proc.pid)
    memory.start()
    rows, errors, worst = [], [], 0.0
    try:
        gpu.wait_until_warm(300)
        client = Client(gpu.url, verbose=False)
        for name, values, streams in gpu.endpoints():
            t0 = time.perf_counter()
            try:
                call(client, name, values, name in STREAMS or streams)
                rows.append((name, time.perf_counter() - t0, "ok"))
            except Exception as exc:                       # noqa: BLE001 - reported
                words = str(exc).splitlines()[0][:100]
                rows.append((name, time.perf_counter() - t0, words))
                if "upstream Gradio app has raised" in words:   # not a visitor's error: a real one
                    errors.append(f"/{name}: {words}")
        on_cpu = Client(cpu.url, verbose=False)
        for api, values in SAME_SEED:
            a, b = pictures(client.predict(*values, api_name=api)), pictures(on_cpu.predict(*values, api_name=api))
            if len(a) != len(b) or not a:
                errors.append(f"{api} {values}: {len(a)} pictures on the GPU, {len(b)} on the CPU")
                continue
            for x, y in zip(a, b):
                if x.shape != y.shape:
                    errors.append(f"{api} {values}: picture sizes differ ({x.shape} and {y.shape})")
                    continue
                worst = max(worst, float(np.abs(x - y).mean()))
        if worst > TOLERANCE:
            errors.append(f"pictures differ between the GPU and the CPU by {worst:.2f} a pixel (allowed {TOLERANCE})")
    finally:
        memory.running = False
        gpu.stop()
        cpu.stop()
    try:
        device = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                text=True, timeout=30).stdout.strip() or "no GPU seen by nvidia-smi"
    except (OSError, subprocess.SubprocessError):
        device = "no nvidia-smi: CPU only"
    lines = [f"GPU check ({time.strftime('%Y-%m-%d')}, {device}): {len(rows)} endpoints, {len(errors)} errors, "
             f"peak GPU memory {memory.peak} MiB, largest GPU/CPU picture difference {worst:.3f} (0..255 a pixel)",
             "", "| endpoint | seconds | result |", "|---|---|---|"]
    lines += [f"| `/{n}` | {s:.2f} | {r} |" for n, s, r in rows]
    lines += [""] + [f"- error: {e}" for e in errors]
    report = "\n".join(lines)
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

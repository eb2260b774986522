"""GenZoo benchmarks (not timed tests): app cold start, first-call latency of each tab's main
action through the HTTP API, repeated-sampling throughput, peak memory, and the DDPM sampler
against a plain textbook reference loop. Writes benchmarks/results.md.

    python -m benchmarks.run [--checkpoints DIR] [--dataset mnist]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from genzoo.checkpoints import checkpoint_root, cpu_name, load_model
from tests.app_server import AppServer

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@torch.no_grad()
def textbook_ddpm(model, label: int, seed: int) -> torch.Tensor:
    """Ho et al. (2020), Algorithm 2, one image at a time, no batching, no guidance, every step."""
    s = model.schedule
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 1, 28, 28, generator=g)
    y = torch.tensor([label])
    for t in range(model.T - 1, -1, -1):
        z = torch.randn(x.shape, generator=g) if t > 0 else torch.zeros_like(x)
        eps = model.net(x, torch.tensor([t]), y)
        beta, alpha, abar = s.betas[t], s.alphas[t], s.alphas_cumprod[t]
        x = (x - beta / (1 - abar).sqrt() * eps) / alpha.sqrt() + beta.sqrt() * z
    return x


def sampler_comparison(dataset: str, root: Path, n: int = 16) -> list[str]:
    model = load_model(dataset, "ddpm-cosine", root=root)
    t0 = time.perf_counter()
    textbook_ddpm(model, 3, 0)
    reference = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.sample(n, labels=3, generator=torch.Generator().manual_seed(0), sampler="ddpm", guidance=1.0)
    ours = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    model.sample(n, labels=3, generator=torch.Generator().manual_seed(0), sampler="ddim", steps=50, guidance=2.0)
    ddim = (time.perf_counter() - t0) / n
    return ["| sampler | seconds per image |", "|---|---|",
            f"| textbook DDPM loop (1 image, 1,000 steps) | {reference:.2f} |",
            f"| GenZoo DDPM sampler (batch {n}, 1,000 steps) | {ours:.2f} ({reference / ours:.1f}× faster) |",
            f"| GenZoo DDIM, 50 steps, guidance 2 (batch {n}) | {ddim:.3f} ({reference / ddim:.0f}× faster) |"]


ACTIONS = [  # (tab, api_name, arguments)
    ("Data", "/data", ["{ds}"]),
    ("Sample (VAE, GAN, DDPM cosine, DDIM 50)", "/sample", ["{ds}", ["vae", "gan", "ddpm-cosine"], 16, 0, "ddim", 50]),
    ("Pick a class", "/pick_class", ["{ds}", "{cls}", 2.0, 8, 0]),
    ("Interpolate", "/interpolate", ["{ds}", "{cls}", 0, "{cls}", 1, None, 1, 2, 10]),
    ("Latent map (VAE)", "/latent_map", ["{ds}", "vae"]),
    ("Reconstruct", "/reconstruct", ["{ds}", "test image", "{cls}", 0, None]),
    ("Training grids", "/training_grids", ["{ds}", ["vae", "gan", "ddpm-cosine"], 10]),
    ("Diffusion reverse process (50 steps)", "/reverse_process", ["{ds}", "ddpm-cosine", "{cls}", 0, 50]),
    ("Scoreboard", "/scoreboard", ["{ds}"]),
]


def app_benchmarks(dataset: str, root: Path, log: Path) -> list[str]:
    from gradio_client import Client

    from genzoo.data import dataset_info

    cls = dataset_info(dataset).class_names[3]
    t0 = time.perf_counter()
    server = AppServer(root, log, GENZOO_THREADS="2")
    cold = time.perf_counter() - t0
    try:
        client = Client(server.url, verbose=False)
        lines = [f"App cold start (process start to first served page, all checkpoints loaded): **{cold:.1f} s**", "",
                 "| tab: main action | first call (s) | repeat (s) |", "|---|---|---|"]
        for tab, api, args in ACTIONS:
            args = [a.format(ds=dataset, cls=cls) if isinstance(a, str) else a for a in args]
            times = []
            for _ in range(2):
                t = time.perf_counter()
                try:
                    client.predict(*args, api_name=api)
                    times.append(time.perf_counter() - t)
                except Exception as exc:  # an unavailable model: say so in the table
                    times.append(float("nan"))
                    tab += f" (failed: {str(exc)[:60]})"
            lines.append(f"| {tab} | {times[0]:.2f} | {times[1]:.2f} |")
        # throughput: repeated distinct sampling requests (new seed each time, so no cache)
        t = time.perf_counter()
        k = 10
        for seed in range(100, 100 + k):
            client.predict(dataset, ["gan"], 16, seed, "ddim", 50, api_name="/sample")
        lines += [
            "",
            f"Throughput, GAN 16-image requests with new seeds: {k / (time.perf_counter() - t):.1f} requests/s",
            f"Peak resident memory of the app process: {peak_rss_mb(server.proc.pid):.0f} MB",
        ]
    finally:
        server.stop()
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--checkpoints", type=Path, default=checkpoint_root())
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.md")
    args = p.parse_args()
    from benchmarks.report import record

    torch.set_num_threads(2)
    machine = f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
    print(record(f"Through the app's HTTP API — {args.dataset}",
                 "\n".join(app_benchmarks(args.dataset, args.checkpoints, ROOT / "benchmarks" / "app.log")),
                 args.out, machine=machine))
    print(record(f"DDPM sampler against the textbook loop — {args.dataset}",
                 "\n".join(sampler_comparison(args.dataset, args.checkpoints)), args.out, machine=machine))


if __name__ == "__main__":
    main()

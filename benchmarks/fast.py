"""The fast-diffusion bars, measured in one run (a benchmark, not a timed test), on 2 torch threads:

- the speed ratio: 16 labelled pictures from the cosine DDPM at the app's default, and from the distilled student,
  each divided by DDIM 50 with guidance, measured in the same run;
- Pick a class at its default and Sample (VAE + GAN + cosine DDPM, 16 pictures) through the app's HTTP API with a
  fresh seed each time: server time, median of 3 (until the answer, with its pictures' addresses, has arrived; a
  browser then fetches the pictures side by side, so the client here does not download them).

Replaces its section of benchmarks/results.md (``benchmarks.report``), with the machine described.

    python -m benchmarks.fast [--dataset mnist]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from genzoo.checkpoints import checkpoint_root, cpu_name, load_model
from genzoo.registry import describe_sampler, sampler_options
from tests.app_server import AppServer

ROOT = Path(__file__).resolve().parent.parent


def seconds(model, labels, reps: int = 3, **opts) -> float:
    """Median wall time of 16 labelled pictures (a warm-up first)."""
    model.sample(2, labels[:2], generator=torch.Generator().manual_seed(0), **opts)
    out = []
    for r in range(reps):
        t = time.perf_counter()
        model.sample(16, labels, generator=torch.Generator().manual_seed(100 + r), **opts)
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def ratio_lines(dataset: str, root: Path) -> list[str]:
    labels = torch.arange(16) % 10
    teacher = load_model(dataset, "ddpm-cosine", root)
    base = seconds(teacher, labels, **sampler_options("ddpm-cosine", dataset, "ddim", 50))
    default = seconds(teacher, labels, **sampler_options("ddpm-cosine", dataset))
    rows = [f"| cosine DDPM, DDIM 50 (guided) | {base:.2f} | 1 |",
            f"| cosine DDPM at the app's default ({describe_sampler('ddpm-cosine', dataset)}) | {default:.2f} | "
            f"{default / base:.2f} |"]
    try:
        student = load_model(dataset, "ddpm-fast", root)
        fast = seconds(student, labels, **sampler_options("ddpm-fast", dataset))
        rows.append(f"| distilled `ddpm-fast`, {student.steps_now} steps | {fast:.2f} | {fast / base:.3f} |")
    except Exception as exc:          # noqa: BLE001 - not shipped for this dataset yet
        rows.append(f"| distilled `ddpm-fast` | not available ({str(exc)[:60]}) | |")
    return ["| 16 labelled pictures | seconds (median of 3) | ÷ DDIM 50 |", "|---|---|---|", *rows]


def tab_lines(dataset: str, root: Path, log: Path) -> list[str]:
    from gradio_client import Client

    server = AppServer(root, log, GENZOO_THREADS="2")
    try:
        server.wait_until_warm(600)                        # the start-up warm-up's work must not share the timings
        c = Client(server.url, verbose=False, download_files=False)
        calls = {
            "Pick a class at its default (class 3, 8 pictures a model)":
                lambda s: c.predict(dataset, "3" if dataset == "mnist" else "Dress", 1.5, 8, s, api_name="/pick_class"),
            "Sample: VAE + GAN + cosine DDPM, 16 pictures, each model's default":
                lambda s: c.predict(dataset, ["vae", "gan", "ddpm-cosine"], 16, s, "own", 50, api_name="/sample"),
        }
        lines = ["| tab, fresh seed | server time, median of 3 (s) |", "|---|---|"]
        for what, call in calls.items():
            call(999)                                      # warm-up: the first call loads and compiles
            times = []
            for seed in (1001, 1002, 1003):
                t = time.perf_counter()
                call(seed)
                times.append(time.perf_counter() - t)
            lines.append(f"| {what} | {statistics.median(times):.2f} |")
    finally:
        server.stop()
    return lines


def machine() -> str:
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    extras = [f for f in ("avx512_bf16", "amx_bf16") if f in flags] or ["AVX2 only" if "avx2" in flags else "?"]
    return f"{cpu_name()} ({', '.join(extras)})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.md")
    args = p.parse_args()
    torch.set_num_threads(2)
    root = checkpoint_root()
    from benchmarks.report import record

    lines = [*ratio_lines(args.dataset, root), "", *tab_lines(args.dataset, root, ROOT / "benchmarks" / "app.log")]
    print(record(f"Fast diffusion bars — {args.dataset}", "\n".join(lines), args.out,
                 machine=f"{machine()}, 2 torch threads, torch {torch.__version__}"))


if __name__ == "__main__":
    main()

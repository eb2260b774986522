"""Load and soak runs against a local GenZoo server, through its public API (gradio_client).

    python -m benchmarks.load [--checkpoints DIR] [--clients 16] [--requests 20] [--soak 2000]

The load run sends ``clients`` concurrent visitors, each making ``requests`` mixed requests
(sample, pick a class, interpolate, latent map, reconstruct) with fresh seeds; it counts
errors (anything but the queue's own "full" refusal) and reports p50 / p95 latency and
throughput. The soak run sends ``soak`` requests and reads the server's resident memory
after warm-up and at the end. Each replaces its section of benchmarks/results.md (``benchmarks.report``).
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.report import record
from genzoo.checkpoints import cpu_name
from tests.app_server import AppServer

ROOT = Path(__file__).resolve().parent.parent

#: what a visitor does, by endpoint; ``{seed}`` and ``{k}`` vary per request so caches do not answer
MIX = [
    ("/sample", ["mnist", ["vae", "gan"], 8, "{seed}", "ddim", 20]),
    ("/pick_class", ["mnist", "{k}", 2.0, 4, "{seed}"]),
    ("/interpolate", ["mnist", "{k}", 0, "7", 1, None, "{seed}", 2, 8]),
    ("/latent_map", ["mnist", "vae"]),
    ("/reconstruct", ["mnist", "test image", "{k}", "{j}", None]),
]
#: a lighter mix for long soaks: the same views without the diffusion models' many steps
LIGHT_MIX = [
    ("/sample", ["mnist", ["vae", "gan"], 8, "{seed}", "ddim", 20]),
    ("/latent_map", ["mnist", "vae"]),
    ("/latent_point", ["mnist", "vae", 0.5, -0.5]),
    ("/reconstruct", ["mnist", "test image", "{k}", "{j}", None]),
]
QUEUE_FULL = "queue is full"


def rss_mb(pid: int) -> float:
    """Resident memory of a process (and not its peak), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def request_args(i: int, mix=MIX) -> tuple[str, list]:
    """The ``i``-th request of the mix, with its seed and class filled in."""
    api, args = mix[i % len(mix)]
    fill = {"seed": 1000 + i, "k": str(i % 10), "j": i % 5}
    return api, [fill[a[1:-1]] if isinstance(a, str) and a[1:-1] in fill else a for a in args]


@dataclass
class Report:
    latencies: list[float] = field(default_factory=list)
    by_api: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    rejected: int = 0
    seconds: float = 0.0

    @property
    def done(self) -> int:
        return len(self.latencies)

    def percentile(self, q: float) -> float:
        s = sorted(self.latencies)
        return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else float("nan")

    def line(self) -> str:
        return (f"{self.done} served, {self.rejected} refused as queue-full, {len(self.errors)} errors; "
                f"p50 {self.percentile(0.5):.2f} s, p95 {self.percentile(0.95):.2f} s, "
                f"{self.done / self.seconds:.2f} requests/s over {self.seconds:.0f} s")


def run_load(url: str, clients: int, requests: int, mix=MIX, on_request=None) -> Report:
    """``clients`` threads, each with its own client, each sending ``requests`` requests of the mix."""
    from gradio_client import Client

    report, lock = Report(), threading.Lock()
    counter = itertools.count()

    def visitor() -> None:
        client = Client(url, verbose=False)
        for _ in range(requests):
            api, args = request_args(next(counter), mix)
            t0 = time.perf_counter()
            try:
                client.predict(*args, api_name=api)
                with lock:
                    report.latencies.append(time.perf_counter() - t0)
                    report.by_api.setdefault(api, []).append(report.latencies[-1])
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                with lock:
                    if QUEUE_FULL in str(exc).lower():
                        report.rejected += 1
                    else:
                        report.errors.append(f"{api}: {type(exc).__name__}: {str(exc)[:200]}")
            if on_request is not None:
                on_request()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=visitor, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report.seconds = time.perf_counter() - t0
    return report


def run_soak(
    url: str, pid: int, total: int, clients: int = 4, warmup: int = 100, mix=LIGHT_MIX
) -> tuple[Report, float, float]:
    """``total`` requests; resident memory after ``warmup`` requests and at the end (MB)."""
    warm = run_load(url, clients, max(1, warmup // clients), mix)
    before = rss_mb(pid)
    report = run_load(url, clients, max(1, (total - warmup) // clients), mix)
    report.errors += warm.errors
    return report, before, rss_mb(pid)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=20, help="per client")
    p.add_argument("--soak", type=int, default=2000, help="requests in the soak run (0: skip)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.md")
    args = p.parse_args()
    server = AppServer(args.checkpoints, ROOT / "benchmarks" / "app.log", GENZOO_THREADS="2")
    try:
        server.wait_until_warm(600)           # visitors after start-up: the warm-up's own work is not timed
        load = run_load(server.url, args.clients, args.requests)
        machine = f"{cpu_name()}, {os.cpu_count()} CPUs"
        lines = [f"Mix: {', '.join(api for api, _ in MIX)} (fresh seeds).", "",
                 f"- {load.line()}",
                 "- median latency per endpoint: " + ", ".join(
                     f"{api} {statistics.median(t):.2f} s" for api, t in load.by_api.items())]
        lines += [f"  - error: {e}" for e in load.errors[:10]]
        print(record(f"Load: {args.clients} visitors × {args.requests} mixed requests", "\n".join(lines), args.out,
                     machine=machine))
        if args.soak:
            soak, before, after = run_soak(server.url, server.proc.pid, args.soak)
            lines = [f"- {soak.line()}",
                     f"- resident memory after warm-up {before:.0f} MB, at the end {after:.0f} MB: "
                     f"growth **{after - before:+.0f} MB**"]
            lines += [f"  - error: {e}" for e in soak.errors[:10]]
            print(record(f"Soak: {args.soak} requests ({', '.join(api for api, _ in LIGHT_MIX)})", "\n".join(lines),
                         args.out, machine=machine))
    finally:
        server.stop()


if __name__ == "__main__":
    main()

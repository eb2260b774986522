"""Start the app on a free port against checkpoints made by the training CLI's smoke mode."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

from tests.conftest import ROOT

#: fashion deliberately lacks most models, to show the app copes with missing checkpoints
FASHION_MODELS = ["ae-8", "vae", "gan", "classifier"]
#: models scored into mnist/metrics.json for the scoreboard (a quick, small evaluation)
EVALUATED = ["vae", "gan", "cgan", "ddpm-cosine"]
#: models whose likelihoods are measured into mnist/likelihood.json (fashion has none: the views say so)
LIKELIHOODS = ["vae", "pixelcnn", "glow"]


def make_checkpoints(data_root: Path, out: Path) -> Path:
    from genzoo.cli import main

    assert main(["train", "--dataset", "mnist", "--all", "--smoke", "--epochs", "2", "--data-root", str(data_root),
                 "--out", str(out), "--no-progress"]) == 0
    for name in FASHION_MODELS:
        assert main(["train", "--dataset", "fashion", "--model", name, "--smoke", "--epochs", "1",
                     "--data-root", str(data_root), "--out", str(out), "--no-progress"]) == 0
    # the training loop rewrites history.json after every epoch; fashion's GAN plays a checkpoint saved after
    # epoch 1 of a 3-epoch run, which the app ships and labels as still training
    history = out / "fashion" / "gan" / "history.json"
    history.write_text(history.read_text().replace('"planned_epochs": 1', '"planned_epochs": 3'))
    assert main(["export-data", "--dataset", "all", "--data-root", str(data_root), "--out", str(out)]) == 0
    for dataset in ("mnist", "fashion"):      # the quiz's pictures drawn ahead, as the shipped checkpoints have them
        assert main(["quiz-pool", "--dataset", dataset, "--checkpoints", str(out), "--no-progress"]) == 0
    assert main(["evaluate", "--dataset", "mnist", "--models", *EVALUATED, "--n", "20", "--data-root", str(data_root),
                 "--checkpoints", str(out), "--no-progress", "--latency-batches", "1", "4", "--skip-slow",
                 "--latency-budget", "0.1"]) == 0
    assert main(["likelihood", "--dataset", "mnist", "--models", *LIKELIHOODS, "--n", "20", "--data-root",
                 str(data_root), "--checkpoints", str(out)]) == 0
    return out


def main(argv: list[str]) -> int:
    """``python -m tests.app_server OUT DATA_ROOT [STATUS]``: build the smoke checkpoints (the test run does this
    once); STATUS, a file it writes at the end: its exit code and seconds."""
    t0, code = time.perf_counter(), 1
    try:
        make_checkpoints(Path(argv[1]), Path(argv[0]))
        code = 0
        print(f"built in {time.perf_counter() - t0:.1f} s", flush=True)
    finally:
        if len(argv) > 2:
            Path(argv[2]).write_text(f"{code} {time.perf_counter() - t0:.1f}")
    return code


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """``python app.py`` (or ``python COMMAND...``) serving ``checkpoints`` on a free port, its output in ``log``."""

    def __init__(self, checkpoints: Path, log: Path, command: Optional[list[str]] = None, **env):
        self.db = Path(env.get("GENZOO_DB") or Path(log).with_suffix(".quiz.sqlite3"))
        for attempt in range(3):      # two test processes may pick the same free port at once: the later one retries
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}/"
            self.log = open(log, "w")
            self.proc = subprocess.Popen(
                [sys.executable, *(command or ["app.py"])], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                env={**os.environ, "GENZOO_CHECKPOINTS": str(checkpoints), "GRADIO_SERVER_PORT": str(self.port),
                     "GRADIO_SERVER_NAME": "127.0.0.1", "GENZOO_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                     "HF_HUB_OFFLINE": "1", **env, "GENZOO_DB": str(self.db)})
            self.started = time.perf_counter()
            if self._answers(log):
                return
            self.log.close()
            if "empty port" not in Path(log).read_text(errors="replace"):
                break
        raise RuntimeError(f"the app exited with {self.proc.returncode}; see {log}")

    def _answers(self, log: Path) -> bool:
        """Whether the app answers within 120 s (False: it exited first). Its own log must say it serves the port:
        another process's server there would answer too."""
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if "Running on local URL" not in Path(log).read_text(errors="replace"):
                    raise OSError("not serving yet")
                urllib.request.urlopen(self.url, timeout=2)
                self.startup_s = time.perf_counter() - self.started
                return True
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the app did not answer within 120 s; see {log}")

    def wait_until_warm(self, timeout: float = 120) -> None:
        """Wait for the start-up warm-up (every tab's opening pictures drawn ahead) to finish, for benchmarks that
        time the server's answers."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if "opening views ready" in Path(self.log.name).read_text(errors="replace"):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the warm-up did not finish within {timeout:.0f} s; see {self.log.name}")

    def endpoints(self) -> list[tuple[str, list, bool]]:
        """Every named listener the page can call, with its inputs' starting values (as the page first sends them)
        and whether it streams."""
        import json

        config = json.load(urllib.request.urlopen(f"{self.url.rstrip('/')}/config", timeout=30))
        components = {c["id"]: c for c in config["components"]}
        out = []
        for d in config["dependencies"]:
            if not d.get("api_name") or d.get("api_visibility") == "private" or not d.get("backend_fn", True):
                continue
            values = [components[i].get("props", {}).get("value") for i in d["inputs"]
                      if components[i]["type"] != "state"]
            out.append((d["api_name"], values, bool(d.get("types", {}).get("generator"))))
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``benchmarks/results.md`` holds the current figures once: one section per benchmark and kind of machine, each saying
when it was measured, on which machine and at which commit. A benchmark run again on the same kind of machine
replaces its section; the section it replaces moves to ``benchmarks/history.md``, newest first, so nothing measured
is lost and no reader has to guess which of two numbers is current."""
from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from genzoo.checkpoints import cpu_name

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.md"
HISTORY = ROOT / "benchmarks" / "history.md"
HEAD = ("# GenZoo benchmarks: the current figures\n\nOne section per benchmark and kind of machine, replaced when it "
        "is measured again (earlier figures: [history.md](history.md)). The machines differ: compare numbers only "
        "within one kind.\n")


def machine_kind() -> str:
    """The kind of machine the figures hold for: a GPU by name, else the CPU's widest vector instructions."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        flags = ""
    if "avx512_bf16" in flags:
        return "CPU with AVX-512 and bf16"
    if "avx2" in flags:
        return "CPU with AVX2 only"
    return "CPU"


def commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + (" with uncommitted changes" if dirty else "")) or "unknown"


def sections(text: str) -> list[tuple[str, str]]:
    """A Markdown file's ``## `` sections: (heading, the section's whole text)."""
    parts = re.split(r"(?m)^(?=## )", text)
    return [(p.splitlines()[0][3:].strip(), p.rstrip() + "\n") for p in parts if p.startswith("## ")]


def record(title: str, body: str, results: Path = RESULTS, history: Path = HISTORY, kind: str | None = None,
           machine: str | None = None) -> str:
    """Write ``body`` as the current section ``title — kind`` of ``results``; the one it replaces goes to the top of
    ``history``. Returns the section written."""
    heading = f"{title} — {kind or machine_kind()}"
    section = (f"## {heading}\n\nMeasured {time.strftime('%Y-%m-%d')} at commit {commit()} on "
               f"{machine or cpu_name()}.\n\n{body.strip()}\n")
    old = sections(results.read_text()) if results.exists() else []
    replaced = [s for h, s in old if h == heading]
    kept = [s if h != heading else section for h, s in old]
    if not replaced:
        kept.append(section)
    results.write_text(HEAD + "\n" + "\n".join(kept))
    if replaced:
        before = history.read_text() if history.exists() else "# GenZoo benchmarks: earlier figures\n\n"
        top, _, rest = before.partition("\n## ")
        history.write_text(top.rstrip() + "\n\n" + replaced[0] + ("\n## " + rest if rest else ""))
    return section

"""What a score was measured on, so that a score whose model has since changed is known to be stale.

Every part of a model's row in ``metrics.json`` (the pictures drawn with no class asked, those drawn with labels
cycling, the timings) records the sampler settings it was drawn with, the checkpoint's weights (a digest of
``model.safetensors``) and, for pictures drawn with no class asked, the rule that chose their classes. The row is
fresh when what it records is what the app draws with now; ``stale_parts`` says which parts are not, and the
evaluation draws only those again.
"""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Optional

from models.base import NO_CLASS_RULE

from . import registry
from .checkpoints import CONFIG, WEIGHTS, model_dir

#: the parts of a row that the Scoreboard's table shows, each drawn (or timed) with the model's default settings
TABLE_PARTS = ("unconditional", "conditional_samples", "latency")


def weights_digest(dataset: str, name: str, root: Optional[Path] = None) -> Optional[str]:
    """The first 16 hex digits of the SHA-256 of a checkpoint's weights file (None when it has none)."""
    path = model_dir(dataset, name, root) / WEIGHTS
    if not path.exists():
        return None
    stat = path.stat()
    return _digest(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _digest(path: Path, mtime_ns: int, size: int) -> str:
    """Hashed once per version of the file (every part of every row asks for it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def conditional(dataset: str, name: str, root: Optional[Path] = None) -> bool:
    """Whether the checkpoint can be told a class (its class says so, or its config.json)."""
    if getattr(registry.get_spec(name).cls, "_conditional", False):
        return True
    path = model_dir(dataset, name, root) / CONFIG
    return path.exists() and bool(json.loads(path.read_text()).get("conditional", False))


def default_settings(name: str, dataset: str) -> dict:
    """The app's sampler settings for the model on ``dataset`` as JSON would hold them (``{}``: one pass)."""
    s = registry.sampler_settings(name, dataset)
    options = s.options() if s is not None else {}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}


def provenance(name: str, dataset: str, part: str, root: Optional[Path] = None) -> dict:
    """What ``part`` of the row is measured on when measured now."""
    out = {"settings": default_settings(name, dataset), "weights": weights_digest(dataset, name, root)}
    if part == "unconditional" and conditional(dataset, name, root):
        out["no_class"] = NO_CLASS_RULE
    return out


def recorded(row: dict, part: str) -> Optional[dict]:
    """What a row's part records of its measurement (None: nothing recorded, as in rows from before)."""
    value = row.get(part)
    if part == "latency":                      # where it was timed is said beside it, not part of what was timed
        return {k: v for k, v in row["latency_drawn"].items() if k != "machine"} if row.get("latency_drawn") else None
    return value.get("drawn") if isinstance(value, dict) else None


def stale_parts(row: Optional[dict], name: str, dataset: str, root: Optional[Path] = None) -> list[str]:
    """The parts of the table a row shows that were not measured on what the app draws with now: every part when
    there is no row; ``conditional_samples`` only for a model that can be told a class."""
    parts = [p for p in TABLE_PARTS if p != "conditional_samples" or conditional(dataset, name, root)]
    if row is None:
        return parts
    return [p for p in parts if recorded(row, p) != provenance(name, dataset, p, root)]


def referee_fid(dataset: str, name: str, root: Optional[Path] = None) -> Optional[float]:
    """The referee's FID of the model's pictures drawn with no class asked (``referee.json``), while it was drawn
    with the app's settings and the checkpoint's weights now; else None."""
    path = model_dir(dataset, name, root) / "referee.json"
    if not path.exists():
        return None
    score = json.loads(path.read_text()).get("unconditional") or {}
    drawn = score.get("drawn") or {}
    fresh = (drawn.get("settings") == registry.describe_sampler(name, dataset)
             and drawn.get("weights") == weights_digest(dataset, name, root)
             and drawn.get("no_class") == (NO_CLASS_RULE if conditional(dataset, name, root) else None))
    return score.get("fid") if fresh else None


def describe(stale: list[str]) -> str:
    """Stale parts in words, for a test's message or a table cell."""
    words = {"unconditional": "the pictures drawn with no class asked", "conditional_samples":
             "the pictures drawn for each class", "latency": "the timing"}
    return ", ".join(words[p] for p in stale)

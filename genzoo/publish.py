"""``python -m genzoo publish``: put GenZoo on Hugging Face Spaces with ``huggingface_hub`` (no git history is sent).

- **The Space** gets the code, ``requirements.txt`` and the README's front matter (``models:`` naming the checkpoint
  repository when there is one).
- **The checkpoints** go to a model repository, one folder a model (``<dataset>/<model>/``, the layout the app reads
  when ``GENZOO_HUB_REPO`` names it), each with a model card written from the checkpoint's own facts and its referee
  scores in the Hub's ``model-index`` format. With no checkpoint repository they go into the Space, under
  ``checkpoints/``.
- **Never uploaded:** training state, caches, artifacts, datasets; and no file over 10 MB (the Hub refuses those
  outside LFS/Xet), which the plan refuses before anything is sent.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .checkpoints import PROJECT_ROOT, checkpoint_root
from .data import DATASETS
from .registry import SPECS

MAX_FILE_BYTES = 10 * 1024 * 1024
#: the code a Space runs (relative to the project root; folders are taken whole, Python files only)
CODE = ("app.py", "requirements.txt", "genzoo", "models", "assets", "docs/screenshot.png")
#: what a checkpoint folder ships; everything else in it (training state, temporary files) stays home
MODEL_FILES = ("config.json", "model.safetensors", "history.json", "referee.json", "samples/*.png")
DATASET_FILES = ("metrics.json", "metrics.md", "data_subset.npz")
#: the Hub's dataset ids, for the cards' metadata
HUB_DATASETS = {"mnist": "ylecun/mnist", "fashion": "zalando-datasets/fashion_mnist"}


@dataclass
class Planned:
    """One file to upload: where it goes, and its bytes (read from ``source`` or written here)."""
    repo: str
    path: str
    source: Optional[Path] = None
    content: Optional[bytes] = None

    @property
    def size(self) -> int:
        return len(self.content) if self.content is not None else self.source.stat().st_size


class PublishError(ValueError):
    pass


# -- the plan ---------------------------------------------------------------------------------
def front_matter(text: str) -> tuple[str, str]:
    """A README's YAML front matter (between the first two ``---`` lines) and the rest."""
    m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    return (m.group(1), text[m.end():]) if m else ("", text)


def space_readme(root: Path, space: str, checkpoints_repo: Optional[str]) -> bytes:
    meta, body = front_matter((root / "README.md").read_text())
    meta = re.sub(r"^thumbnail:.*\n?", "", meta, flags=re.M).rstrip("\n") + \
        f"\nthumbnail: https://huggingface.co/spaces/{space}/resolve/main/docs/screenshot.png"
    if checkpoints_repo:
        meta = re.sub(r"^models:.*(\n  - .*)*\n?", "", meta, flags=re.M).rstrip("\n") + \
            f"\nmodels:\n  - {checkpoints_repo}"
    return f"---\n{meta}\n---\n{body}".encode()


def referee_metrics(folder: Path) -> list[dict]:
    """The referee's scores of a checkpoint as ``model-index`` metrics."""
    path = folder / "referee.json"
    if not path.exists():
        return []
    r = json.loads(path.read_text())
    out = []
    for key, what in (("unconditional", "any class"), ("labels_cycling", "labels cycling")):
        s = r.get(key)
        if not s:
            continue
        out.append({"type": "fid", "name": f"FID, {what} (referee features, 10,000 pictures)",
                    "value": round(s["fid"], 3)})
        for m in ("precision", "recall"):
            out.append({"type": m, "name": f"{m}, {what}", "value": round(s[m], 4)})
        if "cond_acc" in s:
            out.append({"type": "accuracy", "name": "class accuracy, labels cycling", "value": round(s["cond_acc"], 4)})
    return out


def model_card(folder: Path, dataset: str, name: str, repo: str) -> bytes:
    """The checkpoint's own card (written at training time from its facts) under Hub metadata: licence, tags, the
    dataset, and its referee scores as ``model-index``."""
    spec = SPECS[name]
    info = DATASETS[dataset]
    metrics = referee_metrics(folder)
    lines = ["---", "license: mit", "library_name: pytorch", "pipeline_tag: unconditional-image-generation"
             if spec.generative else "pipeline_tag: image-classification",
             "tags:", "  - genzoo", f"  - {dataset}", f"  - {folder.name}", "  - safetensors",
             "datasets:", f"  - {HUB_DATASETS[dataset]}"]
    if metrics:
        lines += ["model-index:", f"  - name: genzoo-{dataset}-{name}", "    results:",
                  "      - task:", "          type: unconditional-image-generation", "        dataset:",
                  f"          type: {HUB_DATASETS[dataset]}", f"          name: {info.title}", "          split: test",
                  "        metrics:"]
        for m in metrics:
            lines += [f"          - type: {m['type']}", f"            name: {m['name']}",
                      f"            value: {m['value']}"]
    card = (folder / "README.md").read_text() if (folder / "README.md").exists() else f"# {spec.title}\n"
    lines += ["---", "", card, "", f"Load it with GenZoo: `genzoo.load_model('{dataset}', '{name}')`, or set "
              f"`GENZOO_HUB_REPO={repo}` and start `python app.py`.", ""]
    return "\n".join(lines).encode()


def plan(space: str, checkpoints_repo: Optional[str] = None, root: Path = PROJECT_ROOT,
         checkpoints: Optional[Path] = None) -> list[Planned]:
    """Every file ``publish`` would upload, to which repository and path."""
    root = Path(root)
    checkpoints = Path(checkpoints or checkpoint_root())
    files = [Planned(space, "README.md", content=space_readme(root, space, checkpoints_repo))]
    for item in CODE:
        p = root / item
        if p.is_file():
            files.append(Planned(space, item, p))
        elif p.is_dir():
            files += [Planned(space, f.relative_to(root).as_posix(), f) for f in sorted(p.rglob("*"))
                      if f.is_file() and "__pycache__" not in f.parts and f.suffix not in (".pyc", ".tmp")]
    repo, prefix = (checkpoints_repo, "") if checkpoints_repo else (space, "checkpoints/")
    for ds in DATASETS:
        if not (checkpoints / ds).is_dir():
            continue
        files += [Planned(repo, f"{prefix}{ds}/{n}", checkpoints / ds / n) for n in DATASET_FILES
                  if (checkpoints / ds / n).is_file()]
        for name in SPECS:
            folder = checkpoints / ds / name
            if not (folder / "model.safetensors").is_file():
                continue
            for pattern in MODEL_FILES:
                files += [Planned(repo, f"{prefix}{ds}/{name}/{f.relative_to(folder).as_posix()}", f)
                          for f in sorted(folder.glob(pattern)) if f.is_file()]
            files.append(Planned(repo, f"{prefix}{ds}/{name}/README.md",
                                 content=model_card(folder, ds, name, checkpoints_repo or space)))
    return files


def oversize(files: list[Planned]) -> list[Planned]:
    return [f for f in files if f.size > MAX_FILE_BYTES]


def describe(files: list[Planned]) -> str:
    """Every file with its size, then a summary for each repository."""
    def mb(n):
        return f"{n / 1e6:8.2f} MB"
    lines = []
    for repo in dict.fromkeys(f.repo for f in files):
        mine = [f for f in files if f.repo == repo]
        lines += [f"{repo}:"] + [f"  {mb(f.size)}  {f.path}{'  (over 10 MB)' if f.size > MAX_FILE_BYTES else ''}"
                                 for f in mine]
        big = max(mine, key=lambda f: f.size)
        lines.append(f"  = {len(mine)} files, {sum(f.size for f in mine) / 1e6:.1f} MB in all, largest {big.path} "
                     f"({big.size / 1e6:.2f} MB)")
    return "\n".join(lines)


# -- the upload -------------------------------------------------------------------------------
def token() -> Optional[str]:
    """The standard ``HF_TOKEN``, else the token saved by ``hf auth login``."""
    from huggingface_hub import get_token
    return get_token()


def stage(files: list[Planned], repo: str, folder: Path) -> Path:
    """Write one repository's files under ``folder`` in their final layout."""
    for f in files:
        if f.repo != repo:
            continue
        out = folder / f.path
        out.parent.mkdir(parents=True, exist_ok=True)
        if f.content is not None:
            out.write_bytes(f.content)
        else:
            shutil.copyfile(f.source, out)
    return folder


def publish(space: str, checkpoints_repo: Optional[str] = None, dry_run: bool = False,
            root: Path = PROJECT_ROOT, checkpoints: Optional[Path] = None, echo=print) -> int:
    files = plan(space, checkpoints_repo, root, checkpoints)
    if dry_run:
        echo(describe(files))
    too_big = oversize(files)
    if too_big:
        raise PublishError("refusing to publish files over 10 MB (the Hub refuses them outside LFS/Xet): "
                           + ", ".join(f"{f.path} ({f.size / 1e6:.1f} MB)" for f in too_big))
    if dry_run:
        echo("dry run: nothing was uploaded")
        return 0
    tok = token()
    if not tok:
        raise PublishError("no Hugging Face token: set HF_TOKEN or run `hf auth login`; nothing was uploaded")
    from huggingface_hub import HfApi

    api = HfApi(token=tok)
    with tempfile.TemporaryDirectory() as tmp:
        if checkpoints_repo:
            api.create_repo(checkpoints_repo, repo_type="model", exist_ok=True)
            api.upload_folder(repo_id=checkpoints_repo, repo_type="model",
                              folder_path=stage(files, checkpoints_repo, Path(tmp) / "checkpoints"),
                              commit_message="GenZoo checkpoints")
            echo(f"uploaded the checkpoints to https://huggingface.co/{checkpoints_repo}")
        api.create_repo(space, repo_type="space", space_sdk="gradio", exist_ok=True)
        api.upload_folder(repo_id=space, repo_type="space", folder_path=stage(files, space, Path(tmp) / "space"),
                          commit_message="GenZoo app")
        if checkpoints_repo:
            api.add_space_variable(space, "GENZOO_HUB_REPO", checkpoints_repo)
    echo(f"uploaded the app to https://huggingface.co/spaces/{space}")
    return 0

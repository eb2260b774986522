"""``python -m genzoo publish``: put GenZoo on Hugging Face Spaces with ``huggingface_hub`` (no git history is sent;
the Hub's API stores large files itself).

- **The Space** runs on ZeroGPU, the hardware a free account can host a Gradio Space on: ``publish`` asks for it
  before anything is uploaded, and stops with a plain sentence when the account cannot have it. It gets the code,
  ``requirements.txt``, the ``docs/`` its card links to, and the README's front matter (the datasets, and ``models:``
  naming the checkpoint repository when there is one).
- **The checkpoints** go to a model repository, one folder a model (``<dataset>/<model>/``, the layout the app reads
  when ``GENZOO_HUB_REPO`` names it), each with a model card written from the checkpoint's own facts and its referee
  scores in the Hub's ``model-index`` format, beside each dataset's measurements, data subset and quiz pictures, under
  a root card for the whole repository. With no checkpoint repository they go into the Space, under ``checkpoints/``.
- **What the plan no longer holds is deleted** from each repository in the same commit; the dry run lists it.
- **Never uploaded:** training state, caches, artifacts, datasets; and no file over 10 MB (the Hub refuses those
  outside LFS/Xet), which the plan refuses before anything is sent.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .checkpoints import PROJECT_ROOT, checkpoint_root
from .data import DATASETS
from .registry import SPECS

MAX_FILE_BYTES = 10 * 1024 * 1024
#: what a Space serves (relative to the project root; folders are taken whole): the code, and the docs its card
#: links to
CODE = ("app.py", "requirements.txt", "genzoo", "models", "assets", "docs")
#: what a checkpoint folder ships; everything else in it (training state, temporary files) stays home
MODEL_FILES = ("config.json", "model.safetensors", "history.json", "referee.json", "samples/*.png")
DATASET_FILES = ("metrics.json", "metrics.md", "data_subset.npz", "quiz_pool.npz")
#: the Space's hardware: ZeroGPU, a GPU lent per request (``genzoo.hosting``)
HARDWARE = "zero-a10g"
#: files the Hub keeps in every repository itself; never deleted as "not in the plan"
HUB_OWN = (".gitattributes",)
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
    meta = re.sub(r"^datasets:.*(\n  - .*)*\n?", "", meta, flags=re.M).rstrip("\n") + \
        "\ndatasets:" + "".join(f"\n  - {d}" for d in HUB_DATASETS.values())
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


def model_index(name: str, results: list[tuple[str, list[dict]]]) -> list[str]:
    """``model-index`` YAML lines: one result per (dataset, metrics)."""
    lines = ["model-index:", f"  - name: {name}", "    results:"]
    for dataset, metrics in results:
        lines += ["      - task:", "          type: unconditional-image-generation", "        dataset:",
                  f"          type: {HUB_DATASETS[dataset]}", f"          name: {DATASETS[dataset].title}",
                  "          split: test", "        metrics:"]
        for m in metrics:
            lines += [f"          - type: {m['type']}", f"            name: {m['name']}",
                      f"            value: {m['value']}"]
    return lines


def root_card(checkpoints: Path, repo: str, space: str) -> bytes:
    """The checkpoint repository's own card: licence, datasets, library, and every model's headline referee FID."""
    results, rows = [], []
    for ds in DATASETS:
        for name, spec in SPECS.items():
            fid = [m for m in referee_metrics(checkpoints / ds / name) if m["type"] == "fid"]
            if fid:
                best = min(fid, key=lambda m: m["value"])
                results.append((ds, [{**best, "name": f"{spec.title}: {best['name']}"}]))
                rows.append(f"| {DATASETS[ds].title} | [{spec.title}]({ds}/{name}) | {best['value']} |")
    lines = ["---", "license: mit", "library_name: pytorch", "tags:", "  - genzoo", "  - safetensors", "datasets:"]
    lines += [f"  - {d}" for d in HUB_DATASETS.values()]
    lines += model_index("genzoo", results) if results else []
    lines += ["---", "", "# GenZoo checkpoints", "",
              f"Every model the [GenZoo Space](https://huggingface.co/spaces/{space}) compares, trained by GenZoo's "
              "own training CLI on MNIST and Fashion-MNIST: one folder a model (`<dataset>/<model>/`), each with "
              "`model.safetensors`, its `config.json`, its training history and a card of its own. The app loads "
              f"them when `GENZOO_HUB_REPO={repo}`.", "",
              "FID from an independent referee (10,000 pictures, lower is closer to real pictures):", "",
              "| dataset | model | FID |", "|---|---|---|", *rows, ""]
    return "\n".join(lines).encode()


def model_card(folder: Path, dataset: str, name: str, repo: str) -> bytes:
    """The checkpoint's own card (written at training time from its facts) under Hub metadata: licence, tags, the
    dataset, and its referee scores as ``model-index``."""
    spec = SPECS[name]
    metrics = referee_metrics(folder)
    lines = ["---", "license: mit", "library_name: pytorch", "pipeline_tag: unconditional-image-generation"
             if spec.generative else "pipeline_tag: image-classification",
             "tags:", "  - genzoo", f"  - {dataset}", f"  - {folder.name}", "  - safetensors",
             "datasets:", f"  - {HUB_DATASETS[dataset]}"]
    if metrics:
        lines += model_index(f"genzoo-{dataset}-{name}", [(dataset, metrics)])
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
    if checkpoints_repo:
        files.append(Planned(repo, "README.md", content=root_card(checkpoints, checkpoints_repo, space)))
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


def repo_type(repo: str, space: str) -> str:
    return "space" if repo == space else "model"


def stale(files: list[Planned], space: str, api) -> dict[str, list[str]]:
    """For each repository of the plan, the files it holds now that the plan no longer has (to delete). A repository
    that does not exist yet holds none; one that cannot be read raises ``PublishError``."""
    from huggingface_hub.errors import RepositoryNotFoundError

    out = {}
    for repo in dict.fromkeys(f.repo for f in files):
        try:
            held = api.list_repo_files(repo, repo_type=repo_type(repo, space))
        except RepositoryNotFoundError:
            held = []
        except Exception as exc:                  # noqa: BLE001 - offline, refused: said in one sentence
            raise PublishError(f"could not read what {repo} holds now ({type(exc).__name__}: {exc})") from None
        planned = {f.path for f in files if f.repo == repo}
        out[repo] = sorted(p for p in held if p not in planned and p not in HUB_OWN)
    return out


def ask_for_zerogpu(api, space: str) -> None:
    """Create the Space on ZeroGPU hardware, or move an existing one there; a plain error when the account cannot."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        api.create_repo(space, repo_type="space", space_sdk="gradio", space_hardware=HARDWARE, exist_ok=True)
        api.request_space_hardware(space, HARDWARE)
    except HfHubHTTPError as exc:
        raise PublishError(f"the Hub would not give {space} ZeroGPU hardware ({HARDWARE}): {exc}. ZeroGPU Spaces "
                           "need an account allowed to host them (see huggingface.co/docs/hub/spaces-zerogpu); "
                           "nothing was uploaded") from None


def upload(api, repo: str, kind: str, files: list[Planned], delete: list[str], message: str) -> None:
    """One commit: every planned file of ``repo`` added, every stale one deleted."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    ops = [CommitOperationAdd(f.path, f.content if f.content is not None else str(f.source))
           for f in files if f.repo == repo]
    ops += [CommitOperationDelete(p) for p in delete]
    api.create_commit(repo, operations=ops, commit_message=message, repo_type=kind)


def publish(space: str, checkpoints_repo: Optional[str] = None, dry_run: bool = False,
            root: Path = PROJECT_ROOT, checkpoints: Optional[Path] = None, echo=print) -> int:
    from huggingface_hub import HfApi

    files = plan(space, checkpoints_repo, root, checkpoints)
    if dry_run:
        echo(describe(files))
        echo(f"hardware: the Space {space} would run on ZeroGPU ({HARDWARE})")
    too_big = oversize(files)
    if too_big:
        raise PublishError("refusing to publish files over 10 MB (the Hub refuses them outside LFS/Xet): "
                           + ", ".join(f"{f.path} ({f.size / 1e6:.1f} MB)" for f in too_big))
    if dry_run:
        try:
            for repo, paths in stale(files, space, HfApi(token=token() or False)).items():
                echo(f"{repo}: would delete {len(paths)} file(s) no longer in the plan"
                     + "".join(f"\n  {p}" for p in paths))
        except PublishError as exc:
            echo(f"what would be deleted is unknown: {exc}")
        echo("dry run: nothing was uploaded")
        return 0
    tok = token()
    if not tok:
        raise PublishError("no Hugging Face token: set HF_TOKEN or run `hf auth login`; nothing was uploaded")
    api = HfApi(token=tok)
    ask_for_zerogpu(api, space)
    if checkpoints_repo:
        api.create_repo(checkpoints_repo, repo_type="model", exist_ok=True)
    delete = stale(files, space, api)
    if checkpoints_repo:
        upload(api, checkpoints_repo, "model", files, delete[checkpoints_repo], "GenZoo checkpoints")
        echo(f"uploaded the checkpoints to https://huggingface.co/{checkpoints_repo}"
             f" (deleted {len(delete[checkpoints_repo])} file(s) no longer in the plan)")
    upload(api, space, "space", files, delete[space], "GenZoo app")
    if checkpoints_repo:
        api.add_space_variable(space, "GENZOO_HUB_REPO", checkpoints_repo)
    echo(f"uploaded the app to https://huggingface.co/spaces/{space} on ZeroGPU"
         f" (deleted {len(delete[space])} file(s) no longer in the plan)")
    return 0

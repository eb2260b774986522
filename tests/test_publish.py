"""Hosting: the publish plan (what goes where, what never goes), its refusals, ZeroGPU hardware, what it deletes,
and the Hub layout the app loads."""
import json
import re
from pathlib import Path

import pytest
import torch

from genzoo import publish
from genzoo.checkpoints import PROJECT_ROOT, save_model, write_json
from genzoo.cli import main
from genzoo.registry import SPECS


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> Path:
    """Two tiny checkpoints with the files training leaves, training state and a temporary file included."""
    root = tmp_path_factory.mktemp("ckpt")
    for name in ("vae", "gan"):
        torch.manual_seed(0)
        folder = root / "mnist" / name
        save_model(SPECS[name].build(tiny=True), folder)
        write_json(folder / "history.json", {"epochs": [{"epoch": 1, "loss": 1.0, "time_s": 1.0}]})
        (folder / "README.md").write_text(f"# {name}\n")
        (folder / "samples").mkdir()
        (folder / "samples" / "epoch_001.png").write_bytes(b"png")
        (folder / "training_state.safetensors").write_bytes(b"x" * 100)
        (folder / "training_state.json").write_text("{}")
        (folder / "config.json.tmp").write_text("{}")
    write_json(root / "mnist" / "vae" / "referee.json",
               {"unconditional": {"n": 10000, "fid": 12.5, "floor_fid": 1.2, "precision": 0.8, "recall": 0.7}})
    write_json(root / "mnist" / "metrics.json", {"models": {}})
    (root / "mnist" / "quiz_pool.npz").write_bytes(b"npz")
    return root


def stage(files: list, repo: str, folder: Path) -> Path:
    """One repository's planned files written under ``folder``, as the Hub would hold them."""
    for f in files:
        if f.repo == repo:
            out = folder / f.path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(f.content if f.content is not None else f.source.read_bytes())
    return folder


class FakeHub:
    """``huggingface_hub.HfApi`` as publish uses it, holding ``held`` files per repository and recording calls."""
    held: dict = {}
    calls: list = []
    refuse_hardware = False

    def __init__(self, token=None):
        pass

    def list_repo_files(self, repo, repo_type=None):
        return list(self.held.get(repo, []))

    def create_repo(self, repo, **kwargs):
        self.calls.append(("create_repo", repo, kwargs))

    def request_space_hardware(self, repo, hardware):
        if self.refuse_hardware:
            import httpx
            from huggingface_hub.errors import HfHubHTTPError
            response = httpx.Response(402, request=httpx.Request("POST", "https://huggingface.co/api/spaces"))
            raise HfHubHTTPError("402 Payment Required: ZeroGPU is not available for this account", response=response)
        self.calls.append(("hardware", repo, hardware))

    def create_commit(self, repo, operations, commit_message, repo_type):
        self.calls.append(("commit", repo, operations))

    def add_space_variable(self, repo, key, value):
        self.calls.append(("variable", repo, key, value))


def test_plan_sends_code_and_checkpoints_but_never_training_state(checkpoints):
    files = publish.plan("me/genzoo", "me/genzoo-checkpoints", checkpoints=checkpoints)
    space = {f.path for f in files if f.repo == "me/genzoo"}
    ckpt = {f.path for f in files if f.repo == "me/genzoo-checkpoints"}
    assert {"README.md", "app.py", "requirements.txt", "genzoo/app/__init__.py", "models/diffusion.py"} <= space
    assert not any(p.startswith(("checkpoints/", "tests/", "artifacts/", ".venv")) for p in space)
    # the docs the Space card links to go with it
    linked = set(re.findall(r"\]\((docs/[^)#]+)", (PROJECT_ROOT / "README.md").read_text()))
    assert linked and linked <= space
    assert {"mnist/quiz_pool.npz", "README.md"} <= ckpt
    assert {"mnist/vae/model.safetensors", "mnist/vae/config.json", "mnist/vae/README.md",
            "mnist/vae/samples/epoch_001.png", "mnist/metrics.json", "mnist/gan/history.json"} <= ckpt
    assert not any("training_state" in p or p.endswith(".tmp") for p in space | ckpt)
    # with no checkpoint repository, the same files go into the Space under checkpoints/
    alone = {f.path for f in publish.plan("me/genzoo", checkpoints=checkpoints)}
    assert {f"checkpoints/{p}" for p in ckpt if p != "README.md"} <= alone      # the root card is the repository's


def test_space_front_matter_links_the_checkpoints_and_suits_zerogpu(checkpoints):
    readme = next(f for f in publish.plan("me/genzoo", "me/ckpt", checkpoints=checkpoints) if f.path == "README.md")
    meta, _ = publish.front_matter(readme.content.decode())
    assert re.search(r"^models:\n  - me/ckpt$", meta, re.M)
    assert re.search(r'^python_version: "3\.(10\.13|12\.12)"$', meta, re.M)      # the versions ZeroGPU runs
    assert re.search(r"^suggested_hardware: zero-a10g$", meta, re.M)
    assert re.search(r"^datasets:\n  - ylecun/mnist\n  - zalando-datasets/fashion_mnist$", meta, re.M)
    requirements = (PROJECT_ROOT / "requirements.txt").read_text()
    assert re.search(r"^spaces\b", requirements, re.M) and re.search(r"^gradio\[mcp\]", requirements, re.M)


def test_model_cards_carry_hub_metadata_and_referee_scores(checkpoints):
    files = publish.plan("me/genzoo", "me/ckpt", checkpoints=checkpoints)
    card = next(f for f in files if f.path == "mnist/vae/README.md").content.decode()
    meta, body = publish.front_matter(card)
    assert "license: mit" in meta and "ylecun/mnist" in meta and "model-index:" in meta
    assert "type: fid" in meta and "value: 12.5" in meta
    assert body.lstrip().startswith("# vae")                       # the checkpoint's own card, as trained
    gan = publish.front_matter(next(f for f in files if f.path == "mnist/gan/README.md").content.decode())[0]
    assert "model-index" not in gan                                # no scores, no invented ones


def test_the_checkpoint_repository_has_a_root_card_with_the_headline_scores(checkpoints):
    files = publish.plan("me/genzoo", "me/ckpt", checkpoints=checkpoints)
    card = next(f for f in files if f.repo == "me/ckpt" and f.path == "README.md").content.decode()
    meta, body = publish.front_matter(card)
    assert "license: mit" in meta and "library_name: pytorch" in meta and "zalando-datasets/fashion_mnist" in meta
    assert "model-index:" in meta and "value: 12.5" in meta and "VAE" in meta
    assert "| MNIST digits | [" in body and "GENZOO_HUB_REPO=me/ckpt" in body


def test_dry_run_lists_every_file_the_hardware_and_what_it_would_delete(checkpoints, capsys, monkeypatch):
    monkeypatch.setattr(FakeHub, "held", {"me/genzoo": ["app.py", "old_tab.py", ".gitattributes"],
                                          "me/ckpt": ["mnist/vae/model.safetensors", "mnist/old-model/config.json"]})
    monkeypatch.setattr("huggingface_hub.HfApi", FakeHub)
    assert main(["publish", "--space", "me/genzoo", "--checkpoints-repo", "me/ckpt", "--checkpoints",
                 str(checkpoints), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\s+\d+\.\d\d MB  mnist/vae/model\.safetensors$", out, re.M)
    assert re.search(r"= \d+ files, [\d.]+ MB in all, largest ", out)
    assert "the Space me/genzoo would run on ZeroGPU (zero-a10g)" in out
    assert re.search(r"^me/genzoo: would delete 1 file\(s\) no longer in the plan\n  old_tab\.py$", out, re.M)
    assert re.search(r"^me/ckpt: would delete 1 file\(s\).*\n  mnist/old-model/config\.json$", out, re.M)
    assert re.search(r"^\s+[\d.]+ MB  mnist/quiz_pool\.npz$", out, re.M) and "docs/training.md" in out
    assert "nothing was uploaded" in out


def test_publish_asks_for_zerogpu_and_deletes_what_the_plan_no_longer_has(checkpoints, capsys, monkeypatch):
    monkeypatch.setattr(FakeHub, "held", {"me/genzoo": ["app.py", "old_tab.py", ".gitattributes"]})
    monkeypatch.setattr(FakeHub, "calls", [])
    monkeypatch.setattr("huggingface_hub.HfApi", FakeHub)
    monkeypatch.setattr(publish, "token", lambda: "hf_test")
    assert main(["publish", "--space", "me/genzoo", "--checkpoints-repo", "me/ckpt", "--checkpoints",
                 str(checkpoints)]) == 0
    calls = FakeHub.calls
    assert ("hardware", "me/genzoo", "zero-a10g") in calls
    first_commit = next(i for i, c in enumerate(calls) if c[0] == "commit")
    assert calls.index(("hardware", "me/genzoo", "zero-a10g")) < first_commit      # before anything is uploaded
    space_ops = next(c[2] for c in calls if c[0] == "commit" and c[1] == "me/genzoo")
    deleted = [op.path_in_repo for op in space_ops if type(op).__name__ == "CommitOperationDelete"]
    assert deleted == ["old_tab.py"]
    assert ("variable", "me/genzoo", "GENZOO_HUB_REPO", "me/ckpt") in calls
    assert "on ZeroGPU" in capsys.readouterr().out


def test_an_account_without_zerogpu_is_told_so_and_nothing_is_uploaded(checkpoints, capsys, monkeypatch):
    monkeypatch.setattr(FakeHub, "calls", [])
    monkeypatch.setattr(FakeHub, "refuse_hardware", True)
    monkeypatch.setattr("huggingface_hub.HfApi", FakeHub)
    monkeypatch.setattr(publish, "token", lambda: "hf_test")
    assert main(["publish", "--space", "me/genzoo", "--checkpoints", str(checkpoints)]) == 2
    err = capsys.readouterr().err
    assert "would not give me/genzoo ZeroGPU hardware" in err and "nothing was uploaded" in err
    assert not [c for c in FakeHub.calls if c[0] == "commit"]


def test_files_over_10_mb_are_refused(checkpoints, tmp_path, capsys):
    import shutil
    big = tmp_path / "ckpt"
    shutil.copytree(checkpoints, big)
    with open(big / "mnist" / "gan" / "model.safetensors", "ab") as f:
        f.write(b"\0" * (publish.MAX_FILE_BYTES + 1))
    assert main(["publish", "--space", "me/genzoo", "--checkpoints", str(big), "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert "(over 10 MB)" in captured.out
    assert "refusing to publish files over 10 MB" in captured.err and "mnist/gan/model.safetensors" in captured.err


def test_no_token_says_so_in_one_line_and_uploads_nothing(checkpoints, monkeypatch, capsys):
    monkeypatch.setattr(publish, "token", lambda: None)

    class Boom:
        def __init__(self, *a, **k):
            raise AssertionError("nothing may be uploaded without a token")
    monkeypatch.setattr("huggingface_hub.HfApi", Boom)
    assert main(["publish", "--space", "me/genzoo", "--checkpoints", str(checkpoints)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "HF_TOKEN" in err and "nothing was uploaded" in err


def test_the_app_loads_the_published_layout_from_the_hub(checkpoints, tmp_path, monkeypatch):
    """A folder laid out as the plan says, served as the Hub's snapshot, is what the app loads with GENZOO_HUB_REPO."""
    import huggingface_hub

    from genzoo.zoo import Zoo

    files = publish.plan("me/genzoo", "me/ckpt", checkpoints=checkpoints)
    hub = stage(files, "me/ckpt", tmp_path / "hub")
    asked = {}

    def snapshot_download(repo_id, allow_patterns=None, ignore_patterns=None, **_):
        asked.update(repo=repo_id, patterns=allow_patterns)
        return str(hub)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setenv("GENZOO_HUB_REPO", "me/ckpt")
    zoo = Zoo(root=tmp_path / "empty", datasets=("mnist",), names=["vae", "gan"])
    assert asked["repo"] == "me/ckpt" and zoo.root == hub
    assert zoo.ready("mnist") == ["vae", "gan"]
    assert zoo.entry("mnist", "vae").folder == hub / "mnist" / "vae"
    assert json.loads((zoo.root / "mnist" / "metrics.json").read_text()) == {"models": {}}


def test_the_repository_makes_no_lfs_claim_it_does_not_keep():
    """The binaries are plain git objects (the Hub's API stores large files itself when ``publish`` sends them), so
    no attribute may send them through an LFS filter: a clone with git-lfs would report each as wrong."""
    text = (PROJECT_ROOT / ".gitattributes").read_text()
    assert "filter=lfs" not in text
    for ext in ("safetensors", "png", "gif", "npz"):
        assert re.search(rf"^\*\.{ext} binary$", text, re.M), ext

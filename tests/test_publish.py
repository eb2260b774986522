"""Hosting: the publish plan (what goes where, what never goes), its refusals, the Hub layout the app loads, and
ZeroGPU's decorator doing nothing off ZeroGPU."""
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
    return root


def test_plan_sends_code_and_checkpoints_but_never_training_state(checkpoints):
    files = publish.plan("me/genzoo", "me/genzoo-checkpoints", checkpoints=checkpoints)
    space = {f.path for f in files if f.repo == "me/genzoo"}
    ckpt = {f.path for f in files if f.repo == "me/genzoo-checkpoints"}
    assert {"README.md", "app.py", "requirements.txt", "genzoo/app/__init__.py", "models/diffusion.py"} <= space
    assert not any(p.startswith(("checkpoints/", "tests/", "artifacts/", ".venv")) for p in space)
    assert [p for p in space if p.startswith("docs/")] == ["docs/screenshot.png"]     # the thumbnail
    assert {"mnist/vae/model.safetensors", "mnist/vae/config.json", "mnist/vae/README.md",
            "mnist/vae/samples/epoch_001.png", "mnist/metrics.json", "mnist/gan/history.json"} <= ckpt
    assert not any("training_state" in p or p.endswith(".tmp") for p in space | ckpt)
    # with no checkpoint repository, the same files go into the Space under checkpoints/
    alone = {f.path for f in publish.plan("me/genzoo", checkpoints=checkpoints)}
    assert {f"checkpoints/{p}" for p in ckpt} <= alone


def test_space_front_matter_links_the_checkpoints_and_suits_zerogpu(checkpoints):
    readme = next(f for f in publish.plan("me/genzoo", "me/ckpt", checkpoints=checkpoints) if f.path == "README.md")
    meta, _ = publish.front_matter(readme.content.decode())
    assert re.search(r"^models:\n  - me/ckpt$", meta, re.M)
    assert re.search(r'^python_version: "3\.(10\.13|12\.12)"$', meta, re.M)      # the versions ZeroGPU runs
    assert re.search(r"^suggested_hardware: zero-a10g$", meta, re.M)
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


def test_dry_run_lists_every_file_with_its_size(checkpoints, capsys):
    assert main(["publish", "--space", "me/genzoo", "--checkpoints-repo", "me/ckpt", "--checkpoints",
                 str(checkpoints), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\s+\d+\.\d\d MB  mnist/vae/model\.safetensors$", out, re.M)
    assert re.search(r"= \d+ files, [\d.]+ MB in all, largest ", out)
    assert "nothing was uploaded" in out


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
    hub = publish.stage(files, "me/ckpt", tmp_path / "hub")
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


def test_zerogpu_decorator_does_nothing_off_zerogpu():
    from genzoo.hosting import DEVICE, gpu_seconds, on_gpu, MAX_GPU_SECONDS

    def draw(n):
        return n * 2
    assert on_gpu(lambda n: 10)(draw) is draw and draw(3) == 6
    assert DEVICE.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert gpu_seconds(0) == 5 and gpu_seconds(16 * 100) < gpu_seconds(64 * 100) <= MAX_GPU_SECONDS
    assert gpu_seconds(10 ** 9) == MAX_GPU_SECONDS


def test_gitattributes_keeps_binaries_in_lfs():
    text = (PROJECT_ROOT / ".gitattributes").read_text()
    for ext in ("safetensors", "png", "gif", "npz"):
        assert re.search(rf"^\*\.{ext} filter=lfs diff=lfs merge=lfs -text$", text, re.M), ext

"""Save -> load round trips and clear errors for broken checkpoints."""
import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from genzoo.checkpoints import CheckpointError, load_folder, load_model, save_model
from genzoo.model_card import matches_spec
from genzoo.registry import GENERATIVE, SPECS
from models import Autoencoder
from tests.conftest import ROOT


@pytest.mark.parametrize("name", list(SPECS))
def test_save_load_gives_identical_outputs(name, tmp_path, batch):
    spec = SPECS[name]
    torch.manual_seed(0)
    model = spec.build().eval()
    folder = tmp_path / "mnist" / name
    save_model(model, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_model("mnist", name, root=tmp_path)
    assert type(loaded) is type(model) and not loaded.training
    assert matches_spec(json.loads((folder / "config.json").read_text()), spec)
    if name in GENERATIVE:
        opts = {"steps": 3} if model.family in ("diffusion", "latent-diffusion") else {}
        a = model.sample(3, generator=torch.Generator().manual_seed(1), **opts)
        b = loaded.sample(3, generator=torch.Generator().manual_seed(1), **opts)
    else:
        a, b = model(batch[0]), loaded(batch[0])
    assert torch.equal(a, b)


def _saved(tmp_path, name="vae"):
    model = SPECS[name].build()
    folder = tmp_path / "mnist" / name
    save_model(model, folder)
    return model, folder


def test_missing_key_is_named(tmp_path):
    _, folder = _saved(tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    del state["decoder.fc.0.weight"]
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"missing keys \['decoder.fc.0.weight'\]"):
        load_model("mnist", "vae", root=tmp_path)


def test_extra_key_is_named(tmp_path):
    _, folder = _saved(tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    state["surprise"] = torch.zeros(3)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"unexpected keys \['surprise'\]"):
        load_model("mnist", "vae", root=tmp_path)


def test_truncated_file_fails_clearly(tmp_path):
    _, folder = _saved(tmp_path)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_model("mnist", "vae", root=tmp_path)


def test_config_that_does_not_match_the_weights(tmp_path):
    _, folder = _saved(tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["latent_dim"] = 3
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="does not match its config.json"):
        load_model("mnist", "vae", root=tmp_path)
    cfg["no_such_argument"] = 1
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="does not fit VAE"):
        load_model("mnist", "vae", root=tmp_path)


def test_missing_checkpoint_names_what_is_missing(tmp_path):
    with pytest.raises(
        CheckpointError, match=r"no checkpoint for fashion/gan: .*lacks config.json and model.safetensors"
    ):
        load_model("fashion", "gan", root=tmp_path)


def test_pickled_weights_are_never_loaded(tmp_path):
    """A pickle with a payload in place of the safetensors file is refused without running it."""
    import pickle

    _, folder = _saved(tmp_path)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (folder / "model.safetensors").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError):
        load_folder(SPECS["vae"].cls, folder)
    assert not marker.exists()


def test_unreachable_hub_falls_back_to_local(tmp_path, monkeypatch, caplog):
    model, _ = _saved(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with caplog.at_level("WARNING"):
        loaded = load_model("mnist", "vae", root=tmp_path, repo_id="genzoo/does-not-exist")
    assert type(loaded).__name__ == "VAE"
    assert "unreachable" in caplog.text


def test_half_precision_checkpoint_loads_into_float32(tmp_path):
    """Shipped checkpoints store float16 weights; they load into the float32 model, strictly."""
    torch.manual_seed(0)
    model = SPECS["vae"].build().eval()
    save_model(model, tmp_path / "full")
    save_model(model, tmp_path / "half", half=True)
    full, half = (
        (tmp_path / "full" / "model.safetensors").stat().st_size,
        (tmp_path / "half" / "model.safetensors").stat().st_size,
    )
    assert half < 0.55 * full
    loaded = load_folder(SPECS["vae"].cls, tmp_path / "half")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    a = model.sample(4, generator=torch.Generator().manual_seed(0))
    b = loaded.sample(4, generator=torch.Generator().manual_seed(0))
    assert (a - b).abs().max() < 1e-2
    assert model.training is False and next(model.parameters()).dtype == torch.float32   # the original is untouched


def test_readme_tables_are_refilled_from_the_shipped_checkpoints(tmp_path):
    import importlib.util
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("checkpoint_table", root / "scripts" / "checkpoint_table.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- checkpoints:mnist -->\nstale\n<!-- /checkpoints:mnist -->\nmiddle\n"
                      "<!-- metrics:mnist -->\nstale\n<!-- /metrics:mnist -->\nend\n")
    assert script.update_readme(readme) == ["checkpoints:mnist", "metrics:mnist"]
    text = readme.read_text()
    assert "stale" not in text and text.startswith("intro\n") and "\nmiddle\n" in text and text.endswith("end\n")
    assert script.table("mnist") in text
    assert (root / "checkpoints" / "mnist" / "metrics.md").read_text().strip() in text
    ckpt_table = script.table("mnist").splitlines()
    assert ckpt_table[0].startswith("| model | epochs |") and len(ckpt_table) == 2 + len(SPECS)
    fast = next(row for row in ckpt_table if row.startswith("| ddpm-fast |"))   # scored only by sampler setting
    scored = json.loads((root / "checkpoints" / "mnist" / "ddpm-fast" / "referee.json").read_text())["samplers"]
    assert f"| {script.fmt(scored['ddim-4']['fid'])} |" in fast                  # at the 4 steps it draws with
    script.update_readme(readme)
    assert readme.read_text() == text            # refilling again changes nothing


def test_card_of_an_older_configuration_is_kept(tmp_path):
    """A checkpoint trained before the registry changed keeps loading from its own config.json, and refreshing
    its card keeps the card written at training time instead of printing the registry's new settings."""
    from genzoo.model_card import refresh_card, write_model_card
    spec = SPECS["ae-8"]
    older = Autoencoder(latent_dim=6)
    folder = tmp_path / "mnist" / "ae-8"
    save_model(older, folder)
    assert load_model("mnist", "ae-8", root=tmp_path).latent_dim == 6
    write_model_card(folder, spec, "mnist", older, {"epochs": []})
    card = (folder / "README.md").read_text()
    assert '"latent_dim": 6' in card
    (folder / "README.md").write_text("the card from training time")
    refresh_card("mnist", "ae-8", root=tmp_path)
    assert (folder / "README.md").read_text() == "the card from training time"
    save_model(spec.build(), folder)
    refresh_card("mnist", "ae-8", root=tmp_path)
    assert '"latent_dim": 8' in (folder / "README.md").read_text()


@pytest.mark.parametrize("dataset", ["mnist", "fashion"])
def test_a_retrain_runs_as_many_epochs_as_the_shipped_checkpoints_had(dataset):
    """``train --all`` must reproduce what ships: each checkpoint trained with the registry's current settings was
    planned for the registry's epoch count on its dataset (Fashion-MNIST's cosine diffusion trained longer)."""
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent / "checkpoints" / dataset
    shipped = [n for n in SPECS if (root / n / "config.json").exists()]       # a model still in training may not be
    current = [n for n in shipped if matches_spec(json.loads((root / n / "config.json").read_text()), SPECS[n])]
    assert {"ddpm-linear", "ddpm-cosine", "classifier"} <= set(current)
    planned = {n: json.loads((root / n / "history.json").read_text())["planned_epochs"] for n in current}
    assert planned == {n: SPECS[n].epochs_for(dataset) for n in current}
    assert SPECS["ddpm-cosine"].epochs_for("fashion") == 40 and SPECS["ddpm-cosine"].epochs_for("mnist") == 20


def test_bf16_recipe_trains_in_float32_where_bf16_is_emulated(monkeypatch):
    """bf16 autocast on a CPU without native bf16 is emulated (70x slower measured): such a run uses float32."""
    from genzoo import checkpoints
    bf16 = next(s for s in SPECS.values() if s.precision == "bf16")
    fp32 = next(s for s in SPECS.values() if s.precision == "fp32")
    cpu = torch.device("cpu")
    monkeypatch.setattr(checkpoints, "native_bf16", lambda device: False)
    assert checkpoints.training_precision(bf16, cpu) == "fp32"
    monkeypatch.setattr(checkpoints, "native_bf16", lambda device: True)
    assert checkpoints.training_precision(bf16, cpu) == "bf16"
    assert checkpoints.training_precision(fp32, cpu) == "fp32"


def test_model_card_of_a_checkpoint_scored_by_sampler_setting(tmp_path):
    """A card rewritten after scripts/sampler_scores.py scored a model lists each setting in words with its FID and
    network runs, and marks the app's default (it used to stop at the referee's 'fastest' entry)."""
    import shutil

    from genzoo.model_card import refresh_card
    shutil.copytree(ROOT / "checkpoints" / "mnist" / "ddpm-cosine", tmp_path / "mnist" / "ddpm-cosine")
    record = json.loads((tmp_path / "mnist" / "ddpm-cosine" / "referee.json").read_text())
    card = refresh_card("mnist", "ddpm-cosine", root=tmp_path).read_text()
    assert "{" not in card.split("## Measured")[1]                      # no raw records
    fastest = record["fastest_within_10pct"]
    row = next(line for line in card.splitlines() if "(the app's default)" in line)
    assert f"| {record['samplers'][fastest]['fid']:.2f} |" in row and "mid-way" in row


def test_model_card_states_each_epochs_precision():
    from genzoo.model_card import precisions
    epochs = [{"epoch": 1}, {"epoch": 2, "precision": "bf16"}, {"epoch": 3, "precision": "fp32"},
              {"epoch": 4, "precision": "fp32"}]
    assert precisions(epochs, "bf16") == "bf16 (epochs 1-2), fp32 (epochs 3-4)"
    assert precisions(epochs[:2], "bf16") == "bf16"
    assert precisions([], "fp32") == "fp32"
    from genzoo.model_card import by_epochs
    assert by_epochs([{"epoch": 1, "hardware": "A"}, {"epoch": 2}], "hardware", "B") == "A (epoch 1), B (epoch 2)"


def test_the_app_default_sampler_is_the_one_the_referee_chose():
    """Wherever scripts/sampler_scores.py named the fastest setting within 10 % of DDIM 50's FID for a checkpoint,
    the app draws with it on that dataset."""
    import json

    from genzoo.registry import SPECS, sampler_settings

    checked = 0
    for path in sorted((ROOT / "checkpoints").glob("*/*/referee.json")):
        choice = json.loads(path.read_text()).get("fastest_within_10pct")
        dataset, name = path.parent.parent.name, path.parent.name
        if choice is not None and name in SPECS:
            s = sampler_settings(name, dataset)
            assert s.key(T=1000) == choice, (dataset, name, choice)      # (T names only DDPM's every step)
            checked += 1
    assert checked, "no referee.json names its fastest setting"
    print(f"{checked} default(s) checked against the referee's choice")


def test_the_fid_plot_draws_one_line_per_kind_of_sampler():
    """The Fast diffusion tab's plot: settings of one kind (DDIM, DPM-Solver++, DPM-Solver++ guided mid-way, the
    student) differ only in their steps, so each kind is its own line, in order of network runs."""
    from genzoo.app import fast_tab
    from genzoo.zoo import Zoo

    zoo = Zoo(root=ROOT / "checkpoints", datasets=("mnist",), names=["ddpm-cosine", "ddpm-fast"])
    lines = {t.name: t for t in fast_tab.fid_figure(zoo, "mnist").data}
    cosine = "Diffusion (cosine schedule): "
    assert {cosine + "DDIM", cosine + "DPM++", cosine + "DPM++, mid-way", "Fast diffusion (4 steps)"} <= set(lines)
    for name, line in lines.items():
        assert list(line.x) == sorted(line.x), name
    assert all(words.endswith(", mid-way") for words in lines[cosine + "DPM++, mid-way"].text)
    assert not any("mid-way" in words for words in lines[cosine + "DPM++"].text)


def test_each_scored_sampler_setting_was_drawn_at_the_guidance_the_app_uses():
    """The FIDs the app shows beside a model's settings (the Fast diffusion tab, the plot) were measured at the
    guidance strength the app draws that model with on that dataset: the dataset's, or the model's own where its
    measurements chose one."""
    from genzoo.registry import SPECS, sampler_settings

    checked = 0
    for path in sorted((ROOT / "checkpoints").glob("*/*/referee.json")):
        dataset, name = path.parent.parent.name, path.parent.name
        for key, record in json.loads(path.read_text()).get("samplers", {}).items():
            if name in SPECS and "guidance" in record:
                assert record["guidance"] == sampler_settings(name, dataset).guidance, (dataset, name, key)
                checked += 1
    assert checked >= 10, checked

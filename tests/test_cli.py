"""The training and sampling command lines, end to end on a tiny synthetic dataset."""
import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from genzoo.checkpoints import load_model
from genzoo.cli import main
from genzoo.registry import SPECS
from genzoo.sampling import as_numpy_uint8, sample_batched
from tests.conftest import ROOT


def run_cli(*args):
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def trained(data_root, tmp_path_factory):
    """Smoke-train a VAE, a conditional GAN and a DDPM once for the tests below."""
    out = tmp_path_factory.mktemp("ckpt")
    for model in ("vae", "cgan", "ddpm-cosine"):
        assert run_cli("train", "--dataset", "mnist", "--model", model, "--smoke", "--data-root", data_root,
                       "--out", out, "--no-progress") == 0
    return out


def test_smoke_training_writes_a_complete_checkpoint(trained):
    folder = trained / "mnist" / "vae"
    assert {"model.safetensors", "config.json", "history.json", "README.md", "samples"} <= {
        p.name for p in folder.iterdir()
    }
    history = json.loads((folder / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    assert {"loss", "recon_nll", "kl", "elbo", "test_elbo", "time_s"} <= set(history["epochs"][-1])
    assert sorted(p.name for p in (folder / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    card = (folder / "README.md").read_text()
    assert "parameters" in card and "wall time" in card and "hardware" in card
    gan_history = json.loads((trained / "mnist" / "cgan" / "history.json").read_text())
    assert {"loss_d", "loss_g", "d_real", "d_fake"} <= set(gan_history["epochs"][0])
    assert load_model("mnist", "vae", root=trained).latent_dim == 16


def test_resume_continues_from_the_saved_epoch(data_root, tmp_path, capsys, monkeypatch):
    """Interrupt a 4-epoch run after epoch 2, resume it, and get the same history as an uninterrupted run."""
    import genzoo.training as training

    args = ["train", "--dataset", "fashion", "--model", "ae-8", "--smoke", "--data-root", data_root,
            "--no-progress", "--epochs", 4]
    assert run_cli(*args, "--out", tmp_path / "straight") == 0
    straight = json.loads((tmp_path / "straight" / "fashion" / "ae-8" / "history.json").read_text())["epochs"]

    real_card = training.write_model_card

    def interrupt_after_epoch_2(folder, spec, dataset, model, history, metrics=None):
        real_card(folder, spec, dataset, model, history, metrics)
        if len(history["epochs"]) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(training, "write_model_card", interrupt_after_epoch_2)
    assert run_cli(*args, "--out", tmp_path / "cut") == 130
    assert "continue with --resume" in capsys.readouterr().err
    monkeypatch.setattr(training, "write_model_card", real_card)
    assert run_cli(*args, "--out", tmp_path / "cut", "--resume") == 0
    assert "resuming fashion/ae-8 after epoch 2" in capsys.readouterr().out
    resumed = json.loads((tmp_path / "cut" / "fashion" / "ae-8" / "history.json").read_text())["epochs"]
    assert [e["epoch"] for e in resumed] == [1, 2, 3, 4]
    def strip(epochs):
        return [{k: round(v, 4) if isinstance(v, float) else v for k, v in e.items() if k != "time_s"} for e in epochs]
    assert strip(resumed) == strip(straight)



def test_resume_without_training_state_restarts_from_the_shipped_weights(data_root, tmp_path, capsys):
    """A fresh clone has the shipped (averaged, float16) weights and history but no training state: --resume goes on
    from those weights with a fresh optimiser, eases the learning rate back in and records the restart."""
    from genzoo.training import STATE_JSON, STATE_WEIGHTS, rewarm

    args = ["train", "--dataset", "mnist", "--model", "ddpm-cosine", "--smoke", "--data-root", data_root,
            "--no-progress", "--out", tmp_path]
    assert run_cli(*args, "--epochs", 1) == 0
    folder = tmp_path / "mnist" / "ddpm-cosine"
    shipped = {k: v.clone() for k, v in load_model("mnist", "ddpm-cosine", root=tmp_path).state_dict().items()}
    (folder / STATE_JSON).unlink()
    (folder / STATE_WEIGHTS).unlink()
    capsys.readouterr()
    assert run_cli(*args, "--epochs", 2, "--resume") == 0
    assert "after epoch 1 from its saved weights" in capsys.readouterr().out
    history = json.loads((folder / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    assert history["restarts"][0]["after_epoch"] == 1 and history["restarts"][0]["why"] == "training state missing"
    assert (folder / STATE_JSON).exists()                       # from here on an ordinary resumable run
    assert "| restart | after epoch 1" in (folder / "README.md").read_text()
    trained_on = load_model("mnist", "ddpm-cosine", root=tmp_path).state_dict()
    assert any(not torch.equal(trained_on[k], shipped[k]) for k in shipped)      # it did train on
    (folder / STATE_JSON).unlink()
    (folder / STATE_WEIGHTS).unlink()
    capsys.readouterr()
    assert run_cli(*args, "--epochs", 2, "--resume") == 0           # a finished run is left as it is
    assert "has finished its 2 epochs; nothing to resume" in capsys.readouterr().out
    assert json.loads((folder / "history.json").read_text()) == history
    # the re-warm: 1/steps at the restart, linear back to 1, nothing before the restart
    assert rewarm(99, [100], 50) == 1.0 and rewarm(100, [100], 50) == 1 / 50
    assert rewarm(124, [100], 50) == 25 / 50 and rewarm(149, [100], 50) == 1.0 and rewarm(500, [100], 50) == 1.0


def test_resume_with_more_epochs_extends_the_plan_and_eases_the_rate_back_in(data_root, tmp_path, capsys):
    """A finished run resumed with a larger --epochs goes on with its optimiser's state. Its cosine learning-rate
    schedule, stretched to the new length, would jump from the floor back up; the jump is eased in and recorded."""
    from genzoo.training import REWARM_STEPS, SMOKE_TRAIN, lr_factor

    spec = SPECS["ae-8"]
    args = ["train", "--dataset", "mnist", "--model", "ae-8", "--smoke", "--data-root", data_root, "--no-progress",
            "--out", tmp_path]
    assert run_cli(*args, "--epochs", 1) == 0
    folder = tmp_path / "mnist" / "ae-8"
    (folder / "referee.json").write_text(json.dumps({"unconditional": {"n": 10, "fid": 12.5}, "labels_cycling": None,
                                                     "sampling": {"settings": "the app defaults", "epoch": 1}}))
    capsys.readouterr()
    assert run_cli(*args, "--epochs", 3, "--resume") == 0
    assert "after epoch 1, now planned for 3 epochs instead of 1" in capsys.readouterr().out
    card = (folder / "README.md").read_text()  # scores of the epoch-1 weights are not passed off as today's
    assert (
        "measured on the weights after epoch 1, before the epochs since" in card
        and "| fid (unconditional) | 12.5 |" in card
    )
    history = json.loads((folder / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2, 3] and history["planned_epochs"] == 3
    (extension,) = history["restarts"]
    assert extension["after_epoch"] == 1 and extension["why"] == "extended from 1 to 3 epochs"
    assert "optimiser kept" in extension["from"]
    assert "| restart | after epoch 1" in card
    # epoch 1 ended near the floor of its schedule; the stretched one stands far higher at epoch 2's last step
    per_epoch = SMOKE_TRAIN // 32
    lrs = [e["lr"] for e in history["epochs"]]
    assert lrs[0] == pytest.approx(spec.lr * lr_factor(per_epoch - 1, per_epoch, 0, "cosine"))
    stretched = spec.lr * lr_factor(2 * per_epoch - 1, 3 * per_epoch, 0, "cosine")
    assert stretched > 2 * lrs[0]
    assert lrs[1] == pytest.approx(stretched * per_epoch / REWARM_STEPS)      # ...but rises to it gradually
    capsys.readouterr()
    assert run_cli(*args, "--epochs", 3, "--resume") == 0           # the same plan again: nothing more to do
    assert len(json.loads((folder / "history.json").read_text())["epochs"]) == 3


def test_sample_cli_writes_npz_with_cycling_labels(trained, tmp_path):
    out = tmp_path / "s.npz"
    assert run_cli("sample", "--dataset", "mnist", "--model", "cgan", "--n", 25, "--labels", "cycle",
                   "--checkpoints", trained, "--out", out, "--batch-size", 10, "--no-progress") == 0
    z = np.load(out)
    assert z["images"].dtype == np.uint8 and z["images"].shape == (25, 28, 28)
    assert z["labels"].tolist() == [i % 10 for i in range(25)]
    out3 = tmp_path / "s3.npz"
    run_cli("sample", "--dataset", "mnist", "--model", "cgan", "--n", 25, "--labels", "cycle",
            "--checkpoints", trained, "--out", out3, "--batch-size", 10, "--no-progress")
    assert np.array_equal(np.load(out3)["images"], z["images"])      # same seed, same output


def test_sample_cli_diffusion_options_and_png(trained, tmp_path):
    out = tmp_path / "d.npz"
    assert (
        run_cli(
            "sample",
            "--dataset",
            "mnist",
            "--model",
            "ddpm-cosine",
            "--n",
            4,
            "--label",
            7,
            "--sampler",
            "ddim",
            "--steps",
            4,
            "--eta",
            0.5,
            "--guidance",
            3,
            "--checkpoints",
            trained,
            "--out",
            out,
            "--no-progress",
        )
        == 0
    )
    z = np.load(out)
    assert z["images"].shape == (4, 28, 28) and z["labels"].tolist() == [7] * 4
    png = tmp_path / "g.png"
    assert run_cli("sample", "--dataset", "mnist", "--model", "ddpm-cosine", "--n", 4, "--steps", 3,
                   "--checkpoints", trained, "--out", png, "--no-progress") == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    z = np.load(out)
    assert "labels" in z.files
    unconditional = tmp_path / "u.npz"
    run_cli("sample", "--dataset", "mnist", "--model", "ddpm-cosine", "--n", 3, "--steps", 3,
            "--checkpoints", trained, "--out", unconditional, "--no-progress")
    assert "labels" not in np.load(unconditional).files


def test_sample_cli_draws_with_the_apps_settings_for_the_dataset_unless_told_otherwise(trained, tmp_path):
    """No sampling flags: the same pictures the app (and ``evaluate``) draws, guided with the dataset's strength,
    not the model class's own fallback; a flag changes only what it names."""
    from genzoo.registry import default_guidance, sampler_options

    model = load_model("mnist", "ddpm-cosine", root=trained)
    labels = torch.arange(6) % 10
    plain, flagged = tmp_path / "plain.npz", tmp_path / "flagged.npz"
    assert run_cli("sample", "--dataset", "mnist", "--model", "ddpm-cosine", "--n", 6, "--labels", "cycle",
                   "--checkpoints", trained, "--out", plain, "--no-progress") == 0
    app, _ = sample_batched(model, 6, labels, progress=False, **sampler_options("ddpm-cosine", "mnist"))
    assert np.array_equal(np.load(plain)["images"], as_numpy_uint8(app))
    assert model.default_sampler.guidance != default_guidance("mnist")     # so the check above can tell them apart
    assert run_cli("sample", "--dataset", "mnist", "--model", "ddpm-cosine", "--n", 6, "--labels", "cycle",
                   "--guidance", 3, "--checkpoints", trained, "--out", flagged, "--no-progress") == 0
    strong, _ = sample_batched(model, 6, labels, progress=False, **sampler_options("ddpm-cosine", "mnist", guidance=3))
    assert np.array_equal(np.load(flagged)["images"], as_numpy_uint8(strong))
    assert not np.array_equal(np.load(flagged)["images"], np.load(plain)["images"])


def test_bf16_sampling_draws_the_same_pictures_to_within_rounding(trained, tmp_path):
    """bfloat16 autocast (used to draw big scoring sets) changes the numbers only slightly: same seed, same pictures."""
    files = {}
    for precision in ("fp32", "bf16"):
        files[precision] = tmp_path / f"{precision}.npz"
        assert run_cli("sample", "--dataset", "mnist", "--model", "ddpm-cosine", "--n", 20, "--labels", "cycle",
                       "--steps", 10, "--guidance", 2, "--precision", precision, "--checkpoints", trained,
                       "--out", files[precision], "--no-progress") == 0
    a, b = (np.load(f)["images"].astype(np.float64) / 255 for f in files.values())
    assert a.shape == b.shape == (20, 28, 28)
    assert 0 < np.abs(a - b).mean() < 0.02


def test_an_interrupted_drawing_continues_to_the_pictures_of_an_unbroken_one(trained, tmp_path):
    """Stopped after two batches, a resumable drawing continues from its saved generator state: the same
    pictures as one unbroken run (a stochastic sampler, so every step draws from the generator)."""
    model = load_model("mnist", "ddpm-cosine", root=trained)
    opts = dict(n=23, seed=3, batch_size=5, progress=False, steps=3, eta=1.0)
    whole, _ = sample_batched(model, labels=None, **opts)
    partial, real, calls = tmp_path / "s.npz.partial.pt", model.sample, []

    def counted(*args, stop_at=None, **kwargs):
        calls.append(1)
        if len(calls) == stop_at:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    model.sample = lambda *a, **k: counted(*a, stop_at=3, **k)
    with pytest.raises(KeyboardInterrupt):
        sample_batched(model, labels=None, resume=partial, save_every_s=0, **opts)
    assert torch.load(partial, weights_only=True)["next"] == 10
    calls.clear()
    model.sample = counted
    resumed, _ = sample_batched(model, labels=None, resume=partial, save_every_s=0, **opts)
    assert len(calls) == 3 and torch.equal(resumed, whole)           # batches 3, 4 and 5 only
    calls.clear()
    again, _ = sample_batched(model, labels=None, resume=partial, **opts)      # finished: returned as saved
    assert not calls and torch.equal(again, whole)
    other, _ = sample_batched(model, labels=None, resume=partial, **{**opts, "seed": 4})   # other settings: drawn anew
    assert len(calls) == 5 and not torch.equal(other, whole)
    assert torch.equal(other, sample_batched(model, labels=None, **{**opts, "seed": 4})[0])


def test_sample_cli_stopped_says_how_to_continue_and_cleans_up_when_done(trained, tmp_path, capsys, monkeypatch):
    out = tmp_path / "s.npz"
    args = ("sample", "--dataset", "mnist", "--model", "cgan", "--n", 30, "--batch-size", 10, "--checkpoints", trained,
            "--out", out, "--no-progress")
    assert run_cli(*args) == 0
    assert out.exists() and not (tmp_path / "s.npz.partial.pt").exists()

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("genzoo.sampling.sample_batched", stopped)
    assert run_cli(*args) == 130
    assert "run the same command again to continue" in capsys.readouterr().err


def test_sample_cli_refuses_bad_requests(trained, tmp_path, capsys):
    assert run_cli("sample", "--dataset", "mnist", "--model", "vae", "--n", 4, "--label", 3,
                   "--checkpoints", trained, "--out", tmp_path / "x.npz") == 2
    assert "unconditional" in capsys.readouterr().err
    assert run_cli("sample", "--dataset", "mnist", "--model", "gan", "--n", 4,
                   "--checkpoints", trained, "--out", tmp_path / "x.npz") == 2
    assert "no checkpoint for mnist/gan" in capsys.readouterr().err
    assert run_cli("sample", "--dataset", "mnist", "--model", "vae", "--n", 4, "--steps", 3,
                   "--checkpoints", trained, "--out", tmp_path / "x.npz") == 2
    assert "diffusion models only" in capsys.readouterr().err


def test_training_offline_without_data_is_one_clear_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "genzoo", "train", "--dataset", "mnist", "--model", "vae", "--smoke",
                           "--data-root", str(tmp_path / "empty"), "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: could not find MNIST under"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_reconstruct_cli_rebuilds_test_pictures_through_the_code(trained, data_root, tmp_path, capsys):
    out = tmp_path / "r.npz"
    assert run_cli("reconstruct", "--dataset", "mnist", "--model", "vae", "--n", 30, "--data-root", data_root,
                   "--checkpoints", trained, "--out", out) == 0
    z = np.load(out)
    assert z["images"].dtype == np.uint8 and z["images"].shape == (30, 28, 28) and z["labels"].shape == (30,)
    import torch

    from genzoo.data import load_split, to_unit
    from genzoo.imaging import as_numpy_uint8
    x, y = load_split("mnist", False, data_root)
    vae = load_model("mnist", "vae", root=trained)
    with torch.no_grad():
        expected = as_numpy_uint8(vae.reconstruct(to_unit(x[:30])))
    assert np.array_equal(z["images"], expected) and np.array_equal(z["labels"], y[:30].numpy())
    capsys.readouterr()
    assert run_cli("reconstruct", "--dataset", "mnist", "--model", "cgan", "--data-root", data_root,
                   "--checkpoints", trained, "--out", tmp_path / "x.npz") == 2
    assert "cannot rebuild" in capsys.readouterr().err


def test_a_finished_autoencoder_resumes_into_adversarial_epochs_and_hands_its_decoder_on(
    data_root, tmp_path, monkeypatch, capsys
):
    """A first stage trained before it had a critic resumes into its adversarial epochs (the critic starts fresh, the
    encoder stays frozen); ``refresh-decoder`` then gives the latent diffusion model trained on its codes the sharper
    decoder, and refuses once the encoder has changed."""
    import torch
    from safetensors.torch import load_file

    spec, common = SPECS["ae-grid"], ["--dataset", "mnist", "--smoke", "--data-root", data_root, "--out", tmp_path,
                                      "--no-progress"]
    plain = {k: v for k, v in spec.kwargs.items() if not k.startswith("adversarial")}
    monkeypatch.setitem(SPECS, "ae-grid", dataclasses.replace(spec, kwargs=plain))
    assert run_cli("train", "--model", "ae-grid", "--epochs", 1, *common) == 0
    assert run_cli("train", "--model", "ldm", "--epochs", 1, *common) == 0
    before = load_model("mnist", "ae-grid", root=tmp_path)
    ldm_before = load_model("mnist", "ldm", root=tmp_path)

    monkeypatch.setitem(SPECS, "ae-grid", dataclasses.replace(spec, kwargs={**spec.kwargs, "adversarial_start": 1}))
    assert run_cli("train", "--model", "ae-grid", "--epochs", 2, "--resume", *common) == 0
    after = load_model("mnist", "ae-grid", root=tmp_path)
    history = json.loads((tmp_path / "mnist" / "ae-grid" / "history.json").read_text())["epochs"]
    assert "adv" not in history[0] and {"adv", "adv_weight", "loss_d"} <= set(history[1])
    def same(a, b):
        return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert same(before.encoder, after.encoder) and not same(before.decoder, after.decoder)

    assert run_cli("refresh-decoder", "--dataset", "mnist", "--checkpoints", tmp_path) == 0
    folder = tmp_path / "mnist" / "ldm"
    ldm = load_model("mnist", "ldm", root=tmp_path)
    assert same(ldm.autoencoder.decoder, after.decoder) and same(ldm.net, ldm_before.net)
    assert json.loads((folder / "history.json").read_text())["decoder"]["after_epoch"] == 2
    assert "decoder | taken from `ae-grid` after its epoch 2" in (folder / "README.md").read_text()
    state = load_file(str(folder / "training_state.safetensors"))
    assert all(
        torch.equal(state[f"model.autoencoder.decoder.{k}"], v.float()) for k, v in after.decoder.state_dict().items()
    )
    assert run_cli("train", "--model", "ldm", "--epochs", 2, "--resume", *common) == 0     # and a resume keeps it
    assert same(load_model("mnist", "ldm", root=tmp_path).autoencoder.decoder, after.decoder)

    assert run_cli("train", "--model", "ae-grid", "--epochs", 1, "--seed", 1, *common) == 0   # a new encoder
    assert run_cli("refresh-decoder", "--dataset", "mnist", "--checkpoints", tmp_path) == 2
    assert "encoder has changed" in capsys.readouterr().err

"""Metric functions on cases with known answers, and ``evaluate`` on smoke checkpoints."""
import json
import shutil

import numpy as np
import pytest
import torch

from genzoo.evaluation import percent
from genzoo.metrics import class_kl, frechet_distance, laplacian_variance, precision_recall


def test_fid_of_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(2000, 8))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)


def test_fid_of_shifted_gaussians_matches_the_closed_form():
    """N(0, I) vs N(m, 4 I) in d dims: |m|^2 + d (1 + 4 - 2 * 2) = |m|^2 + d."""
    rng = np.random.default_rng(0)
    d, n = 4, 200_000
    m = np.array([1.0, -2.0, 0.5, 0.0])
    a = rng.normal(size=(n, d))
    b = m + 2.0 * rng.normal(size=(n, d))
    assert frechet_distance(a, b) == pytest.approx((m ** 2).sum() + d, rel=0.02)


def test_precision_recall_identical_and_disjoint():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6))
    assert precision_recall(x, x.copy()) == (1.0, 1.0)
    far = x + 1000.0
    assert precision_recall(x, far) == (0.0, 0.0)


def test_precision_recall_detects_mode_dropping():
    """Samples covering half of the real modes: high precision, recall about one half."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=50, size=(10, 4))
    real = np.concatenate([c + rng.normal(size=(200, 4)) for c in centres])
    fake = np.concatenate([c + rng.normal(size=(400, 4)) for c in centres[:5]])
    p, r = precision_recall(real, fake)
    assert p > 0.95 and 0.4 < r < 0.6


def test_class_kl():
    assert class_kl(np.arange(1000) % 10) == pytest.approx(0.0, abs=1e-12)
    assert class_kl(np.zeros(100, dtype=int)) == pytest.approx(np.log(10))
    assert class_kl(np.arange(1000) % 5) == pytest.approx(np.log(2))


def test_laplacian_variance_drops_with_blur():
    torch.manual_seed(0)
    x = (torch.rand(16, 1, 28, 28) > 0.7).float()
    blurred = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1)
    assert laplacian_variance(blurred) < 0.3 * laplacian_variance(x)
    assert laplacian_variance(torch.zeros(4, 1, 28, 28)) == 0.0


def test_percent_never_rounds_a_miss_up_to_perfect():
    assert percent(0.9312) == "93.1%"
    assert percent(0.9997) == "99.97%"          # one decimal would say 100.0%
    assert percent(0.99996) == "99.996%"
    assert percent(1.0) == "100.0%"
    assert percent(0.0) == "0.0%"


def test_conditional_accuracy_of_relabelled_real_data(app_checkpoints, data_root):
    """The evaluator on real test images: cond_acc = its accuracy; shuffled labels drop it to chance."""
    from genzoo.checkpoints import load_model
    from genzoo.data import load_split, to_unit
    from genzoo.evaluation import Evaluator

    clf = load_model("mnist", "classifier", root=app_checkpoints)
    xt, yt = load_split("mnist", False, data_root)
    x, _ = load_split("mnist", True, data_root)
    ev = Evaluator(clf, to_unit(xt), to_unit(x))
    _, pred = ev.embed(to_unit(xt))
    acc = float((pred == yt.numpy()).mean())
    assert ev.score(to_unit(xt), yt)["cond_acc"] == pytest.approx(acc)
    wrong = (yt + 1) % 10
    assert ev.score(to_unit(xt), wrong)["cond_acc"] == pytest.approx(float((pred == wrong.numpy()).mean()))
    assert ev.score(to_unit(xt))["sharpness"] == pytest.approx(1.0)


def test_evaluate_writes_a_complete_metrics_file(app_checkpoints):
    """``make_checkpoints`` ran ``python -m genzoo evaluate`` on the smoke checkpoints (see tests/app_server.py)."""
    m = json.loads((app_checkpoints / "mnist" / "metrics.json").read_text())
    assert m["floor_fid"] >= 0 and 0 <= m["classifier_test_accuracy"] <= 1
    assert set(m["models"]) == {"vae", "gan", "cgan", "ddpm-cosine"}
    vae, cgan, ddpm = m["models"]["vae"], m["models"]["cgan"], m["models"]["ddpm-cosine"]
    for r in (vae, cgan, ddpm):
        assert {"fid", "precision", "recall", "class_kl", "sharpness"} <= set(r["unconditional"])
        assert r["parameters"] > 0 and r["training"]["epochs"] == 2 and "interpolation_smoothness" in r
    assert {"reconstruction_mse", "elbo_nats", "kl_per_dimension"} <= set(vae)
    assert len(vae["kl_per_dimension"]) == 16
    assert "cond_acc" in cgan["conditional_samples"] and "guidance_curve" not in cgan
    assert [c["guidance"] for c in ddpm["guidance_curve"]] == [0.0, 1.0, 1.5, 2.0, 3.0, 5.0]
    assert set(ddpm["latency"]) == {"unipc-8@0.4-5.42", "ddim-50", "ddim-20", "ddpm-1000"}
    assert ddpm["latency"]["ddpm-1000"] == "skipped"
    assert [r["batch"] for r in ddpm["latency"]["ddim-50"]] == [1, 4]
    assert not list(app_checkpoints.rglob("*.partial.pt"))            # drawing progress is removed when done
    assert ddpm["network_evaluations"] == {"unipc-8@0.4-5.42": 8, "ddim-50": 50, "ddim-20": 20, "ddpm-1000": 1000}
    assert all(r["median_ms"] > 0 for r in vae["latency"]["default"])
    table = (app_checkpoints / "mnist" / "metrics.md").read_text().splitlines()
    assert [row.split(" | ")[0] for row in table if row.startswith("| ") and "---" not in row][1:] == [
        "| vae", "| gan", "| cgan", "| ddpm-cosine"]


def test_evaluate_adds_models_to_the_file_and_saves_the_samples_the_cli_would_draw(
    app_checkpoints, data_root, tmp_path
):
    """Scoring one more model keeps the others; its saved samples are the sampling CLI's, image for image."""
    from genzoo.cli import main

    root = tmp_path / "checkpoints"
    shutil.copytree(app_checkpoints, root)
    common = ["--dataset", "mnist", "--checkpoints", str(root), "--no-progress"]
    assert main(["evaluate", *common, "--models", "cvae", "--n", "20", "--data-root", str(data_root),
                 "--samples", str(tmp_path / "s"), "--latency-batches", "1", "--latency-budget", "0.01",
                 "--precision", "bf16"]) == 0
    m = json.loads((root / "mnist" / "metrics.json").read_text())
    assert list(m["models"]) == ["vae", "cvae", "gan", "cgan", "ddpm-cosine"]          # kept, in registry order
    cvae = m["models"]["cvae"]
    assert cvae["precision"] == "bf16" and cvae["precision_check"]["n"] == 20
    assert (
        0.5 <= cvae["precision_check"]["same_class"] <= 1 and 0 < cvae["precision_check"]["mean_abs_pixel_diff"] < 0.02
    )
    for kind, extra in (("unconditional", ["--seed", "0"]), ("cycle", ["--seed", "1", "--labels", "cycle"])):
        assert main(["sample", *common, "--model", "cvae", "--n", "20", "--out", str(tmp_path / f"{kind}.npz"),
                     "--precision", "bf16", *extra]) == 0
        with np.load(tmp_path / f"{kind}.npz") as cli, np.load(tmp_path / "s" / "mnist" / f"cvae-{kind}.npz") as saved:
            assert np.array_equal(cli["images"], saved["images"])
            if kind == "cycle":
                assert np.array_equal(saved["labels"], np.arange(20) % 10)
    assert not list((tmp_path / "s").rglob("*.partial.pt"))


def test_summary_says_which_scores_were_drawn_in_bfloat16(app_checkpoints, tmp_path):
    from genzoo.app.scoreboard_tab import summary
    from genzoo.measurements import Measurements

    m = json.loads((app_checkpoints / "mnist" / "metrics.json").read_text())
    assert all(r["precision"] == "fp32" for r in m["models"].values())
    assert "number format" not in summary(Measurements.from_dict(m))
    m["models"]["ddpm-cosine"].update(precision="bf16", precision_check={"n": 100, "same_class": 1.0,
                                                                         "mean_abs_pixel_diff": 0.003})
    assert ("pictures scored for Diffusion (cosine schedule) were drawn with a shorter number format (bf16) than the "
            "app's. Checked on 100 pictures drawn both ways from the same noise: the evaluator saw the same class in "
            "100% of them, and pixels differ by 0.3% on average.") in summary(Measurements.from_dict(m))


def test_samples_are_scored_with_each_models_own_default_sampler(monkeypatch):
    import dataclasses

    from genzoo import registry
    from genzoo.evaluation import sampler_settings

    # MNIST's cosine model: the referee's choice (UniPC 8, guided mid-way); DDIM 50 stays the baseline
    assert list(sampler_settings("ddpm-cosine", "mnist")) == ["unipc-8@0.4-5.42", "ddim-50", "ddim-20", "ddpm-1000"]
    assert list(sampler_settings("ddpm-cosine", "fashion")) == ["ddim-50", "ddim-20", "ddpm-1000"]
    assert sampler_settings("gan", "mnist") == {"default": {}}
    spec = registry.SPECS["ldm"]
    monkeypatch.setitem(registry.SPECS, "ldm", dataclasses.replace(spec, sampler=spec.sampler.replace(steps=100)))
    settings = sampler_settings("ldm", "fashion")
    assert list(settings) == ["ddim-100", "ddim-50", "ddim-20", "ddpm-1000"]
    assert settings["ddim-100"]["steps"] == 100 and settings["ddpm-1000"]["eta"] == 1.0
    # every setting guides with the dataset's own strength
    assert {o["guidance"] for o in settings.values()} == {registry.default_guidance("fashion")}

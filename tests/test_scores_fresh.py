"""The Scoreboard compares like with like and never goes stale: every shipped model has a row measured with the
settings and weights the app draws with today, and a model that hands back its training pictures is caught."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from genzoo import registry
from genzoo.checkpoints import PROJECT_ROOT, WEIGHTS
from genzoo.data import DATASETS
from genzoo.metrics import COPY_FLAG, copying, nearest
from genzoo.provenance import describe, stale_parts
from models.samplers import SamplerSettings

SHIPPED = PROJECT_ROOT / "checkpoints"


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_shipped_model_has_a_row_scored_at_the_apps_defaults(dataset):
    """Change a default sampler, its steps or guidance, or ship new weights, and this fails until the model is
    scored again (``python -m genzoo evaluate --dataset D --stale-only``)."""
    rows = json.loads((SHIPPED / dataset / "metrics.json").read_text())["models"]
    shipped = [n for n in registry.GENERATIVE if (SHIPPED / dataset / n / "config.json").exists()]
    assert shipped, "no shipped checkpoints found"
    missing = [n for n in shipped if n not in rows]
    assert not missing, f"{dataset}: no Scoreboard row for {missing}"
    stale = {n: describe(s) for n in shipped if (s := stale_parts(rows[n], n, dataset, SHIPPED))}
    assert not stale, f"{dataset}: rows measured on other settings or weights than the app's now: {stale}"


def test_a_new_default_or_new_weights_make_a_row_stale(app_checkpoints, tmp_path, monkeypatch):
    """The smoke evaluation's row is fresh; a changed default sampler, guidance strength or weights file is not."""
    name = "ddpm-cosine"
    row = json.loads((app_checkpoints / "mnist" / "metrics.json").read_text())["models"][name]
    assert stale_parts(row, name, "mnist", app_checkpoints) == []
    assert stale_parts(None, name, "mnist", app_checkpoints) == ["unconditional", "conditional_samples", "latency"]

    spec = registry.SPECS[name]
    with monkeypatch.context() as m:
        m.setitem(registry.SPECS, name, spec.__class__(**{**spec.__dict__,
                                                          "dataset_sampler": {"mnist": SamplerSettings("ddim", 20)}}))
        assert stale_parts(row, name, "mnist", app_checkpoints) == ["unconditional", "conditional_samples", "latency"]
    with monkeypatch.context() as m:
        m.setitem(registry.DEFAULT_GUIDANCE, "mnist", 3.0)
        assert len(stale_parts(row, name, "mnist", app_checkpoints)) == 3

    root = tmp_path / "checkpoints"
    shutil.copytree(app_checkpoints / "mnist" / name, root / "mnist" / name)
    assert stale_parts(row, name, "mnist", root) == []
    weights = load_file(root / "mnist" / name / WEIGHTS)
    key = next(iter(weights))
    weights[key] = weights[key] + 1e-3                      # trained a little further
    save_file(weights, root / "mnist" / name / WEIGHTS)
    assert stale_parts(row, name, "mnist", root) == ["unconditional", "conditional_samples", "latency"]


def test_nearest_neighbours_known_answers():
    ref = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]])
    d, i = nearest(np.array([[3.0, 4.0], [1.0, 0.0]]), ref, k=2, chunk=1)
    assert i.tolist() == [[1, 0], [0, 1]]
    np.testing.assert_allclose(d, [[0.0, 5.0], [1.0, np.hypot(2, 4)]], rtol=1e-6)
    d, i = nearest(ref, ref, k=1, exclude_self=True)        # the set against itself: never its own neighbour
    assert i[:, 0].tolist() == [1, 0, 1]


def test_a_model_that_returns_training_pictures_is_flagged(app_checkpoints, data_root):
    """Pictures handed back from the training set sit on training pictures; unseen real pictures, which a model
    that draws new pictures resembles, do so about 1 % of the time, as chance gives."""
    from genzoo.checkpoints import load_model
    from genzoo.data import load_split, to_unit
    from genzoo.evaluator import Evaluator

    x, _ = load_split("mnist", True, data_root)
    xt, _ = load_split("mnist", False, data_root)
    half = len(xt) // 2
    ev = Evaluator(load_model("mnist", "classifier", root=app_checkpoints), to_unit(xt[:half]), to_unit(x))

    class Memorizer:
        """Stores the training pictures and returns them: a perfect FID, and nothing new."""
        def sample(self, n, generator):
            return to_unit(x)[torch.randint(0, len(x), (n,), generator=generator)]

    copied = ev.score(Memorizer().sample(200, torch.Generator().manual_seed(0)))["copying"]
    assert copied["flagged"] and copied["close_share"] == pytest.approx(1.0) and copied["ratio"] < 0.05
    new = ev.score(to_unit(xt[half:]))["copying"]           # real pictures the model never saw
    assert not new["flagged"] and new["close_share"] < COPY_FLAG and 0.7 < new["ratio"] < 1.4


def test_copying_compares_with_unseen_real_pictures():
    rng = np.random.default_rng(0)
    train, held_out, fresh = (rng.normal(size=(s, 8)) for s in (2000, 1000, 1000))
    assert not copying(fresh, held_out, train)["flagged"]
    jittered = train[:500] + 1e-3 * rng.normal(size=(500, 8))  # near-copies
    out = copying(jittered, held_out, train)
    assert out["flagged"] and out["close_share"] == 1.0


def test_the_scoreboard_says_where_the_referee_disagrees():
    from types import SimpleNamespace as Row

    from genzoo.app.scoreboard_tab import referee_agreement

    a = Row(title="Model A", fid=3.0, referee_fid=4.0)
    b = Row(title="Model B", fid=3.5, referee_fid=2.5)
    c = Row(title="Model C", fid=9.0, referee_fid=None)
    text = referee_agreement({"a": a, "b": b, "c": c})
    assert "ranks Model B first" in text and "disagree on the order of 1 of 1 pairs" in text
    assert "Model C" not in text
    b = Row(title="Model B", fid=3.5, referee_fid=4.5)
    assert "orders all 2 models it scored as the project's evaluator does" in referee_agreement({"a": a, "b": b})


def test_clicking_pictures_shows_their_nearest_training_pictures(monkeypatch, tmp_path):
    """With the shipped GAN: each of its pictures comes with three training pictures, nearest first, and the
    caption says what was searched (here, without the dataset on the machine, the tenth that ships with the app)."""
    from genzoo.app.nearest import nearest_view
    from genzoo.neighbours import training_search
    from genzoo.sampling import DrawRequest
    from genzoo.zoo import Zoo

    monkeypatch.setenv("GENZOO_DATA_ROOT", str(tmp_path / "no-data"))
    training_search.cache_clear()
    zoo = Zoo(root=SHIPPED, datasets=("mnist",), names=["gan", "classifier"])
    text, rows = nearest_view(zoo, DrawRequest.at_defaults("mnist", "gan", 5, 0))
    training_search.cache_clear()
    assert len(rows) == 5 and "the 6,000 training pictures that ship with the app" in text
    picture, caption = rows[0]
    assert picture.size == (3 * (4 * 28 + 8), 3 * 28)
    distances = [float(v) for v in caption.split("distances ")[1].split(" (")[0].split(", ")]
    assert len(distances) == 3 and distances == sorted(distances) and distances[0] > 0


def test_the_labelled_set_at_the_apps_setting_is_a_point_of_the_sampler_plot(tmp_path):
    from genzoo.measurements import sampler_scores

    record = {"labels_cycling": {"fid": 3.9, "cond_acc": 0.99, "drawn": {"key": "heun-5", "network_runs": 18,
                                                                         "precision": "bf16"}},
              "samplers": {"euler-4": {"fid": 9.0, "network_runs": 8}}}
    (tmp_path / "referee.json").write_text(json.dumps(record))
    scores = sampler_scores(tmp_path)
    assert scores["heun-5"]["fid"] == 3.9 and scores["heun-5"]["network_runs"] == 18
    assert scores["heun-5"]["number_format"] == "bf16" and scores["euler-4"]["fid"] == 9.0
    record["samplers"]["heun-5"] = {"fid": 3.7, "network_runs": 18}    # a setting scored on its own wins
    (tmp_path / "referee.json").write_text(json.dumps(record))
    assert sampler_scores(tmp_path)["heun-5"]["fid"] == 3.7


def test_the_bookkeeping_knows_which_models_take_a_class():
    """Which parts a row needs (the pictures drawn per class) and the rule recorded with the no-class pictures both
    hang on it: a family that says so only in its constructor was once missed (its per-class pictures never went
    stale)."""
    from genzoo import provenance
    from genzoo.registry import SPECS

    for name, spec in SPECS.items():
        if spec.generative:
            assert provenance.conditional("mnist", name) == spec.build(tiny=True).conditional, name

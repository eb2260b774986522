"""Adding a model family is one class plus one registry entry: a tiny test-only family, registered here, shows up
in every tab and every measurement that applies to what it can do, with no other change."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genzoo import registry
from genzoo.cli import main
from models.base import GenerativeModel


class Doodler(GenerativeModel):
    """A tiny conditional autoencoder: one linear layer each way, and the class added to the code."""

    family = "doodler"
    can_encode = True

    def __init__(self, latent_dim: int = 4, num_classes: int = 10):
        super().__init__()
        self._latent_dim, self._conditional, self.num_classes = latent_dim, True, num_classes
        self.enc = nn.Linear(784, latent_dim)
        self.dec = nn.Linear(latent_dim, 784)
        self.label = nn.Embedding(num_classes, latent_dim)

    def encode(self, x, labels=None):
        return self.enc(x.flatten(1))

    def decode(self, z, labels=None):
        z = z if labels is None else z + self.label(labels)
        return torch.sigmoid(self.dec(z)).view(-1, 1, 28, 28)

    def reconstruct(self, x, labels=None):
        return self.decode(self.encode(x), labels)

    def noise(self, n, generator=None):
        return torch.randn(n, self._latent_dim, generator=generator).to(self.device)

    def generate(self, noise, labels=None, generator=None, **options):
        return self.decode(noise, labels)

    def loss(self, x, y):
        loss = F.binary_cross_entropy(self.reconstruct(x, y), x)
        return loss, {"loss": loss.item()}


@pytest.fixture(scope="module")
def doodler_zoo(data_root, tmp_path_factory):
    """The registry with the Doodler added, one smoke-trained checkpoint of it and the data subset the app shows."""
    patch = pytest.MonkeyPatch()
    spec = registry.ModelSpec("doodler", Doodler, {"latent_dim": 4}, "Doodler", "A test-only family.", epochs=1,
                              featured=("sample", "interpolate", "reconstruct", "training"))
    patch.setitem(registry.SPECS, "doodler", spec)
    out = tmp_path_factory.mktemp("doodler")
    common = ["--data-root", str(data_root), "--out", str(out)]
    assert main(["train", "--dataset", "mnist", "--model", "doodler", "--smoke", "--no-progress", *common]) == 0
    assert main(["export-data", "--dataset", "mnist", *common]) == 0
    from genzoo.zoo import Zoo

    yield Zoo(root=out, datasets=("mnist",), names=["doodler"])
    patch.undo()


def test_every_tab_that_applies_finds_the_new_family(doodler_zoo):
    from genzoo.app import build_app
    from genzoo.app.class_tab import class_view
    from genzoo.app.interpolate_tab import interpolate_view
    from genzoo.app.latent_tab import latent_map_view, latent_models
    from genzoo.app.models_tab import guide_model, guide_table
    from genzoo.app.reconstruct_tab import reconstruct_view
    from genzoo.app.sample_tab import sample_view
    from genzoo.app.training_tab import training_view

    zoo = doodler_zoo
    assert [c for _, c in sample_view(zoo, "mnist", ["doodler"], 4)][0].startswith("Doodler")
    assert [c for _, c in class_view(zoo, "mnist", "3", 4)][0].startswith("Doodler")       # it can be told the class
    assert "doodler" in latent_models()                                                      # it has an encoder
    fig, plane, note = latent_map_view(zoo, "mnist", "doodler")
    assert "4-number codes" in fig.layout.title.text and plane is None
    _, _, rows = reconstruct_view(zoo, "mnist", "test image", "2", 0)
    assert rows[0][0] == "Doodler"
    _, _, smooth = interpolate_view(zoo, "mnist", "1", 0, "7", 0)
    assert smooth[0][0] == "Doodler"                 # walked in its code space, between the two pictures
    assert training_view(zoo, "mnist", ["doodler"], 1)[0][1].startswith("Doodler — epoch 1")
    row = [r for r in guide_table(zoo, "mnist") if r[0] == "Doodler"][0]
    assert row[1:6] == ["yes", "yes", "yes", "yes", "no"]
    text, layers = guide_model(zoo, "mnist", "doodler")
    assert "### Doodler" in text and [r[0] for r in layers] == ["enc", "label", "dec"]
    build_app(zoo)                                   # and the whole app builds with it


def test_every_measurement_that_applies_is_made(doodler_zoo, data_root):
    from genzoo.data import load_split, to_unit
    from genzoo.evaluation import Evaluator, evaluate_model
    from models import Classifier

    x, _ = load_split("mnist", True, str(data_root))
    xt, _ = load_split("mnist", False, str(data_root))
    ev = Evaluator(Classifier(channels=8, feature_dim=16).eval(), to_unit(xt), to_unit(x))
    r = evaluate_model("doodler", "mnist", doodler_zoo.model("mnist", "doodler"), ev, n=20, seed=0,
                       latency_batches=(1,), progress=False, latency_budget_s=0.05)
    assert {"fid", "precision", "recall", "class_kl", "sharpness"} <= set(r["unconditional"])
    assert "cond_acc" in r["conditional_samples"]
    assert r["reconstruction_mse"] > 0 and r["interpolation_smoothness"] >= 1
    assert r["requires_labels"] and r["network_evaluations"] == {"default": 1}
    assert "elbo_nats" not in r                      # no likelihood: nothing pretends to measure one


def test_speed_is_measured_afresh_at_every_click(doodler_zoo, monkeypatch):
    """"Measured just now" means now: a second click times the models again instead of answering from a cache."""
    from genzoo import explore
    from genzoo.app.scoreboard_tab import speed_view

    calls = []
    real = explore.timed_sample
    monkeypatch.setattr(explore, "timed_sample", lambda *a, **k: calls.append(1) or real(*a, **k))
    first, second = speed_view(doodler_zoo, "mnist"), speed_view(doodler_zoo, "mnist")
    assert len(calls) == 4                                   # a warm-up and a timing, at each click
    assert [r[0] for r in first if r[-1] == "ready"] == ["Doodler"] and len(first) == len(second)


def test_a_smoke_run_card_says_how_many_pictures_it_saw(doodler_zoo):
    card = (doodler_zoo.root / "mnist" / "doodler" / "README.md").read_text()
    assert "| data | MNIST digits, 256 training images (a smoke run) |" in card

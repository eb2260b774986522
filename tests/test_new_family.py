"""Adding a model family is one class plus one registry entry: tiny test-only families of three shapes, registered
here, show up in every tab and every measurement that applies to what they can do, with no other change, and the
views that do not apply leave them out without a crash:
- the Doodler, an encoder with a one-pass decoder;
- the Hopper, which draws iteratively with a sampler vocabulary of its own;
- the Pixel table, one pass, with an exact likelihood.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genzoo import registry
from genzoo.cli import main
from models.base import GenerativeModel
from models.samplers import SamplerSettings, register_sampler


class Doodler(GenerativeModel):
    """A tiny conditional autoencoder: one linear layer each way, and the class added to the code."""

    family = "doodler"
    can_encode = True
    about = "Squeezes a picture into 4 numbers with the class added, and draws from random numbers."
    equation = r"$$\hat x = \sigma(W_d (W_e x + e_y))$$"
    teaches = "One pass from a code to a picture."

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


register_sampler("hop", "Hop", "Hop", "a toy step a little of the way to the picture")


class Hopper(GenerativeModel):
    """A tiny iterative model: from noise, hops towards the picture its network guesses, with the class added."""

    family = "hopper"
    samplers = ("hop",)
    step_range = (1, 20)
    default_sampler = SamplerSettings("hop", 3, guidance=1.0)
    guidance_range = (0.0, 3.0)
    path_sampler = "hop"
    about = "Hops from noise towards the picture its network guesses."
    equation = r"$$x_{k+1} = x_k + \tfrac{1}{K-k}\,(f_\theta(x_k, y) - x_k)$$"
    teaches = "Many small steps."

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self._conditional, self.num_classes = True, num_classes
        self.net = nn.Conv2d(1, 1, 3, padding=1)
        self.label = nn.Embedding(num_classes + 1, 1)

    def guess(self, x, labels, guidance):
        y = labels if labels is not None else torch.full((len(x),), self.num_classes, device=x.device)
        return self.net(x) + guidance * self.label(y)[:, :, None, None]

    def network_evaluations(self, sampler="hop", steps=None, **_):
        return int(steps or self.default_sampler.steps)

    def denoise(self, noise, labels=None, sampler="hop", steps=None, guidance=None, frames=0, progress=None, **_):
        if sampler != "hop":
            raise ValueError(f"the hopper hops, it cannot {sampler!r}")
        steps, guidance = int(steps or 3), 1.0 if guidance is None else float(guidance)
        x, snaps = noise, []
        for k in range(steps):
            target = self.guess(x, labels, guidance)
            if frames:
                snaps.append((999 - k * 999 // steps, x.clone(), target))
            x = x + (target - x) / (steps - k)
            if progress is not None:
                progress(k + 1, steps)
        return x, snaps

    def noise(self, n, generator=None):
        return torch.randn(n, 1, 28, 28, generator=generator).to(self.device)

    def generate(self, noise, labels=None, generator=None, **options):
        return self.to_images(self.denoise(noise, labels, **options)[0])

    def plain(self, options):
        return {**options, "guidance": 1.0}

    def to_images(self, x):
        return torch.sigmoid(x.float())

    def state_images(self, x):
        return self.to_images(x)

    def loss(self, x, y):
        loss = F.mse_loss(self.to_images(self.guess(torch.randn_like(x), y, 1.0)), x)
        return loss, {"loss": loss.item()}


class PixelTable(GenerativeModel):
    """Every pixel drawn on its own from 256 grey levels, with probabilities for each class: an exact likelihood."""

    family = "pixel-table"
    likelihood = "exact"
    about = "Keeps, for every class and every pixel, how likely each of the 256 grey levels is."
    equation = r"$$\log p(x \mid y) = \sum_{i} \log p_i(x_i \mid y)$$"
    teaches = "An exact likelihood."

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self._conditional, self.num_classes = True, num_classes
        self.logits = nn.Parameter(torch.zeros(num_classes, 784, 256))

    def log_likelihood(self, x, labels=None):
        levels = (x.flatten(1) * 255).round().long()
        logp = self.logits.log_softmax(-1)
        if labels is None:                   # a mixture of the classes, equally likely
            per_class = torch.stack([logp[k].gather(1, levels.T).sum(0) for k in range(self.num_classes)], 1)
            return torch.logsumexp(per_class, 1) - torch.log(torch.tensor(float(self.num_classes)))
        return logp[labels].gather(2, levels[:, :, None]).squeeze(2).sum(1)

    def noise(self, n, generator=None):
        return torch.rand(n, 784, generator=generator).to(self.device)

    def generate(self, noise, labels=None, generator=None, **options):
        cdf = self.logits[labels].softmax(-1).cumsum(-1)              # inverse CDF: noise picks each grey level
        levels = torch.searchsorted(cdf, noise[:, :, None].contiguous()).squeeze(2).clamp(max=255)
        return (levels.float() / 255).view(-1, 1, 28, 28)

    def loss(self, x, y):
        loss = -self.log_likelihood(x, y).mean() / 784
        return loss, {"loss": loss.item()}


FAMILIES = {
    "doodler": registry.ModelSpec("doodler", Doodler, {"latent_dim": 4}, "Doodler", "A test-only family.", epochs=1,
                                  featured=("sample", "interpolate", "reconstruct", "training")),
    "hopper": registry.ModelSpec("hopper", Hopper, {}, "Hopper", "A test-only iterative family.", epochs=1,
                                 sampler=SamplerSettings("hop", 3)),
    "pixels": registry.ModelSpec("pixels", PixelTable, {}, "Pixel table", "A test-only exact-likelihood family.",
                                 epochs=1, lr=0.1),
}


@pytest.fixture(scope="module")
def zoo3(data_root, tmp_path_factory):
    """The registry with the three families added, one smoke-trained checkpoint of each and the data subset."""
    patch = pytest.MonkeyPatch()
    for name, spec in FAMILIES.items():
        patch.setitem(registry.SPECS, name, spec)
    out = tmp_path_factory.mktemp("families")
    common = ["--data-root", str(data_root), "--out", str(out)]
    for name in FAMILIES:
        assert main(["train", "--dataset", "mnist", "--model", name, "--smoke", "--no-progress", *common]) == 0
    assert main(["export-data", "--dataset", "mnist", *common]) == 0
    from genzoo.zoo import Zoo

    yield Zoo(root=out, datasets=("mnist",), names=list(FAMILIES))
    patch.undo()


def test_every_tab_that_applies_finds_each_family(zoo3):
    from genzoo.app import build_app
    from genzoo.app.class_tab import class_view
    from genzoo.app.diffusion_tab import diffusion_models, reverse_view, scrubbable, straightness_view
    from genzoo.app.interpolate_tab import interpolate_view
    from genzoo.app.latent_tab import latent_map_view, latent_models
    from genzoo.app.models_tab import guide_model, guide_table
    from genzoo.app.reconstruct_tab import reconstruct_view
    from genzoo.app.sample_tab import sample_view
    from genzoo.app.training_tab import training_view

    zoo = zoo3
    drawn = dict(zip(FAMILIES, (c for _, c in sample_view(zoo, "mnist", list(FAMILIES), 4))))
    assert drawn["doodler"].startswith("Doodler") and drawn["pixels"].startswith("Pixel table")
    assert drawn["hopper"].startswith("Hopper")
    # asked for another family's sampler, the hopper keeps its own, and says so
    asked = sample_view(zoo, "mnist", ["hopper"], 4, sampler="ddim", steps=7)[0][1]
    assert "keeps its own sampler: Hop, 7 steps" in asked
    assert [c.split(" —")[0] for _, c in class_view(zoo, "mnist", "3", 4)] == ["Doodler", "Hopper", "Pixel table"]
    # encoders: the Doodler alone; iterative views: the Hopper alone (not the scrubber: its guess has no two parts)
    assert "doodler" in latent_models() and not {"hopper", "pixels"} & set(latent_models())
    fig, plane, note = latent_map_view(zoo, "mnist", "doodler")
    assert "4-number codes" in fig.layout.title.text and plane is None
    _, _, rows = reconstruct_view(zoo, "mnist", "test image", "2", 0)
    assert [r[0] for r in rows] == ["Doodler"]
    with pytest.raises(ValueError, match="'pixels' has no latent map; choose one of"):
        latent_map_view(zoo, "mnist", "pixels")
    _, _, smooth = interpolate_view(zoo, "mnist", "1", 0, "7", 0)
    assert [r[0] for r in smooth][:1] == ["Doodler"]       # walked in its code space, between the two pictures
    assert "hopper" in diffusion_models() and "hopper" not in scrubbable() and "pixels" not in diffusion_models()
    tiles, final = reverse_view(zoo, "mnist", "hopper", "4", 0, 3)
    assert len(tiles) == 3 and final.size[0] > 28
    strips, _ = straightness_view(zoo, "mnist", "4", 0)
    assert [c.split(" —")[0] for _, c in strips] == ["Hopper"] and "Hop, 40 steps" in strips[0][1]
    assert training_view(zoo, "mnist", ["doodler"], 1)[0][1].startswith("Doodler — epoch 1")
    rows = {r[0]: r for r in guide_table(zoo, "mnist")}
    assert rows["Doodler"][1:6] == ["yes", "yes", "yes", "yes", "no"]
    assert rows["Pixel table"][1:6] == ["yes", "yes", "no", "no", "exact, in nats"]
    assert rows["Hopper"][1:4] == ["yes", "yes", "no"] and "Hop, 3 steps" in str(rows["Hopper"][6])
    for name, spec in FAMILIES.items():
        text, layers = guide_model(zoo, "mnist", name)
        cls = spec.cls
        assert f"### {spec.title}" in text and cls.about in text and cls.equation in text and cls.teaches in text
        assert all((cls.about, cls.equation, cls.teaches)) and layers
    build_app(zoo)                                   # and the whole app builds with them


def test_every_measurement_that_applies_is_made(zoo3, data_root):
    from genzoo.data import load_split, to_unit
    from genzoo.evaluation import Evaluator, evaluate_model
    from models import Classifier

    x, _ = load_split("mnist", True, str(data_root))
    xt, _ = load_split("mnist", False, str(data_root))
    ev = Evaluator(Classifier(channels=8, feature_dim=16).eval(), to_unit(xt), to_unit(x))
    r = {name: evaluate_model(name, "mnist", zoo3.model("mnist", name), ev, n=20, seed=0, latency_batches=(1,),
                              progress=False, latency_budget_s=0.05) for name in FAMILIES}
    for scores in r.values():
        assert {"fid", "precision", "recall", "class_kl", "sharpness", "copying"} <= set(scores["unconditional"])
        assert "cond_acc" in scores["conditional_samples"] and scores["requires_labels"]
    assert r["doodler"]["reconstruction_mse"] > 0 and r["doodler"]["interpolation_smoothness"] >= 1
    assert r["doodler"]["network_evaluations"] == r["pixels"]["network_evaluations"] == {"default": 1}
    assert r["hopper"]["network_evaluations"] == {"hop-3": 3}           # its own sampler, at its default
    from genzoo import likelihood

    root = zoo3.root
    assert likelihood.likelihood_models("mnist", root) == ["pixels"]              # none other pretends to have one
    likelihood.measure("mnist", n=20, data_root=str(data_root), root=root, progress=False)
    row = likelihood.read("mnist", root)["pixels"]
    model = zoo3.model("mnist", "pixels").cpu
    xt = to_unit(xt[:20])
    assert row["kind"] == "exact" and row["own"]["n"] == row["fashion"]["n"] == 20
    assert row["own"]["bits_per_dim"] == pytest.approx(
        float(-model.log_likelihood(xt).double().mean() / (784 * 0.6931471805599453)), rel=1e-6)
    assert likelihood.percentile(row, row["own"]["percentiles"][0] - 1) == 0.0
    assert likelihood.percentile(row, row["own"]["percentiles"][50]) == pytest.approx(50)


def test_the_exact_likelihood_is_the_known_value():
    """Pixels of known probabilities: log p(x) is the sum of the logs of each pixel's probability."""
    model = PixelTable()
    probs = torch.full((10, 784, 256), 0.5 / 254)
    probs[:, :, 0], probs[:, :, 255] = 0.3, 0.2
    with torch.no_grad():
        model.logits.copy_(probs.log())
    x = torch.zeros(2, 1, 28, 28)
    x[1, 0, :14] = 1.0                                         # half its pixels white
    expected = torch.tensor([784 * torch.log(torch.tensor(0.3)), 392 * (torch.log(torch.tensor(0.3)) +
                                                                        torch.log(torch.tensor(0.2)))])
    torch.testing.assert_close(model.log_likelihood(x, torch.tensor([3, 3])), expected)
    torch.testing.assert_close(model.log_likelihood(x), expected)     # the same table for every class


def test_speed_is_measured_afresh_at_every_click(zoo3, monkeypatch):
    """"Measured just now" means now: a second click times the models again instead of answering from a cache."""
    from genzoo import explore
    from genzoo.app.scoreboard_tab import speed_view

    calls = []
    real = explore.timed_sample
    monkeypatch.setattr(explore, "timed_sample", lambda *a, **k: calls.append(1) or real(*a, **k))
    first, second = speed_view(zoo3, "mnist"), speed_view(zoo3, "mnist")
    assert len(calls) == 12                                  # a warm-up and a timing, per model, at each click
    assert [r[0] for r in first if r[-1] == "ready"] == ["Doodler", "Hopper", "Pixel table"]
    assert len(first) == len(second)


def test_a_smoke_run_card_says_how_many_pictures_it_saw(zoo3):
    card = (zoo3.root / "mnist" / "doodler" / "README.md").read_text()
    assert "| data | MNIST digits, 256 training images (a smoke run) |" in card

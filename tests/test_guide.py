"""The capability table is derived from the models, not typed in."""
import dataclasses

import torch

from genzoo import registry
from genzoo.guide import capabilities, layer_table
from genzoo.app.models_tab import guide_table
from genzoo.zoo import Zoo
from models import GAN, VAE, GenerativeModel


class Sketcher(GenerativeModel):
    """A made-up model: draws, is conditional, no encoder."""
    family = "sketcher"

    def __init__(self):
        super().__init__()
        self._conditional = True
        self._latent_dim = 3
        self.fc = torch.nn.Linear(3, 784)

    def noise(self, n, generator=None):
        return torch.randn(n, 3, generator=generator)

    def generate(self, noise, labels=None, generator=None, **options):
        return torch.sigmoid(self.fc(noise)).view(-1, 1, 28, 28)

    def network_evaluations(self, **options):
        return 7


def test_a_new_registry_entry_gets_a_row(tmp_path, monkeypatch):
    zoo = Zoo(root=tmp_path, datasets=("mnist",), names=[])
    before = guide_table(zoo, "mnist")
    spec = dataclasses.replace(registry.SPECS["gan"], name="sketcher", cls=Sketcher, kwargs={}, title="Sketcher")
    monkeypatch.setitem(registry.SPECS, "sketcher", spec)
    after = guide_table(zoo, "mnist")
    assert len(after) == len(before) + 1
    assert after[-1] == ["Sketcher", "yes", "yes", "no", "yes", "no", 7]


def test_capabilities_follow_the_model_attributes():
    assert capabilities(GAN(conditional=True), "c", {})[1:6] == ["yes", "yes", "no", "yes", "no"]
    assert capabilities(VAE(latent_dim=2), "v", {})[1:6] == ["yes", "no", "yes", "yes",
                                                              "a lower bound (the ELBO), in nats"]


def test_layer_table_covers_every_parameter():
    m = VAE(latent_dim=4, conditional=True)
    rows = layer_table(m)
    assert sum(r[3] for r in rows) == sum(p.numel() for p in m.parameters())
    shapes = {r[0]: r[2] for r in rows}
    assert shapes["encoder.conv.0"] == "32×14×14" and shapes["decoder.deconv.4"] == "1×28×28"


def test_every_tab_opens_with_80_words_or_fewer():
    import re

    from genzoo.app.text import INTRO, TEXT

    counts = {tab: len(re.sub(r"[*_]", "", text).split()) for tab, text in {"intro": INTRO, **TEXT}.items()}
    assert max(counts.values()) <= 80, counts


def test_the_guide_counts_a_distilled_models_runs_without_an_original_sampler():
    """The student draws only at the steps it learned: its row says so, without a 'DDPM' count it does not have."""
    student = registry.SPECS["ddpm-fast"].build(tiny=True)
    row = capabilities(student, "Fast diffusion", registry.sampler_options("ddpm-fast", "mnist"))
    assert row[-1] == f"{student.steps_now} (DDIM, {student.steps_now} steps, guided)"


def test_advice_says_when_the_referee_ranks_another_model_first():
    from types import SimpleNamespace as Row

    from genzoo.guide import advice

    def row(name, fid, referee, ms):
        return Row(name=name, title=name.upper(), fid=fid, referee_fid=referee, ms_per_image=ms, smoothness=None)

    board = Row(models={"cgan": row("cgan", 1.9, 3.0, 0.3), "ddpm-linear": row("ddpm-linear", 2.5, 2.1, 60.0)})
    assert "ranks **DDPM-LINEAR** first instead (its FID 2.10 against 3.00)" in advice(board)
    board.models["ddpm-linear"] = row("ddpm-linear", 2.5, 3.5, 60.0)
    assert "The referee, a scorer trained apart from this project, agrees." in advice(board)
    board.models["cgan"] = row("cgan", 1.9, None, 0.3)          # not scored by the referee: nothing claimed
    assert "referee" not in advice(board)

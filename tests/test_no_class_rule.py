"""One rule for "no class asked": every class-conditional model draws the classes in the training set's proportions,
then each picture from its model of that class, plainly (a diffusion model at guidance 1, never its "no class"
input)."""
import pytest
import torch

from genzoo.data import DATASETS
from genzoo.registry import GENERATIVE, SPECS
from models import DDPM


def small(name):
    torch.manual_seed(0)
    return SPECS[name].build(tiny=True).eval()


def test_the_datasets_know_their_class_shares():
    mnist = DATASETS["mnist"]
    assert sum(mnist.train_counts) == 60000 and mnist.train_counts[1] == 6742     # 1 is MNIST's commonest digit
    assert DATASETS["fashion"].class_prior == (0.1,) * 10
    assert sum(mnist.class_prior) == pytest.approx(1.0)


def test_classes_are_drawn_in_the_given_proportions():
    model = small("cgan")
    prior = DATASETS["mnist"].class_prior
    drawn = model.draw_classes(60000, torch.Generator().manual_seed(0), prior)
    shares = torch.bincount(drawn, minlength=10).double() / 60000
    assert torch.allclose(shares, torch.tensor(prior, dtype=torch.float64), atol=0.005)   # ~4 standard errors
    assert set(model.draw_classes(50, None, [0] * 9 + [1]).tolist()) == {9}
    with pytest.raises(ValueError, match="10 non-negative shares"):
        model.draw_classes(5, None, [1, 2, 3])


@pytest.mark.parametrize("name", [n for n in GENERATIVE if SPECS[n].build(tiny=True).conditional])
def test_every_class_conditional_model_follows_the_rule(name, monkeypatch):
    """Whatever the family, asked for no class, ``generate`` receives classes drawn from the prior."""
    model = small(name)
    seen = {}
    real_generate = model.generate

    def spy(noise, labels=None, generator=None, **options):
        seen.update(labels=labels, options=options)
        return real_generate(noise, labels, generator=generator, **options)
    monkeypatch.setattr(model, "generate", spy)
    opts = {}
    if model.samplers:                  # a step-by-step model: a few steps of its own sampler, guided
        opts = {"sampler": model.default_sampler.sampler, "steps": 4 if model.distilled else 2,
                "guidance": 2.0 if model.distilled else 3.0}
    model.sample(6, generator=torch.Generator().manual_seed(0), class_prior=[0, 0, 0, 1, 0, 0, 0, 0, 0, 0], **opts)
    assert seen["labels"].tolist() == [3] * 6
    if opts:
        assert seen["options"]["guidance"] == 1.0 and seen["options"].get("guidance_interval") is None


def test_a_diffusion_model_asked_for_no_class_never_uses_its_no_class_input(monkeypatch):
    torch.manual_seed(0)
    model = DDPM(T=50, channels=8, channel_mults=(1, 2), num_res_blocks=1).eval()
    calls = []
    real_net = model.net.forward

    def spy(x, t, labels):
        calls.append(labels.clone())
        return real_net(x, t, labels)
    monkeypatch.setattr(model.net, "forward", spy)
    model.sample(4, generator=torch.Generator().manual_seed(1), sampler="ddim", steps=5, guidance=2.5)
    assert len(calls) == 5                                   # guidance 1: one network run a step, not two
    assert all((c != model.null_class).all() for c in calls)
    calls.clear()
    model.generate(model.noise(4), None, sampler="ddim", steps=5)   # the teaching object stays reachable
    assert all((c == model.null_class).all() for c in calls)


def test_asked_for_a_class_the_model_is_guided_as_told(monkeypatch):
    torch.manual_seed(0)
    model = DDPM(T=50, channels=8, channel_mults=(1, 2), num_res_blocks=1).eval()
    batches = []
    real_net = model.net.forward

    def spy(x, t, labels):
        batches.append(len(labels))
        return real_net(x, t, labels)
    monkeypatch.setattr(model.net, "forward", spy)
    model.sample(4, labels=2, generator=torch.Generator().manual_seed(1), sampler="ddim", steps=5, guidance=2.5)
    assert batches == [8] * 5                                # guided: the class and the no-class run together

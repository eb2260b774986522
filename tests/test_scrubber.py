"""The denoising scrubber: its frames are the sampler's own states for the seed, and its guidance sum is the
model's guided answer, for the pixel and the latent model alike."""
import pytest
import torch

from genzoo import explore
from genzoo.registry import SPECS
from models.samplers import make_sampler


@pytest.fixture(params=["ddpm-cosine", "ldm"])
def model(request):
    torch.manual_seed(0)
    m = SPECS[request.param].build(tiny=True).eval()
    for p in m.parameters():            # a non-zero output layer: answers that depend on the input and the class
        p.data.add_(torch.randn_like(p) * 0.02)
    return m


@torch.no_grad()
def test_the_frames_are_the_samplers_own_states_for_the_seed(model):
    trace = explore.denoising_trace(model, seed=7, labels=torch.tensor([3]), steps=6, guidance=1.5)
    s = make_sampler("ddim", model.schedule, model.clip_sample)
    s.set_timesteps(6, model.timestep_spacing)
    g = torch.Generator().manual_seed(7)
    x, labels = model.noise(1, g), torch.tensor([3])
    assert len(trace.frames) == 6
    for (t, xt, x0), t_ref in zip(trace.frames, s.timesteps.tolist()):
        eps = model.predict_eps(x, t_ref, labels, 1.5)
        assert t == t_ref and torch.allclose(xt, x, atol=1e-6)
        assert torch.allclose(x0, s.predict_x0(eps, t_ref, x)[0], atol=1e-6)
        x = s.step(eps, t_ref, x, eta=0.0, generator=g)
    assert torch.allclose(trace.final, x, atol=1e-6)


@torch.no_grad()
def test_the_guidance_terms_add_up_to_the_guided_answer(model):
    x, labels = model.noise(2, torch.Generator().manual_seed(1)), torch.tensor([1, 4])
    eps_u, eps_c, eps = model.guidance_terms(x, 500, labels, 2.0)
    assert not torch.allclose(eps_u, eps_c)
    assert torch.allclose(eps, model.predict_eps(x, 500, labels, 2.0), atol=1e-5)
    assert torch.allclose(eps, eps_u + 2.0 * (eps_c - eps_u))
    words = explore.guidance_sum(eps_u[:1], eps_c[:1], 2.0)
    i = int((eps_c[:1] - eps_u[:1]).abs().flatten().argmax())
    u, c = float(eps_u[:1].flatten()[i]), float(eps_c[:1].flatten()[i])
    assert f"= **{u + 2 * (c - u):+.2f}**" in words
    pictures = model.noise_images(eps)
    assert pictures.min() >= 0 and pictures.max() <= 1 and pictures.shape[1] == 1


def test_a_guidance_distilled_model_says_its_answer_has_no_parts():
    student = SPECS["ddpm-fast"].build(tiny=True).eval()
    with pytest.raises(ValueError, match="takes the guidance strength as an input"):
        student.guidance_terms(student.noise(1), 10, torch.tensor([1]), 1.5)

"""The device boundary (``genzoo.hosting``): CPU tensors in and out, the GPU time sized from the request, a visitor's
error carried back as words, and the CPU fallback when ZeroGPU lends no GPU."""
import gradio as gr
import pytest
import torch

from genzoo import hosting
from genzoo.hosting import DEVICE, MAX_GPU_SECONDS, Served, cpu_seconds, gpu_seconds
from models import DDPM, VAE, Classifier


def tiny_ddpm() -> DDPM:
    torch.manual_seed(0)
    return DDPM(T=50, channels=8, channel_mults=(1, 2), num_res_blocks=1)


def test_off_zerogpu_jobs_run_here_and_the_decorator_is_the_function():
    assert not hosting.ON_ZEROGPU and hosting._leased is hosting._in_lease
    assert DEVICE.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert gpu_seconds(0) == 5 and gpu_seconds(16 * 100) < gpu_seconds(64 * 100) <= MAX_GPU_SECONDS
    assert gpu_seconds(10 ** 9) == MAX_GPU_SECONDS and cpu_seconds(1000) == pytest.approx(6.0)


def test_a_served_model_answers_questions_on_the_cpu_and_runs_networks_through_the_boundary():
    raw = VAE(latent_dim=4)
    served = Served(raw, "test/vae")
    assert served.cpu is raw and served.conditional is False and served.latent_dim == 4
    x = torch.rand(3, 1, 28, 28)
    r = served.reconstruct(x)
    assert r.device.type == "cpu" and r.shape == x.shape
    assert torch.equal(r, raw.reconstruct(x))
    assert served.runs("reconstruct", (x,), {}) == 3 and served.runs("sample", (5,), {}) == 5
    a = served.sample(2, generator=torch.Generator().manual_seed(1))
    b = raw.sample(2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)                      # the same seed draws the same pictures through the boundary


def test_the_gpu_time_counts_every_network_run_of_the_request():
    served = Served(tiny_ddpm(), "test/ddpm")
    assert served.runs("sample", (16,), {"sampler": "ddim", "steps": 20, "guidance": 2.0}) == 16 * 40
    assert served.runs("sample", (16,), {"sampler": "ddim", "steps": 20, "guidance": 1.0}) == 16 * 20
    clf = Served(Classifier(), "test/classifier")    # not generative: one run a picture
    assert clf.runs("predict", (torch.zeros(8, 1, 28, 28),), {}) == 8


def test_a_visitors_error_comes_back_as_words():
    served = Served(VAE(latent_dim=2), "test/vae")
    with pytest.raises(ValueError, match="unconditional"):
        served.sample(2, labels=3)


def test_a_function_of_the_model_runs_as_one_job():
    served = Served(VAE(latent_dim=2), "test/vae")

    def decode_twice(model, z):                  # a module-level function in real use; any callable here
        return model.decode(z), model.decode(-z)

    a, b = served.run(decode_twice, torch.zeros(1, 2), runs=2)
    assert a.shape == b.shape == (1, 1, 28, 28) and a.device.type == "cpu"


def test_without_a_gpu_the_job_runs_on_the_cpu_and_the_visitor_is_told(monkeypatch):
    served = Served(VAE(latent_dim=2), "test/vae")
    told = []

    def no_gpu(job):
        raise gr.Error("You have exceeded your GPU quota", title="ZeroGPU quota exceeded")
    monkeypatch.setattr(hosting, "ON_ZEROGPU", True)
    monkeypatch.setattr(hosting, "_leased", no_gpu)
    monkeypatch.setattr(hosting, "tell_fallback", lambda exc, runs: told.append((exc.title, runs)))
    out = served.decode(torch.zeros(3, 2))
    assert out.shape == (3, 1, 28, 28) and told == [("ZeroGPU quota exceeded", 3)]


def test_any_other_zerogpu_error_is_not_hidden(monkeypatch):
    served = Served(VAE(latent_dim=2), "test/vae")

    def broken(job):
        raise gr.Error("GPU task aborted", title="ZeroGPU worker error")
    monkeypatch.setattr(hosting, "ON_ZEROGPU", True)
    monkeypatch.setattr(hosting, "_leased", broken)
    with pytest.raises(gr.Error, match="aborted"):
        served.decode(torch.zeros(1, 2))


def test_a_request_to_draw_is_one_checked_hashable_value():
    from genzoo.sampling import DrawRequest

    a = DrawRequest.at_defaults("mnist", "ddpm-cosine", 4, 7)
    assert a == DrawRequest.at_defaults("mnist", "ddpm-cosine", 4, 7) and hash(a) == hash(DrawRequest.at_defaults(
        "mnist", "ddpm-cosine", 4, 7))                                      # its own cache key
    assert dict(a.options)["sampler"] == "unipc" and "class_prior" in a.sample_kwargs()    # no class asked: the rule
    labelled = DrawRequest.at_defaults("mnist", "ddpm-cosine", 4, 7, label=3, steps=5)
    assert dict(labelled.options)["steps"] == 5 and "class_prior" not in labelled.sample_kwargs()
    assert DrawRequest.at_defaults("fashion", "gan", 2, 0).options == ()                 # one pass: nothing to set
    for bad, words in ((dict(n=0), "at least 1"), (dict(seed=-1), "seed"), (dict(label=10), "class must lie"),
                       (dict(model="classifier"), "does not draw"), (dict(dataset="cifar"), "unknown dataset")):
        with pytest.raises(ValueError, match=words):
            DrawRequest(**{**dict(dataset="mnist", model="gan", n=2, seed=0), **bad})

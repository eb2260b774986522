"""Noise schedules, the forward process, samplers and guidance against known answers."""
import math

import pytest
import torch

from models import DDPM, NoiseSchedule, make_betas, make_sampler
from models.samplers import DDIMSampler, DDPMSampler
from models.schedules import cosine_alpha_bar

T = 1000


def test_linear_schedule_end_points():
    betas = make_betas("linear", T)
    assert betas.shape == (T,)
    assert betas[0].item() == pytest.approx(1e-4)
    assert betas[-1].item() == pytest.approx(0.02)
    assert torch.all(betas[1:] > betas[:-1])


def test_cosine_schedule_matches_closed_form():
    betas = make_betas("cosine", T)
    abar = torch.cumprod(1 - betas, 0)
    u = torch.arange(1, T + 1, dtype=torch.float64) / T
    closed = cosine_alpha_bar(u) / cosine_alpha_bar(torch.zeros((), dtype=torch.float64))
    # identical until the cap on beta bites at the very end
    uncapped = betas < 0.999
    assert uncapped[:-1].all()
    assert torch.allclose(abar[:-1], closed[:-1], rtol=1e-9, atol=1e-12)
    assert betas.max().item() <= 0.999
    assert betas[0].item() == pytest.approx(1 - cosine_alpha_bar(torch.tensor(1 / T, dtype=torch.float64)).item()
                                            / cosine_alpha_bar(torch.tensor(0.0, dtype=torch.float64)).item())


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_alphas_cumprod_strictly_decreasing_from_near_one_to_near_zero(name):
    s = NoiseSchedule(name, T)
    ac = s.alphas_cumprod
    assert torch.all(ac[1:] < ac[:-1])
    assert 0.99 < ac[0].item() < 1.0
    assert ac[-1].item() < 1e-4
    assert torch.all(s.snr()[1:] < s.snr()[:-1])


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="unknown noise schedule"):
        make_betas("quadratic", T)


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("t", [0, 500, T - 1])
def test_q_sample_mean_and_variance(name, t):
    s = NoiseSchedule(name, T)
    torch.manual_seed(0)
    x0 = torch.full((200_000, 1), 0.7)
    xt = s.q_sample(x0, torch.full((len(x0),), t), torch.randn_like(x0))
    ab = s.alphas_cumprod[t].item()
    assert xt.mean().item() == pytest.approx(math.sqrt(ab) * 0.7, abs=5e-3)
    assert xt.var().item() == pytest.approx(1 - ab, abs=5e-3 + 0.01 * (1 - ab))


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
@pytest.mark.parametrize("steps", [1, 20, 50, T])
def test_timesteps_run_from_T_minus_1_to_0(sampler, steps):
    s = make_sampler(sampler, NoiseSchedule("cosine", T))
    s.set_timesteps(steps)
    ts = s.timesteps
    assert ts[0].item() == T - 1
    assert len(ts) == steps
    if steps > 1:
        assert ts[-1].item() == 0
        assert torch.all(ts[1:] < ts[:-1])
    with pytest.raises(ValueError):
        s.set_timesteps(T + 1)
    with pytest.raises(ValueError):
        s.set_timesteps(0)


def test_ddim_with_eta_one_over_every_step_is_ddpm():
    """sigma_t at eta = 1 equals the DDPM posterior variance, so the two steps agree."""
    sched = NoiseSchedule("linear", T)
    ddpm, ddim = DDPMSampler(sched, clip_sample=None), DDIMSampler(sched, clip_sample=None)
    torch.manual_seed(0)
    x, eps = torch.randn(8, 1, 28, 28), torch.randn(8, 1, 28, 28)
    for t in (T - 1, 500, 1, 0):
        a = ddpm.step(eps, t, x, generator=torch.Generator().manual_seed(3))
        b = ddim.step(eps, t, x, eta=1.0, generator=torch.Generator().manual_seed(3))
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-3), t


def test_ddpm_last_step_returns_predicted_x0():
    sched = NoiseSchedule("cosine", T)
    s = DDPMSampler(sched, clip_sample=None)
    x0 = torch.rand(4, 1, 28, 28)
    eps = torch.randn_like(x0)
    xt = sched.q_sample(x0, torch.zeros(4, dtype=torch.long), eps)
    assert torch.allclose(s.step(eps, 0, xt), x0, atol=1e-4)


@pytest.fixture(scope="module")
def tiny_ddpm():
    torch.manual_seed(0)
    m = DDPM(channels=16, channel_mults=[1, 2], num_res_blocks=1)
    for p in m.parameters():          # non-zero output layer, so predictions differ by label
        p.data.normal_(0, 0.05)
    return m.eval()


def test_ddim_eta_zero_is_deterministic_for_a_seed(tiny_ddpm):
    a = tiny_ddpm.sample(
        3, labels=[1, 2, 3], generator=torch.Generator().manual_seed(7), sampler="ddim", steps=10, eta=0.0
    )
    b = tiny_ddpm.sample(
        3, labels=[1, 2, 3], generator=torch.Generator().manual_seed(7), sampler="ddim", steps=10, eta=0.0
    )
    c = tiny_ddpm.sample(
        3, labels=[1, 2, 3], generator=torch.Generator().manual_seed(8), sampler="ddim", steps=10, eta=0.0
    )
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # with eta = 0 the noise image alone fixes the result: no randomness inside the loop
    noise = tiny_ddpm.noise(3, torch.Generator().manual_seed(7))
    d = tiny_ddpm.generate(
        noise, torch.tensor([1, 2, 3]), generator=torch.Generator().manual_seed(99), steps=10, eta=0.0
    )
    assert torch.equal(a, d)


def test_guidance_scale_zero_is_the_unconditional_prediction(tiny_ddpm):
    torch.manual_seed(1)
    x = torch.randn(4, 1, 28, 28)
    labels = torch.tensor([0, 3, 5, 9])
    null = torch.full((4,), tiny_ddpm.null_class)
    tt = torch.full((4,), 321)
    with torch.no_grad():
        eps_u = tiny_ddpm.net(x, tt, null)
        eps_c = tiny_ddpm.net(x, tt, labels)
        assert torch.allclose(tiny_ddpm.predict_eps(x, 321, labels, 0.0), eps_u, atol=1e-6)
        assert torch.allclose(tiny_ddpm.predict_eps(x, 321, labels, 1.0), eps_c, atol=1e-6)
        assert torch.allclose(tiny_ddpm.predict_eps(x, 321, labels, 3.0), eps_u + 3.0 * (eps_c - eps_u), atol=1e-5)
        assert not torch.allclose(eps_u, eps_c)


def test_trajectory_frames_cover_the_reverse_process(tiny_ddpm):
    x0, frames = tiny_ddpm.denoise(tiny_ddpm.noise(2), torch.tensor([1, 2]), steps=20, frames=5)
    assert [t for t, _, _ in frames][0] == T - 1
    assert [t for t, _, _ in frames][-1] == 0
    assert len(frames) == 5
    assert all(xt.shape == (2, 1, 28, 28) and pred.shape == (2, 1, 28, 28) for _, xt, pred in frames)


@pytest.mark.parametrize("clip", [1.0, 5.0])
def test_predicted_x0_is_clamped_and_eps_rederived(clip):
    """At t = T-1 a small error in eps is magnified ~20,000x in x0 (cosine); the clamp bounds it consistently."""
    sched = NoiseSchedule("cosine", T)
    s = DDIMSampler(sched, clip_sample=clip)
    torch.manual_seed(0)
    x, eps = torch.randn(4, 32), torch.randn(4, 32)
    x0, eps2 = s.predict_x0(eps, T - 1, x)
    assert x0.abs().max() <= clip
    ab = sched.alphas_cumprod[T - 1]
    assert torch.allclose(ab.sqrt() * x0 + (1 - ab).sqrt() * eps2, x, atol=1e-5)
    unclamped, _ = DDIMSampler(sched, clip_sample=None).predict_x0(eps, T - 1, x)
    assert unclamped.abs().max() > 100 * clip


# -- the variational bound ---------------------------------------------------------------------------------------
def test_posterior_weight_is_the_kl_between_the_true_step_back_and_the_models():
    """For random x_0, noise and a wrong eps guess, w_s ||eps - eps_guess||^2 equals the KL between the Gaussians
    q(x_{s-1} | x_s, x_0) and the model's step back of the same variance, computed from their means directly."""
    from models.schedules import NoiseSchedule

    sched = NoiseSchedule("linear", 1000)
    betas = sched.betas.double()
    abar = torch.cumprod(1 - betas, 0)
    w = sched.posterior_weights()
    g = torch.Generator().manual_seed(0)
    for s in (1, 10, 500, 999):
        x0, eps, guess = (torch.randn(784, generator=g, dtype=torch.float64) for _ in range(3))
        xs = abar[s].sqrt() * x0 + (1 - abar[s]).sqrt() * eps
        posterior_mean = (abar[s - 1].sqrt() * betas[s] / (1 - abar[s]) * x0
                          + (1 - betas[s]).sqrt() * (1 - abar[s - 1]) / (1 - abar[s]) * xs)
        model_mean = (xs - betas[s] / (1 - abar[s]).sqrt() * guess) / (1 - betas[s]).sqrt()
        var = betas[s] * (1 - abar[s - 1]) / (1 - abar[s])
        kl = ((posterior_mean - model_mean) ** 2).sum() / (2 * var)
        assert float(w[s] * ((eps - guess) ** 2).sum()) == pytest.approx(float(kl), rel=1e-6)


def test_the_decoder_gives_the_256_levels_all_the_probability():
    from models.diffusion import discretized_gaussian_log_prob

    levels = (torch.arange(256, dtype=torch.float64) / 255 * 2 - 1).view(256, 1, 1, 1)
    for mean in (-1.2, -0.3, 0.97):
        logp = discretized_gaussian_log_prob(levels, torch.full_like(levels, mean), 0.05)
        assert float(logp.exp().sum()) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_the_bound_of_a_perfect_denoiser_is_known(schedule):
    """Every picture black: the best noise guess is known exactly, every step's KL is 0, and the bound is what is
    left at the last step plus the decoder's mass on the black level, in closed form (and so the steps drawn do not
    matter: the index of every step must line up with its noise level)."""
    from models import DDPM

    model = DDPM(schedule=schedule, channels=8, channel_mults=(1, 2), num_res_blocks=1).eval()
    black = -torch.ones(1, 1, 28, 28)
    abar = model.schedule.alphas_cumprod

    class Perfect(torch.nn.Module):
        def forward(self, x, s, labels):
            a = abar[s].view(-1, 1, 1, 1)
            return (x - a.sqrt() * black) / (1 - a).sqrt()

    model.net = Perfect()
    got = model.log_likelihood(torch.zeros(3, 1, 28, 28), steps=7, generator=torch.Generator().manual_seed(0))
    b0 = float(model.schedule.betas[0])
    decoder = 784 * math.log(torch.distributions.Normal(0.0, math.sqrt(b0)).cdf(torch.tensor(1 / 255)).item())
    expected = -float(model.schedule.prior_kl(black)) + decoder
    assert torch.allclose(got, torch.full((3,), expected, dtype=torch.float64), atol=0.05)

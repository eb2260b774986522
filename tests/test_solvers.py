"""Fast solvers against the exact answer: 1-D Gaussian data, whose best noise prediction is closed form and whose
probability-flow ODE maps each starting noise to a known end point."""
import numpy as np
import pytest
import torch

from models.samplers import make_sampler
from models.schedules import NoiseSchedule

MU, S = 0.3, 0.2            # the data: x0 ~ N(MU, S^2)


def exact_eps(schedule: NoiseSchedule, x: torch.Tensor, t: int) -> torch.Tensor:
    """E[eps | x_t] for Gaussian data: x_t ~ N(a MU, a^2 S^2 + s^2), E[x0 | x_t] = MU + a S^2 (x_t - a MU) / var."""
    ab = schedule.alphas_cumprod[t].double()
    a, s = ab.sqrt(), (1 - ab).sqrt()
    x0 = MU + a * S ** 2 * (x - a * MU) / (a ** 2 * S ** 2 + s ** 2)
    return (x - a * x0) / s


def solve(name: str, steps: int, x: torch.Tensor, schedule: NoiseSchedule) -> torch.Tensor:
    sampler = make_sampler(name, schedule, clip_sample=None)
    sampler.set_timesteps(steps)
    for t in sampler.timesteps.tolist():
        x = sampler.step(exact_eps(schedule, x, t), t, x)
    return x


def ode_end_point(schedule: NoiseSchedule, x: torch.Tensor) -> torch.Tensor:
    """The flow keeps (x_t - a MU) / sd(x_t) fixed, so x_T maps to MU + S (x_T - a_T MU) / sd(x_T)."""
    ab = schedule.alphas_cumprod[-1].double()
    a, s = ab.sqrt(), (1 - ab).sqrt()
    return MU + S * (x - a * MU) / (a ** 2 * S ** 2 + s ** 2).sqrt()


@pytest.fixture(scope="module")
def start():
    return torch.randn(20000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_dpm_solver_reaches_the_data_distribution_in_few_steps(start):
    """20 steps: DPM-Solver++ lands within 0.02 of the data's spread where DDIM is still 0.03 short; by 40 steps each
    picture is 6 times closer to the exact end point than DDIM's."""
    sched = NoiseSchedule("cosine")
    dpm, ddim = solve("dpm++2m", 20, start, sched), solve("ddim", 20, start, sched)
    assert abs(dpm.mean().item() - MU) < 0.01 and abs(dpm.std().item() - S) < 0.02
    assert abs(ddim.std().item() - S) > 0.025
    x, exact = start[:2000], ode_end_point(sched, start[:2000])
    dpm, ddim = solve("dpm++2m", 40, x, sched), solve("ddim", 40, x, sched)
    assert (dpm - exact).abs().mean() < 0.25 * (ddim - exact).abs().mean()


def order(name: str, schedule: NoiseSchedule, x: torch.Tensor) -> float:
    """The slope of log(error) against log(steps): about -1 for a first-order solver, -2 for a second-order one."""
    steps = np.array([20, 40, 80])
    exact = ode_end_point(schedule, x)
    errors = [(solve(name, int(n), x, schedule) - exact).abs().mean().item() for n in steps]
    return float(np.polyfit(np.log(steps), np.log(errors), 1)[0])


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_dpm_solver_error_falls_at_second_order_and_ddim_at_first(schedule, start):
    """Measured slopes over 20, 40, 80 steps: DDIM about -1.0 on both schedules; DPM-Solver++ -2.7 (cosine) and -3.2
    (linear): its last step, first order, is small by then, so the fall is a little steeper than 2."""
    sched = NoiseSchedule(schedule)
    x = start[:2000]
    ddim, dpm = order("ddim", sched, x), order("dpm++2m", sched, x)
    assert -1.2 < ddim < -0.8, ddim
    assert -3.6 < dpm < -1.8, dpm


@pytest.mark.parametrize("name", ["dpm++2m", "unipc"])
def test_multistep_history_is_cleared_by_set_timesteps(start, name):
    sched = NoiseSchedule("cosine")
    x = start[:100]
    assert torch.equal(solve(name, 8, x, sched), solve(name, 8, x, sched))


def exact_at(schedule: NoiseSchedule, x: torch.Tensor, t: int) -> torch.Tensor:
    """Where the flow from x at T-1 is at timestep t: (x_t - a_t MU) / sd(x_t) stays the same."""
    ab = schedule.alphas_cumprod.double()
    a, s = ab[-1].sqrt(), (1 - ab[-1]).sqrt()
    z = (x - a * MU) / (a ** 2 * S ** 2 + s ** 2).sqrt()
    a, s = ab[t].sqrt(), (1 - ab[t]).sqrt()
    return a * MU + (a ** 2 * S ** 2 + s ** 2).sqrt() * z


def solve_to(name: str, steps: int, x: torch.Tensor, schedule: NoiseSchedule, t_end: int) -> torch.Tensor:
    """``steps`` evenly spaced steps from T-1 down to the noisy timestep ``t_end``, away from the last steps to the
    clean picture, which every solver here takes at first order."""
    sampler = make_sampler(name, schedule, clip_sample=None)
    sampler.set_timesteps(steps)
    grid = torch.linspace(schedule.T - 1, t_end, steps + 1).round().long()
    sampler.timesteps, sampler._prev = grid[:-1], dict(zip(grid[:-1].tolist(), grid[1:].tolist()))
    for t in sampler.timesteps.tolist():
        x = sampler.step(exact_eps(schedule, x, t), t, x)
    return x


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_unipc_corrector_adds_an_order(schedule, start):
    """Over the noisy part of the path (T-1 down to t = 200), UniPC's corrector lifts DPM-Solver++(2M)'s second order
    to third with no extra network run. Measured slopes over 10, 20, 40 steps: DPM-Solver++ -1.92 (cosine) and -1.89
    (linear), UniPC -2.83 and -2.60; at 10 steps UniPC's error is a half (linear) to a third (cosine) of DPM++'s."""
    sched = NoiseSchedule(schedule)
    x = start[:2000]
    exact = exact_at(sched, x, 200)
    steps = np.array([10, 20, 40])
    slopes, at_10 = {}, {}
    for name in ("dpm++2m", "unipc"):
        errors = [(solve_to(name, int(n), x, sched, 200) - exact).abs().mean().item() for n in steps]
        slopes[name] = float(np.polyfit(np.log(steps), np.log(errors), 1)[0])
        at_10[name] = errors[0]
    assert -2.3 < slopes["dpm++2m"] < -1.7, slopes
    assert slopes["unipc"] < -2.4, slopes
    assert at_10["unipc"] < 0.6 * at_10["dpm++2m"], at_10


def test_unipc_reaches_the_data_distribution_in_few_steps(start):
    """All the way to the clean picture the last steps (first order for both) weigh most, so UniPC is at least as
    close as DPM-Solver++ at 10 steps, not far better: 0.0410 against 0.0418 (cosine)."""
    sched = NoiseSchedule("cosine")
    uni = solve("unipc", 20, start, sched)
    assert abs(uni.mean().item() - MU) < 0.01 and abs(uni.std().item() - S) < 0.02
    x, exact = start[:2000], ode_end_point(sched, start[:2000])
    uni, dpm = solve("unipc", 10, x, sched), solve("dpm++2m", 10, x, sched)
    assert (uni - exact).abs().mean() <= (dpm - exact).abs().mean()


@pytest.mark.parametrize("family", ["pixel", "latent"])
@pytest.mark.parametrize("sampler", ["dpm++2m", "unipc"])
def test_fast_solvers_draw_with_guidance_for_pixel_and_latent_diffusion(family, sampler):
    from models import DDPM, LatentDiffusion

    torch.manual_seed(0)
    model = (DDPM(channels=8, channel_mults=[1, 2], num_res_blocks=1) if family == "pixel" else
             LatentDiffusion(autoencoder={"grid": 4, "channels": 8},
                             unet={"channels": 8, "channel_mults": [1], "num_res_blocks": 1})).eval()
    for p in model.net.parameters():          # a non-zero output layer, so guidance changes the answer
        p.data.normal_(0, 0.05)
    draw = lambda g: model.sample(4, labels=[0, 1, 2, 3], generator=torch.Generator().manual_seed(3),  # noqa: E731
                                  sampler=sampler, steps=5, guidance=g)
    a, b, unguided = draw(2.0), draw(2.0), draw(1.0)
    assert a.shape == (4, 1, 28, 28) and torch.isfinite(a).all() and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, unguided)
    assert model.network_evaluations(sampler=sampler, steps=5, guidance=2.0) == 10


def test_guidance_in_a_limited_interval_guides_only_there_and_counts_its_runs():
    """Guidance only where sigma_t is in (low, high]: an interval holding every step is full guidance, one holding
    none is the plain class-conditional drawing, bit for bit; the network runs are one a step plus one per guided
    step (the cosine schedule's 10 DPM-Solver++ steps have sigmas 20291, 5.72, 2.77, 1.75, 1.21, 0.85, 0.59, 0.38,
    0.19 and 0.01, so (0.4, 5.42] guides five of them)."""
    from models import DDPM
    from models.samplers import SamplerSettings

    torch.manual_seed(0)
    model = DDPM(channels=8, channel_mults=[1, 2], num_res_blocks=1, schedule="cosine").eval()
    for p in model.net.parameters():
        p.data.normal_(0, 0.05)
    runs = []
    model.net.register_forward_hook(lambda _m, inputs, _o: runs.append(len(inputs[0])))

    def draw(**options):
        runs.clear()
        out = model.sample(2, labels=[3, 4], generator=torch.Generator().manual_seed(5), sampler="dpm++2m",
                           steps=10, guidance=2.0, **options)
        return out, sum(runs) // 2                      # network runs a picture

    full, full_runs = draw()
    everywhere, _ = draw(guidance_interval=(0.0, 1e9))
    nowhere, nowhere_runs = draw(guidance_interval=(1e8, 1e9))
    plain = model.sample(2, labels=[3, 4], generator=torch.Generator().manual_seed(5), sampler="dpm++2m", steps=10,
                         guidance=1.0)
    limited, limited_runs = draw(guidance_interval=(0.4, 5.42))
    assert torch.equal(full, everywhere) and torch.equal(nowhere, plain)
    assert not torch.equal(limited, full) and not torch.equal(limited, plain)
    assert (full_runs, nowhere_runs, limited_runs) == (20, 10, 15)
    settings = SamplerSettings.from_key("dpm++2m-10@0.4-5.42").replace(guidance=2.0)
    assert model.network_evaluations(**settings.options()) == 15 and settings.key(1000) == "dpm++2m-10@0.4-5.42"
    assert settings.replace(sampler="ddim").guidance_interval is None       # a sampler a visitor picks guides fully
    with pytest.raises(ValueError, match="SAMPLER-STEPS"):
        SamplerSettings.from_key("dpm++2m")
    assert settings.words() == "DPM-Solver++, 10 steps, guided mid-way only"          # as the app names them
    assert settings.words(short=True) == "DPM++ 10, mid-way"
    assert SamplerSettings("ddpm", 1000).words(short=True) == "DDPM 1,000"
    assert SamplerSettings("ddim", None).words() == "DDIM, its own steps"

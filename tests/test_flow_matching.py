"""Flow matching: the straight path's known answers, both samplers exact where the velocity is known, the network
runs a drawing costs, and a tiny model that learns."""
import math
import pytest
import torch

from genzoo.registry import SPECS, sampler_options
from models import FlowMatching


def tiny(**kw) -> FlowMatching:
    torch.manual_seed(0)
    return FlowMatching(channels=8, channel_mults=(1, 2), num_res_blocks=1, **kw).eval()


@pytest.mark.parametrize("sampler", ["euler", "heun"])
@pytest.mark.parametrize("steps", [1, 3, 10])
def test_with_the_true_velocity_of_one_picture_every_sampler_lands_on_it(monkeypatch, sampler, steps):
    """For data that is one picture x*, the velocity along the straight paths is (x_t - x*) / t: every path is a
    straight line into x*, so any number of Euler or Heun steps lands exactly there."""
    model = tiny()
    target = torch.rand(2, 1, 28, 28) * 2 - 1

    def velocity(x, t, labels, guidance):
        return (x - target) / t
    monkeypatch.setattr(model, "velocity", velocity)
    x0, _ = model.denoise(torch.randn(2, 1, 28, 28), sampler=sampler, steps=steps)
    assert torch.allclose(x0, target, atol=1e-5)


def test_heun_is_second_order_where_euler_is_first(monkeypatch):
    """A field with a curved exact solution, dx/dt = x (so x(0) = x(1) / e): halving the step cuts Euler's error
    about twice and Heun's about four times."""
    model = tiny()
    monkeypatch.setattr(model, "velocity", lambda x, t, labels, guidance: x)
    start = torch.ones(1, 1, 28, 28)
    exact = start / torch.e

    def error(sampler, steps):
        x0, _ = model.denoise(start, sampler=sampler, steps=steps)      # clamped to [-1, 1]: the answer is inside
        return float((x0 - exact).abs().max())
    assert error("euler", 10) / error("euler", 20) == pytest.approx(2, rel=0.15)
    heun = [error("heun", n) for n in (10, 20)]
    assert heun[0] < error("euler", 10) / 10 and heun[0] / heun[1] > 3


def test_the_training_target_is_the_straight_paths_velocity(monkeypatch):
    """The loss is zero for a network that answers eps - x0 at the x_t on the straight line."""
    model = tiny(p_uncond=0.0)
    x = torch.rand(4, 1, 28, 28)
    torch.manual_seed(3)
    t, eps = torch.rand(4), torch.randn(4, 1, 28, 28)          # what loss() draws next from this seed

    def net(xt, tt, labels):
        x0, s = x * 2 - 1, t.view(-1, 1, 1, 1)
        assert torch.allclose(tt, t * 1000) and torch.allclose(xt, (1 - s) * x0 + s * eps)
        return eps - x0
    monkeypatch.setattr(model.net, "forward", net)
    torch.manual_seed(3)
    loss, _ = model.loss(x, torch.zeros(4, dtype=torch.long))
    assert float(loss) == pytest.approx(0.0, abs=1e-10)


def test_network_runs_count_heuns_two_evaluations_and_guidance():
    model = tiny()
    assert model.network_evaluations(sampler="euler", steps=4, guidance=1.0) == 4
    assert model.network_evaluations(sampler="heun", steps=5, guidance=1.0) == 9      # the last step is Euler's
    assert model.network_evaluations(sampler="heun", steps=5, guidance=2.0) == 18
    assert model.network_evaluations(sampler="heun", steps=5, guidance=2.0, labels_given=False) == 9


def test_it_keeps_its_own_samplers_when_another_familys_is_asked_for():
    assert sampler_options("flow", "mnist", sampler="ddim", steps=7)["sampler"] == "heun"
    assert sampler_options("flow", "mnist", sampler="euler", steps=7) == {
        "sampler": "euler", "steps": 7, "eta": 0.0, "guidance": 1.5}
    with pytest.raises(ValueError, match="euler or heun"):
        tiny().denoise(torch.randn(1, 1, 28, 28), sampler="ddim", steps=3)


def test_a_tiny_flow_learns_a_tiny_batch(batch):
    """60 steps on 16 pictures: the velocity loss falls by more than 4 (1.89 to 0.33 measured)."""
    x, y = batch[0][:16], batch[1][:16]
    torch.manual_seed(0)
    model = SPECS["flow"].build(tiny=True).train()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)

    def mean_loss():
        torch.manual_seed(1)
        with torch.no_grad():
            return sum(float(model.loss(x, y)[0]) for _ in range(8)) / 8
    before = mean_loss()
    for _ in range(60):
        loss, _ = model.loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert mean_loss() < before / 4


def test_the_trajectory_shows_the_picture_each_state_points_at():
    model = tiny()
    x0, frames = model.denoise(torch.randn(1, 1, 28, 28), torch.tensor([2]), sampler="euler", steps=6, frames=6)
    assert [t for t, _, _ in frames] == [999, 832, 666, 500, 333, 167]
    assert all(state.shape == pred.shape == (1, 1, 28, 28) for _, state, pred in frames)


def test_path_bend_known_answers():
    from genzoo.metrics import path_bend

    line = torch.linspace(0, 1, 11)[:, None] * torch.tensor([3.0, 4.0])
    assert path_bend(line)[0] == pytest.approx(0.0, abs=1e-6)
    corner = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])         # out to a right angle and back
    bend, along, off = path_bend(corner)
    assert bend == pytest.approx(0.5) and along.tolist() == pytest.approx([0, 0.5, 1]) and off[1] == pytest.approx(0.5)
    angle = torch.linspace(0, torch.pi / 2, 2001, dtype=torch.float64)  # a quarter circle: 1 - cos 45° off a chord √2
    arc = torch.stack([angle.cos(), angle.sin()], dim=1)
    assert path_bend(arc)[0] == pytest.approx((1 - 2 ** -0.5) / 2 ** 0.5, rel=1e-5)
    with pytest.raises(ValueError, match="ends where it starts"):
        path_bend(torch.zeros(3, 2))


def test_the_shipped_flow_draws_along_straighter_paths_than_diffusion():
    """The straightness view's claim, measured on the shipped MNIST weights: from the same noise and class, the
    flow's path strays less from the straight line than the DDPM's DDIM path (a quarter circle would stray 21 %)."""
    from genzoo import explore
    from genzoo.checkpoints import PROJECT_ROOT, load_model
    from genzoo.metrics import path_bend

    root = PROJECT_ROOT / "checkpoints"
    flow, ddpm = (load_model("mnist", n, root=root) for n in ("flow", "ddpm-cosine"))
    for seed in range(2):
        noise = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
        bends = [path_bend(explore.trace_path(m, noise, torch.tensor([seed]), 20, 1.5)[0])[0] for m in (flow, ddpm)]
        assert bends[0] < 0.6 * bends[1], bends


def test_likelihood_through_the_ode_is_the_known_density():
    """For pictures of independent Gaussian pixels N(0.3, 0.5²) the velocity of the straight path is known in closed
    form (linear in x); following it to noise must give back the Gaussian's own log-density."""
    from models import FlowMatching

    model = FlowMatching(channels=8, channel_mults=(1, 2), num_res_blocks=1).eval()
    mean, spread = 0.3, 0.5

    def velocity(x, t, labels, guidance):          # E[eps - x0 | x_t] for Gaussian pictures
        var = (1 - t) ** 2 * spread ** 2 + t ** 2
        return (t - (1 - t) * spread ** 2) / var * (x - (1 - t) * mean) - mean

    model.velocity = velocity
    x0 = mean + spread * torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    exact = (-0.5 * ((x0 - mean) / spread) ** 2 - math.log(spread) - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)
    got = model.ode_log_density(x0, None, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(got.float(), exact, atol=0.5)        # of about -560 nats: 0.001 bits a pixel
    coarse = model.ode_log_density(x0, None, steps=4, generator=torch.Generator().manual_seed(1))
    assert (coarse.float() - exact).abs().max() > (got.float() - exact).abs().max()    # more steps, closer

"""The two exact-likelihood families against answers known in closed form: the PixelCNN on pictures of independent
pixels with known probabilities, the normalizing flow on logit-normal pixels; the flow's log-determinant against the
full Jacobian, and its round trip from picture to noise and back."""
import math

import pytest
import torch

from models import NormalizingFlow, PixelCNN

LEVELS = torch.tensor([0, 85, 170, 255])
PROBS = torch.tensor([0.4, 0.3, 0.2, 0.1])


def independent_pixels(n: int, generator: torch.Generator) -> torch.Tensor:
    """Pictures whose 784 pixels are drawn on their own, each level with probability ``PROBS``."""
    pick = torch.multinomial(PROBS, n * 784, replacement=True, generator=generator)
    return (LEVELS[pick].float() / 255).view(n, 1, 28, 28)


def test_pixelcnn_sees_only_the_pixels_before_each_one_and_all_of_them_nearby():
    torch.manual_seed(0)
    model = PixelCNN(channels=8, layers=4, hidden=16).eval()
    x = PixelCNN.scaled(torch.rand(1, 1, 28, 28)).requires_grad_(True)
    labels = torch.tensor([3])
    logits = model.horizontal(x, model.vertical(x, labels), labels)
    order = torch.arange(784).view(28, 28)
    for i, j in [(0, 0), (5, 7), (10, 0), (27, 27)]:
        (grad,) = torch.autograd.grad(logits[0, :, i, j].sum(), x, retain_graph=True)
        seen = grad[0, 0] != 0
        assert not seen[order >= i * 28 + j].any(), "a pixel's probabilities must not depend on it or later ones"
        if i > 0:       # the pixel above and to the right: the classic PixelCNN's blind spot
            assert seen[i - 1, min(j + 1, 27)] and seen[i - 1, j]
        if j > 0:
            assert seen[i, j - 1]


@pytest.fixture(scope="module")
def learned_pixelcnn():
    """A tiny PixelCNN trained on independent pixels: the best it can do is the true per-pixel entropy."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    model = PixelCNN(channels=8, layers=2, hidden=16, p_uncond=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(120):
        loss, _ = model.loss(independent_pixels(16, g), torch.randint(0, 10, (16,), generator=g))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def test_pixelcnn_log_likelihood_reaches_the_known_entropy(learned_pixelcnn):
    entropy = float(-(PROBS * PROBS.log()).sum())                    # nats per pixel
    x = independent_pixels(64, torch.Generator().manual_seed(2))
    labels = torch.randint(0, 10, (64,))
    with torch.no_grad():
        per_pixel = -learned_pixelcnn.log_likelihood(x, labels).mean() / 784
        mixture = -learned_pixelcnn.log_likelihood(x).mean() / 784
    assert per_pixel == pytest.approx(entropy, rel=0.02)
    # with no class: the mean of the ten classes' probabilities, never below the best class's share of it
    assert mixture == pytest.approx(entropy, rel=0.02)


def test_pixelcnn_draws_each_level_as_often_as_its_probability(learned_pixelcnn):
    g = torch.Generator().manual_seed(3)
    noise = learned_pixelcnn.noise(4, g)
    steps = []
    pictures = learned_pixelcnn.generate(noise, torch.tensor([0, 1, 2, 3]), progress=lambda i, n: steps.append(i))
    assert steps == list(range(1, 29))                                # a progress report for every row
    counts = torch.stack([(pictures * 255).round().eq(v).sum() for v in LEVELS]).float()
    assert counts.sum() == 4 * 784
    assert torch.allclose(counts / counts.sum(), PROBS, atol=0.03)
    again = learned_pixelcnn.generate(noise, torch.tensor([0, 1, 2, 3]))
    assert torch.equal(pictures, again)                               # the same noise, the same picture


def test_pixelcnn_draws_by_its_own_probabilities():
    """Each drawn level is the one its uniform number picks from the probabilities the model gives the finished
    picture: the fast row-by-row drawing agrees with the one-pass likelihood."""
    torch.manual_seed(0)
    model = PixelCNN(channels=8, layers=3, hidden=16).eval()
    noise = model.noise(2, torch.Generator().manual_seed(1))
    labels = torch.tensor([1, 2])
    pictures = model.generate(noise, labels)
    with torch.no_grad():
        cdf = model.logits(pictures, labels).float().softmax(1).cumsum(1)
    level, u = PixelCNN.levels(pictures), noise.view(2, 1, 28, 28)
    below = torch.where(level > 0, cdf.gather(1, (level - 1).clamp(min=0)), torch.zeros_like(u))
    assert ((below <= u + 1e-5) & (u <= cdf.gather(1, level) + 1e-5)).all()


def trained_actnorm_free_flow() -> NormalizingFlow:
    torch.manual_seed(0)
    return NormalizingFlow(hidden=8, steps=(2, 2, 2)).eval()


def logit_normal_log_density(y: torch.Tensor, mean: float = 0.0, spread: float = 1.0) -> torch.Tensor:
    """The exact density of independent pixels y = sigmoid(mean + spread * N(0, 1)) (through the flow's margin)."""
    from models.normalizing_flow import ALPHA
    s = ALPHA + (1 - 2 * ALPHA) * y
    h = torch.log(s) - torch.log1p(-s)
    normal = -0.5 * ((h - mean) / spread) ** 2 - 0.5 * math.log(2 * math.pi) - math.log(spread)
    return (normal + math.log(1 - 2 * ALPHA) - torch.log(s) - torch.log1p(-s)).flatten(1).sum(1)


def test_flow_at_its_start_gives_the_logit_normal_density_exactly():
    """Untrained, every coupling is the identity and the channel mixes are rotations, so the whole flow's density
    is the logit-normal one, known in closed form: squeezes, splits and log-determinants must all agree."""
    model = trained_actnorm_free_flow()
    y = torch.rand(3, 1, 28, 28).clamp(0.01, 0.99)
    with torch.no_grad():
        got = model.continuous_log_density(y, torch.tensor([0, 4, 9]))
    assert torch.allclose(got, logit_normal_log_density(y), rtol=1e-5, atol=1e-2)


def test_flow_log_determinant_matches_the_full_jacobian():
    model = trained_actnorm_free_flow().double()
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    y = torch.rand(1, 784, generator=g, dtype=torch.float64) * 0.9 + 0.05
    labels = torch.tensor([7])
    jac = torch.autograd.functional.jacobian(lambda v: model.flow(v.view(1, 1, 28, 28), labels)[0].flatten(), y[0])
    assert model.flow(y.view(1, 1, 28, 28), labels)[1].item() == pytest.approx(
        torch.linalg.slogdet(jac)[1].item(), rel=1e-5)


def test_flow_learns_a_known_density():
    """Trained on logit-normal pixels (logit mean −1, spread 0.5), its mean log-density of fresh ones comes within
    1 % of the exact expected value (their negative entropy)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(6)
    model = NormalizingFlow(hidden=8, steps=(1, 1, 1), p_uncond=0.0).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def draw(n):
        return torch.sigmoid(-1 + 0.5 * torch.randn(n, 1, 28, 28, generator=g))

    labels = torch.zeros(32, dtype=torch.long)
    for _ in range(150):
        loss = -model.continuous_log_density(draw(32), labels).mean() / 784
        opt.zero_grad()
        loss.backward()
        opt.step()
    y = draw(64)
    with torch.no_grad():
        learned = model.eval().continuous_log_density(y, labels.repeat(2)).mean()
    exact = logit_normal_log_density(y, -1.0, 0.5).mean()
    assert learned.item() == pytest.approx(exact.item(), rel=0.01)


def test_flow_maps_a_picture_to_its_noise_and_back():
    torch.manual_seed(0)
    model = NormalizingFlow(hidden=8, steps=(2, 2, 2))
    x = (torch.rand(4, 1, 28, 28) * 255).round() / 255
    labels = torch.tensor([1, 2, 3, 4])
    model.train()
    model.loss(x, labels)                                   # sets the ActNorm layers from a batch
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.eval()
    y = model.dequantize(x, centre=True)
    z = model.to_noise(x, labels)
    assert z.shape == (4, 784)
    assert (model.from_noise(z, labels) - y).abs().max() <= 1e-4              # the bar
    assert torch.equal(model.reconstruct(x, labels), x)                       # the 8-bit picture, exactly
    assert torch.equal(model.sample(4, labels=labels, generator=torch.Generator().manual_seed(0)),
                       model.sample(4, labels=labels, generator=torch.Generator().manual_seed(0)))


def test_exact_log_likelihood_counts_the_8_bit_scale():
    """Both families report log p of the 8-bit picture: a flow that knows nothing (identity couplings) on pixels at
    level 0 gets the logit-normal density times the 1/256 width of a level, and a PixelCNN's uniform start gives
    exactly 8 bits a pixel."""
    model = PixelCNN(channels=8, layers=2, hidden=16)
    with torch.no_grad():
        model.head[-1].weight.zero_()
        model.head[-1].bias.zero_()
    x = torch.rand(2, 1, 28, 28)
    bits = -model.log_likelihood(x, torch.tensor([0, 1])) / (784 * math.log(2))
    assert torch.allclose(bits, torch.full((2,), 8.0))
    flow = trained_actnorm_free_flow()
    torch.manual_seed(1)
    with torch.no_grad():
        got = flow.log_likelihood(torch.zeros(2, 1, 28, 28), torch.tensor([0, 1]))
    torch.manual_seed(1)
    y = NormalizingFlow.dequantize(torch.zeros(2, 1, 28, 28))
    assert torch.allclose(got, logit_normal_log_density(y) - 784 * math.log(256), rtol=1e-5)

"""Every family: the shared interface, value ranges, label handling, and a tiny model that must learn."""
import contextlib

import pytest
import torch

from genzoo.registry import GENERATIVE, SPECS
from genzoo.training import EMA
from models import DDPM, GAN, VAE, Autoencoder, Classifier, LatentDiffusion, slerp
from models.autoencoders import bernoulli_nll

SMALL = {"steps": 3}


def small(name):
    """The registry's model at its smoke-run size (same class and interface, a few channels)."""
    return SPECS[name].build(tiny=True).eval()


@pytest.mark.parametrize("name", GENERATIVE)
def test_sample_shape_range_and_determinism(name):
    m = small(name)
    opts = SMALL if m.family in ("diffusion", "latent-diffusion") else {}
    a = m.sample(4, generator=torch.Generator().manual_seed(0), **opts)
    b = m.sample(4, generator=torch.Generator().manual_seed(0), **opts)
    assert a.shape == (4, 1, 28, 28) and a.dtype == torch.float32
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)
    if m.conditional:
        c = m.sample(4, labels=3, generator=torch.Generator().manual_seed(0), **opts)
        assert c.shape == (4, 1, 28, 28)
        with pytest.raises(ValueError, match="labels must lie"):
            m.sample(2, labels=[0, 10], **opts)
        with pytest.raises(ValueError, match="labels for"):
            m.sample(3, labels=[0, 1], **opts)
    else:
        with pytest.raises(ValueError, match="unconditional"):
            m.sample(2, labels=1)
    with pytest.raises(ValueError):
        m.sample(0)


@pytest.mark.parametrize("name", [n for n in GENERATIVE if SPECS[n].cls in (Autoencoder, VAE)])
def test_encode_decode_reconstruct(name, batch):
    m = small(name)
    x, y = batch
    labels = y[:5] if m.conditional else None
    z = m.encode(x[:5], labels)
    assert z.shape == (5, m.latent_dim)
    r = m.reconstruct(x[:5], labels)
    assert r.shape == (5, 1, 28, 28) and 0 <= r.min() and r.max() <= 1
    assert torch.allclose(m.decode(z, labels), r)


def _train(model, x, y, steps, lr):
    opts = model.configure_optimizers(lr)
    model.train()
    logs = [model.train_step(x, y, opts, _no_autocast) for _ in range(steps)]
    model.eval()
    return logs


_no_autocast = contextlib.nullcontext


def _loss(model, x, y, key="loss"):
    torch.manual_seed(0)
    with torch.no_grad():
        return model.loss(x, y)[1][key]


@pytest.mark.parametrize("make,steps,lr,factor", [
    (lambda: Autoencoder(latent_dim=8, channels=8, hidden=64), 150, 3e-3, 3.0),
    (lambda: Autoencoder(grid=1, channels=8), 150, 3e-3, 3.0),
    (lambda: VAE(latent_dim=8, beta=1.0, channels=8, hidden=64), 150, 3e-3, 2.0),
    (lambda: VAE(latent_dim=8, conditional=True, channels=8, hidden=64), 150, 3e-3, 2.0),
    (lambda: DDPM(channels=8, channel_mults=[1, 2], num_res_blocks=1, dropout=0.0), 100, 3e-3, 3.0),
    (lambda: Classifier(channels=8, feature_dim=32), 60, 2e-3, 5.0),
], ids=["ae", "ae-grid", "vae", "cvae", "ddpm", "classifier"])
def test_tiny_model_overfits_tiny_batch(make, steps, lr, factor, batch):
    torch.manual_seed(0)
    model = make()
    x, y = batch
    before = _loss(model, x, y)
    _train(model, x, y, steps, lr)
    after = _loss(model, x, y)
    assert after < before / factor, (before, after)


@pytest.mark.parametrize(
    "code, denoiser",
    [
        ({"latent_dim": 4, "channels": 8, "hidden": 32}, {"width": 64, "depth": 2}),  # vector code, MLP
        (
            {"grid": 1, "channels": 8},
            {"unet": {"channels": 16, "channel_mults": [1], "num_res_blocks": 1}},
        ),  # 7x7 grid, UNet
    ],
)
def test_latent_diffusion_learns_the_code_distribution(batch, code, denoiser):
    torch.manual_seed(0)
    x, y = batch
    ae = Autoencoder(**code)
    _train(ae, x, y, 50, 2e-3)
    ldm = LatentDiffusion(autoencoder=code, **denoiser)
    ldm.set_base(ae, x)
    d = ae.latent_dim
    assert torch.allclose(ldm.from_images(x).mean(0), torch.zeros(d), atol=1e-4)
    before = sum(_loss(ldm, x, y) for _ in range(5))
    _train(ldm, x, y, 300, 2e-3)
    after = sum(_loss(ldm, x, y) for _ in range(5))
    assert after < before / 2, (before, after)
    # the frozen autoencoder is not touched by training
    assert all(torch.equal(a, b) for a, b in zip(ae.state_dict().values(), ldm.autoencoder.state_dict().values()))


def test_latent_unet_needs_a_grid_code():
    with pytest.raises(ValueError, match="grid autoencoder"):
        LatentDiffusion(autoencoder={"latent_dim": 4}, unet={"channels": 16})


def test_gan_generator_moves_towards_the_data(batch):
    """Two-player training has no single falling loss; measure instead how far the
    generator's mean image is from the data's mean image: it must shrink 3x."""
    torch.manual_seed(0)
    x, y = batch
    gan = GAN(z_dim=16, channels=16)
    target = x.mean(0)
    def dist():
        return (gan.sample(64, generator=torch.Generator().manual_seed(0)).mean(0) - target).pow(2).mean().item()
    before = dist()
    logs = _train(gan, x, y, 200, 1e-3)
    assert dist() < before / 3
    assert {"loss_d", "loss_g", "d_real", "d_fake"} <= set(logs[-1])


def test_conditional_gan_uses_its_labels(batch):
    gan = GAN(z_dim=16, channels=16, conditional=True)
    z = gan.noise(4, torch.Generator().manual_seed(0))
    assert not torch.equal(gan.generate(z, torch.tensor([0, 0, 0, 0])), gan.generate(z, torch.tensor([5, 5, 5, 5])))


def test_gan_critic_step_sends_no_gradient_into_the_generator(batch):
    """The critic learns from generated pictures *detached* from the generator: when its optimiser steps, the
    generator has received no gradient from the critic's loss; then the generator's own step moves it."""
    torch.manual_seed(0)
    x, y = batch
    gan = GAN(z_dim=16, channels=16)
    opt_g, opt_d = gan.configure_optimizers(1e-3)
    for p in gan.generator.parameters():
        p.grad = torch.zeros_like(p)
    seen, critic_step = {}, opt_d.step

    def spy(*args, **kwargs):            # the moment the critic's optimiser steps
        seen["generator"] = sum(p.grad.abs().sum().item() for p in gan.generator.parameters() if p.grad is not None)
        seen["critic"] = sum(p.grad.abs().sum().item() for p in gan.discriminator.parameters())
        return critic_step(*args, **kwargs)

    opt_d.step = spy
    before = [p.clone() for p in gan.generator.parameters()]
    gan.train_step(x, y, [opt_g, opt_d], _no_autocast)
    assert seen["generator"] == 0 and seen["critic"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, gan.generator.parameters()))


def test_vae_beta_trades_reconstruction_for_kl(batch):
    x, y = batch
    results = {}
    for beta in (0.0, 1.0, 10.0):
        torch.manual_seed(0)
        m = VAE(latent_dim=8, beta=beta, channels=8, hidden=64)
        _train(m, x, y, 150, 3e-3)
        torch.manual_seed(1)
        with torch.no_grad():
            nll, kl = m.terms(x)
        results[beta] = (nll.mean().item(), kl.mean().item())
    assert results[0.0][0] < results[1.0][0] < results[10.0][0]
    assert results[10.0][1] < results[1.0][1] < results[0.0][1]


def test_adversarial_epochs_sharpen_only_the_decoder(batch):
    """After ``adversarial_start`` the encoder is frozen (the codes a latent diffusion model learned stay valid), the
    decoder and the discriminator learn, and the critic's pull is rescaled to match the pixel loss's."""
    torch.manual_seed(0)
    x, y = batch
    ae = Autoencoder(grid=2, channels=8, adversarial=1.0, adversarial_start=1)
    opts = ae.configure_optimizers(1e-3)
    ae.train()
    ae.on_epoch_start(1)
    assert not ae.sharpening
    ae.train_step(x, y, opts, _no_autocast)           # epoch 1: a plain reconstruction step moves the encoder
    ae.on_epoch_start(2)
    assert ae.sharpening
    enc, dec, disc = ([p.clone() for p in m.parameters()] for m in (ae.encoder, ae.decoder, ae.discriminator))
    for _ in range(3):
        logs = ae.train_step(x, y, opts, _no_autocast)
    assert all(torch.equal(a, b) for a, b in zip(enc, ae.encoder.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(dec, ae.decoder.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(disc, ae.discriminator.parameters()))
    assert {"recon_nll", "adv", "adv_weight", "loss_d", "d_real", "d_fake"} <= set(logs)
    # the adaptive weight makes both terms pull equally hard on the decoder's last layer (times ``adversarial``)
    logits = ae.decoder(ae.encoder(x).detach())
    rec = bernoulli_nll(logits, x).mean()
    adv = torch.nn.functional.softplus(-ae.discriminator(torch.sigmoid(logits))).mean()
    w = ae.adaptive_weight(rec, adv)
    last = ae.decoder.deconv[-1].weight
    g_rec, g_adv = (torch.autograd.grad(t, last, retain_graph=True)[0].norm().item() for t in (rec, adv))
    assert w * g_adv == pytest.approx(g_rec, rel=2e-4 / g_adv)      # equal, but for the 1e-4 guard against 0 / 0
    # drawing and the latent diffusion's copy never need the discriminator
    assert not any(k.startswith("discriminator.") for k in ae.autoencoder_state())
    assert "discriminator." in ae.new_parts() and Autoencoder(grid=2).new_parts() == ()


def test_autoencoder_prior_is_fitted_to_codes(batch):
    x, y = batch
    ae = Autoencoder(latent_dim=4)
    ae.on_epoch_end(x, y)
    z = ae.encode(x).double()
    assert torch.allclose(ae.prior_mean.double(), z.mean(0), atol=1e-5)
    cov = ae.prior_scale_tril.double() @ ae.prior_scale_tril.double().T
    assert torch.allclose(cov, torch.cov(z.T), atol=1e-3)


def test_slerp_end_points_and_norm():
    a, b = torch.randn(64), torch.randn(64)
    path = slerp(a, b, torch.linspace(0, 1, 5))
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    # for equal norms the path stays on the sphere
    b = b / b.norm() * a.norm()
    norms = slerp(a, b, torch.linspace(0, 1, 7)).norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, a.norm().item()), rtol=1e-4)


def test_ema_averages_and_swaps_back():
    m = Autoencoder(latent_dim=2, channels=8, hidden=16)
    ema = EMA(m, decay=0.5)
    p = m.ema_parameters()[0]
    start = p.detach().clone()
    with torch.no_grad():
        p.add_(1.0)
    ema.update(step=10**6)                 # warm-up over: decay 0.5
    assert torch.allclose(ema.shadow[0], start + 0.5)
    with ema.swapped():
        assert torch.allclose(p, start + 0.5)
    assert torch.allclose(p, start + 1.0)


@pytest.mark.parametrize("name", [n for n in GENERATIVE if SPECS[n].cls in (DDPM, LatentDiffusion)])
def test_network_evaluations_counts_guidance(name):
    m = small(name)
    assert m.network_evaluations(sampler="ddim", steps=50, guidance=2.0) == 100
    assert m.network_evaluations(sampler="ddim", steps=20, guidance=1.0) == 20
    assert m.network_evaluations(sampler="ddpm", guidance=0.0) == 1000


def test_classifier_shifts_only_training_images(batch):
    """The shift augmentation is for training; a held-out score must see the images as they are, so two
    evaluations agree and equal the plain cross-entropy of the unshifted batch."""
    x, y = batch
    model = Classifier(channels=8, feature_dim=32, dropout=0.0).eval()   # no dropout: the shift is the only chance
    with torch.no_grad():
        plain = torch.nn.functional.cross_entropy(model(x), y, label_smoothing=0.05).item()
        losses = [model.loss(x, y)[1]["loss"] for _ in range(5)]
    assert losses == pytest.approx([plain] * 5, rel=1e-6)
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        shifted = {round(model.loss(x, y)[1]["loss"], 6) for _ in range(10)}
    assert len(shifted) > 1                       # training draws a new shift each batch

"""Autoencoder, VAE / beta-VAE and conditional VAE with Bernoulli decoders.

Images live in [0, 1]; the decoder outputs logits and ``decode`` applies the
sigmoid. The reconstruction term is the Bernoulli negative log-likelihood
summed over the 784 pixels, so losses read in nats per image.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from .autoencoder_parts import ConvDecoder, ConvEncoder, GridDecoder, GridEncoder, PatchDiscriminator
from .base import GenerativeModel


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x | logits) summed over pixels, one value per image (nats)."""
    return F.binary_cross_entropy_with_logits(logits.float(), x, reduction="none").flatten(1).sum(1)


#: the decoder read as a distribution over the 256 grey levels (to compare likelihoods with models of 8-bit
#: pictures): each pixel a discretized logistic centred on the decoder's output, with this spread in grey levels.
#: The best single spread for the shipped VAEs' bounds, fitted on 500 training pictures, lay between e^2.75 and
#: e^3.5 grey levels on both datasets; a spread that also grows with the grey of the centre gained under 0.1 bits.
LEVEL_SPREAD = 20.0


def discretized_logistic_log_prob(logits: torch.Tensor, x: torch.Tensor, spread: float = LEVEL_SPREAD
                                  ) -> torch.Tensor:
    """log p of the pictures' 8-bit levels, each pixel's level k having the mass a logistic centred on
    255·sigmoid(logit) gives [k − ½, k + ½] (levels 0 and 255 take the tails), summed per picture (nats)."""
    levels = (x * 255).round()
    centre = torch.sigmoid(logits.float()) * 255
    upper = torch.where(levels >= 255, torch.full_like(centre, torch.inf), (levels + 0.5 - centre) / spread)
    lower = torch.where(levels <= 0, torch.full_like(centre, -torch.inf), (levels - 0.5 - centre) / spread)
    mass = torch.sigmoid(upper) - torch.sigmoid(lower)
    return mass.clamp(min=1e-12).log().flatten(1).sum(1)


class Autoencoder(GenerativeModel):
    """Deterministic autoencoder. To draw new images it samples a Gaussian fitted
    to the training codes (``prior_mean``, ``prior_scale_tril``): the classic way to
    show that a plain autoencoder's latent space has holes.

    With ``grid = k`` the code is a k x 7 x 7 grid (``latent_dim`` = 49 k numbers, flattened, so
    maps, interpolation and sampling treat it like any other code).

    With ``adversarial = w > 0`` the epochs after ``adversarial_start`` sharpen the decoder against a
    ``PatchDiscriminator``, as the first stage of latent diffusion is trained (Rombach et al. 2022): the encoder is
    frozen there, so the codes stay exactly what they were, and the decoder minimises its reconstruction loss plus
    ``w`` times an adversarial loss rescaled to pull as hard on the decoder's last layer (Esser et al.'s adaptive
    weight). The discriminator only trains; drawing never uses it."""

    family = "autoencoder"
    about = (
        'An **encoder** squeezes each picture into a short code and a **decoder** rebuilds the picture '
        'from it; training only asks for good rebuilds. Nothing makes the codes fill a tidy region, so '
        'a random code often lands in a gap and decodes to a smudge: it is a compressor, not really a '
        'generator (here it draws by sampling a bell curve fitted to its codes).')
    equation = (
        '$$\\min_{\\phi,\\theta}\\; \\mathbb{E}_x\\big[-\\log p_\\theta(x \\mid z = f_\\phi(x))\\big]$$')
    can_encode = True

    def __init__(self, latent_dim: int = 8, channels: int = 32, hidden: int = 256, grid: int = 0,
                 adversarial: float = 0.0, adversarial_start: int = 0):
        super().__init__()
        if grid:
            latent_dim = grid * 49
        self._latent_dim = latent_dim
        self.grid = grid
        self.encoder = GridEncoder(grid, channels) if grid else ConvEncoder(latent_dim, channels, hidden)
        self.decoder = GridDecoder(grid, channels) if grid else ConvDecoder(latent_dim, channels, hidden)
        self.register_buffer("prior_mean", torch.zeros(latent_dim))
        self.register_buffer("prior_scale_tril", torch.eye(latent_dim))
        self.adversarial, self.adversarial_start = float(adversarial), int(adversarial_start)
        self.discriminator = PatchDiscriminator() if adversarial else None
        self.sharpening = False     # set per epoch by ``on_epoch_start``

    def encode(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z).float())

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        return self.decode(self.encode(x))

    def noise(self, n, generator=None):
        return torch.randn(n, self.latent_dim, generator=generator).to(self.device)

    @torch.no_grad()
    def generate(self, noise, labels=None, generator=None, **options):
        return self.decode(self.prior_mean + noise @ self.prior_scale_tril.T)

    def loss(self, x, y):
        logits = self.decoder(self.encoder(x))
        nll = bernoulli_nll(logits, x).mean()
        mse = F.mse_loss(torch.sigmoid(logits.float()), x)
        return nll, {"loss": nll.item(), "recon_nll": nll.item(), "mse": mse.item()}

    # -- the adversarial phase ---------------------------------------------------------------
    def autoencoder_state(self) -> dict[str, torch.Tensor]:
        """The weights that encode and decode (not the discriminator, which only trains)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("discriminator.")}

    def new_parts(self) -> tuple[str, ...]:
        return ("discriminator.",) if self.discriminator is not None else ()

    def configure_optimizers(self, lr):
        """The autoencoder's optimiser; with a critic, also the critic's and a fresh one for the decoder's
        adversarial epochs, both with the short memory (betas 0.5, 0.9) that keeps a two-player game stable."""
        ae = [p for name, p in self.named_parameters() if not name.startswith("discriminator.")]
        opts = [torch.optim.AdamW(ae, lr=lr, weight_decay=0.0)]
        if self.discriminator is not None:
            opts += [torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(0.5, 0.9)),
                     torch.optim.Adam(self.decoder.parameters(), lr=lr, betas=(0.5, 0.9))]
        return opts

    def ema_parameters(self):
        return [p for name, p in self.named_parameters() if not name.startswith("discriminator.")]

    def on_epoch_start(self, epoch: int) -> None:
        self.sharpening = self.discriminator is not None and epoch > self.adversarial_start

    def adaptive_weight(self, rec: torch.Tensor, adv: torch.Tensor) -> float:
        """``adversarial`` x |grad rec| / |grad adv| at the decoder's last layer, so neither loss drowns the other."""
        last = self.decoder.deconv[-1].weight
        g_rec = torch.autograd.grad(rec, last, retain_graph=True)[0].norm()
        g_adv = torch.autograd.grad(adv, last, retain_graph=True)[0].norm()
        return self.adversarial * (g_rec / (g_adv + 1e-4)).clamp(max=1e4).item()

    def train_step(self, x, y, optimizers, autocast):
        if not self.sharpening:
            return super().train_step(x, y, optimizers[:1], autocast)
        _, opt_d, opt_dec = optimizers
        with torch.no_grad(), autocast():
            z = self.encoder(x).float()         # frozen: the codes do not move
        with autocast():
            logits = self.decoder(z)
        rec = bernoulli_nll(logits, x).mean()
        fake = torch.sigmoid(logits.float())
        with autocast():
            adv = F.softplus(-self.discriminator(fake).float()).mean()      # non-saturating: -log D(rebuilt)
        weight = self.adaptive_weight(rec, adv)
        opt_dec.zero_grad(set_to_none=True)
        (rec + weight * adv).backward()
        opt_dec.step()
        with autocast():
            d_real, d_fake = self.discriminator(x).float(), self.discriminator(fake.detach()).float()
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        return {"loss": rec.item(), "recon_nll": rec.item(), "mse": F.mse_loss(fake.detach(), x).item(),
                "adv": adv.item(), "adv_weight": weight, "loss_d": loss_d.item(),
                "d_real": torch.sigmoid(d_real).mean().item(), "d_fake": torch.sigmoid(d_fake).mean().item()}

    @torch.no_grad()
    def on_epoch_end(self, x, y):
        """Fit the Gaussian that ``sample`` draws codes from."""
        z = torch.cat([self.encode(x[i:i + 1000].to(self.device)) for i in range(0, len(x), 1000)]).double()
        cov = torch.cov(z.T) + 1e-5 * torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
        self.prior_mean.copy_(z.mean(0))
        self.prior_scale_tril.copy_(torch.linalg.cholesky(cov))


class VAE(GenerativeModel):
    """Variational autoencoder with a weight ``beta`` on the KL term (beta-VAE).

    Gaussian encoder q(z|x) = N(mu, diag(sigma^2)), standard normal prior,
    Bernoulli decoder. With ``conditional=True`` the one-hot label goes into both
    the encoder and the decoder (a conditional VAE). The loss per image is
    ``-log p(x|z) + beta * KL(q(z|x) || p(z))``; the ELBO (beta = 1) is reported
    in nats per image whatever beta is.
    """

    family = "vae"
    about = (
        'A **variational autoencoder** encodes each picture as a small cloud of codes and is pushed (by '
        'the KL term, weighted by β) to keep those clouds close to a standard bell curve. Random codes '
        'then decode to plausible pictures. Because it must hedge between all pictures that fit a code, '
        'its rebuilds and samples are **blurry**. It also gives a bound on how likely each picture is '
        '(the ELBO).')
    equation = (
        '$$\\mathcal{L}_\\beta(x) = \\mathbb{E}_{q_\\phi(z\\mid x)}\\big[\\log p_\\theta(x\\mid z)\\big] - '
        '\\beta\\, \\mathrm{KL}\\big(q_\\phi(z\\mid x)\\,\\|\\,\\mathcal{N}(0, I)\\big),\\qquad \\beta = 1:\\ '
        '\\mathcal{L}_1(x) \\le \\log p_\\theta(x)\\ \\text{(the ELBO)}$$')
    can_encode = True
    likelihood = "bound"          # the ELBO
    importance_samples = 100      # and the importance-weighted bound with 100 draws

    def __init__(self, latent_dim: int = 16, beta: float = 1.0, conditional: bool = False,
                 num_classes: int = 10, channels: int = 32, hidden: int = 256):
        super().__init__()
        self._latent_dim = latent_dim
        self.beta = beta
        self._conditional = conditional
        self.num_classes = num_classes
        extra = num_classes if conditional else 0
        self.encoder = ConvEncoder(2 * latent_dim, channels, hidden, extra=extra)
        self.decoder = ConvDecoder(latent_dim + extra, channels, hidden)

    def _onehot(self, labels: Optional[torch.Tensor], n: int) -> Optional[torch.Tensor]:
        if not self._conditional:
            return None
        if labels is None:
            raise ValueError("the conditional VAE needs a class label for each image")
        return F.one_hot(torch.as_tensor(labels, device=self.device).long().expand(n), self.num_classes).float()

    def encode_distribution(self, x: torch.Tensor, labels=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x)."""
        mu, logvar = self.encoder(x, self._onehot(labels, len(x))).float().chunk(2, dim=1)
        return mu, logvar.clamp(-30, 20)

    def encode(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        """The mean code, used for maps, interpolation and reconstruction."""
        return self.encode_distribution(x, labels)[0]

    def decoder_logits(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        c = self._onehot(labels, len(z))
        return self.decoder(z if c is None else torch.cat([z, c], dim=1))

    def decode(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        return torch.sigmoid(self.decoder_logits(z, labels).float())

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        return self.decode(self.encode(x, labels), labels)

    def noise(self, n, generator=None):
        return torch.randn(n, self.latent_dim, generator=generator).to(self.device)

    @torch.no_grad()
    def generate(self, noise, labels=None, generator=None, **options):
        return self.decode(noise, labels)

    def terms(self, x: torch.Tensor, labels=None, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image reconstruction NLL and KL (nats), with one reparameterised draw."""
        mu, logvar = self.encode_distribution(x, labels)
        eps = torch.randn(mu.shape, generator=generator).to(mu.device) if generator else torch.randn_like(mu)
        z = mu + (0.5 * logvar).exp() * eps
        nll = bernoulli_nll(self.decoder_logits(z, labels), x)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)  # KL(N(mu, s^2) || N(0, 1))
        return nll, kl

    def log_weights(self, x: torch.Tensor, labels=None, k: int = 1, generator=None) -> torch.Tensor:
        """log p(x | z) + log p(z) − log q(z | x) for ``k`` codes drawn from q(z | x), ``[n, k]`` (nats), with the
        decoder read as a distribution over 8-bit grey levels (``LEVEL_SPREAD``)."""
        mu, logvar = self.encode_distribution(x, labels)
        out = []
        for _ in range(k):
            eps = torch.randn(mu.shape, generator=generator).to(mu.device) if generator else torch.randn_like(mu)
            z = mu + (0.5 * logvar).exp() * eps
            log_pz = (-0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)).sum(1)
            log_qz = (-0.5 * eps.pow(2) - 0.5 * logvar - 0.5 * math.log(2 * math.pi)).sum(1)
            out.append(discretized_logistic_log_prob(self.decoder_logits(z, labels), x) + log_pz - log_qz)
        return torch.stack(out, 1)

    def log_likelihood(self, x: torch.Tensor, labels=None, k: int = 1, generator=None) -> torch.Tensor:
        """A lower bound on log p of the 8-bit pictures, in nats per picture: the ELBO (``k`` = 1, one draw), or
        the importance-weighted bound of Burda et al. (2016) with ``k`` draws, tighter as ``k`` grows. A conditional
        VAE asked with no class: the mean over the classes of each class's bound (still a bound on log p(x))."""
        if self._conditional and labels is None:
            return self.mean_over_classes(lambda y: self.log_likelihood(x, y, k, generator), len(x), x.device)
        return torch.logsumexp(self.log_weights(x, labels, k, generator), 1) - math.log(k)

    def loss(self, x, y):
        nll, kl = self.terms(x, y if self._conditional else None)
        loss = (nll + self.beta * kl).mean()
        return loss, {"loss": loss.item(), "recon_nll": nll.mean().item(), "kl": kl.mean().item(),
                      "elbo": -(nll + kl).mean().item()}

    @torch.no_grad()
    def kl_per_dimension(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        """Average KL of each latent dimension (nats): near 0 means an unused dimension."""
        mu, logvar = self.encode_distribution(x, labels)
        return (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean(0)

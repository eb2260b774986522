"""The small pixel-space UNet that the diffusion models, flow matching, MeanFlow and the distilled student share:
resolutions 28 -> 14 -> 7 with attention at 7x7, conditioned on the time, the class (with a null class) and, where a
family needs one, one more number (a guidance strength, an interval)."""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (Vaswani et al.; as in DDPM)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * c_out)            # scale and shift
        self.norm2 = nn.GroupNorm(8, c_out)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return h + self.skip(x)


class SelfAttention(nn.Module):
    def __init__(self, c: int, heads: int = 4):
        super().__init__()
        self.norm = nn.GroupNorm(8, c)
        self.attn = nn.MultiheadAttention(c, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.norm(x).flatten(2).transpose(1, 2)
        out, _ = self.attn(q, q, q, need_weights=False)
        return x + out.transpose(1, 2).view(b, c, h, w)


class UNet(nn.Module):
    """Small UNet for 28x28: resolutions 28 -> 14 -> 7, attention at 7x7 in the middle.
    (Latent diffusion runs one at a single 7x7 resolution over a grid of ``in_channels`` codes.)

    eps_theta(x_t, t, y): the time embedding plus a class embedding (``num_classes`` + 1
    entries, the last one the null class) conditions every residual block. With
    ``guidance_input`` a third embedding, of the guidance strength w, is added (a
    guidance-distilled student, Meng et al. 2023); it starts at zero, so a student
    copied from its teacher first answers exactly as the teacher does with a class.
    """

    #: sinusoidal embedding of w * GUIDANCE_SCALE: strengths 0..5 then span frequencies as timesteps 0..1000 do
    GUIDANCE_SCALE = 200.0

    def __init__(self, channels: int = 32, channel_mults: tuple = (1, 2, 2), num_res_blocks: int = 2,
                 num_classes: int = 10, dropout: float = 0.1, in_channels: int = 1, guidance_input: bool = False):
        super().__init__()
        c = channels
        emb = 4 * c
        self.c = c
        self.time_mlp = nn.Sequential(nn.Linear(c, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.class_emb = nn.Embedding(num_classes + 1, emb)
        self.guidance_mlp = None
        if guidance_input:
            self.guidance_mlp = nn.Sequential(nn.Linear(c, emb), nn.SiLU(), nn.Linear(emb, emb))
            nn.init.zeros_(self.guidance_mlp[-1].weight)
            nn.init.zeros_(self.guidance_mlp[-1].bias)
        self.conv_in = nn.Conv2d(in_channels, c, 3, padding=1)
        chans = [c * m for m in channel_mults]
        self.down = nn.ModuleList()
        skips = [c]
        cur = c
        for i, ch in enumerate(chans):
            for _ in range(num_res_blocks):
                self.down.append(ResBlock(cur, ch, emb, dropout))
                cur = ch
                skips.append(cur)
            if i < len(chans) - 1:
                self.down.append(nn.Conv2d(cur, cur, 3, stride=2, padding=1))
                skips.append(cur)
        self.mid = nn.ModuleList([ResBlock(cur, cur, emb, dropout), SelfAttention(cur),
                                  ResBlock(cur, cur, emb, dropout)])
        self.up = nn.ModuleList()
        for i, ch in reversed(list(enumerate(chans))):
            for _ in range(num_res_blocks + 1):
                self.up.append(ResBlock(cur + skips.pop(), ch, emb, dropout))
                cur = ch
            if i > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                             nn.Conv2d(cur, cur, 3, padding=1)))
        self.out = nn.Sequential(nn.GroupNorm(8, cur), nn.SiLU(), nn.Conv2d(cur, in_channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor,
                guidance: Optional[torch.Tensor] = None) -> torch.Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.c)) + self.class_emb(labels)
        if self.guidance_mlp is not None:
            if guidance is None:
                raise ValueError("this network takes the guidance strength as an input")
            emb = emb + self.guidance_mlp(timestep_embedding(guidance * self.GUIDANCE_SCALE, self.c))
        h = self.conv_in(x)
        hs = [h]
        for layer in self.down:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
            hs.append(h)
        for layer in self.mid:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, hs.pop()], dim=1), emb)
            else:
                h = layer(h)
        return self.out(h)

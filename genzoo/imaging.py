"""Turning image tensors into pictures: grids, PIL images, GIFs. Only used at the edges."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image


def to_pil(image: torch.Tensor, scale: int = 1) -> Image.Image:
    """One image ``[1, H, W]`` or ``[H, W]`` in [0, 1] -> greyscale PIL image (optionally upscaled)."""
    arr = image.detach().float().clamp(0, 1).mul(255).round().byte().squeeze().cpu().numpy()
    pil = Image.fromarray(arr, mode="L")
    return pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST) if scale > 1 else pil


def grid(images: torch.Tensor, nrow: int = 10, padding: int = 2, pad_value: float = 0.5) -> torch.Tensor:
    """``[n, 1, 28, 28]`` -> one ``[1, H, W]`` image laid out in rows of ``nrow``."""
    from torchvision.utils import make_grid

    return make_grid(images.detach().float().clamp(0, 1).cpu(), nrow=nrow, padding=padding, pad_value=pad_value)[:1]


def grid_pil(images: torch.Tensor, nrow: int = 10, scale: int = 2) -> Image.Image:
    return to_pil(grid(images, nrow), scale)


def save_grid(images: torch.Tensor, path: Path, nrow: int = 10) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    grid_pil(images, nrow, scale=1).save(tmp)
    tmp.replace(path)


def gif_bytes(frames: Sequence[Image.Image], duration_ms: int = 120) -> bytes:
    """An animated GIF that plays the frames forwards then backwards, looping."""
    seq = list(frames) + list(frames)[-2:0:-1]
    buf = io.BytesIO()
    seq[0].save(buf, format="GIF", save_all=True, append_images=seq[1:], duration=duration_ms, loop=0)
    return buf.getvalue()


def as_numpy_uint8(images: torch.Tensor) -> np.ndarray:
    """``[n, 1, 28, 28]`` in [0, 1] -> uint8 ``[n, 28, 28]`` (0 = background)."""
    return images.detach().float().clamp(0, 1).mul(255).round().byte().squeeze(1).cpu().numpy()


def labelled_rows(rows: Sequence[tuple[str, Image.Image]], label_width: int = 260, gap: int = 8,
                  background: int = 255, ink: int = 20) -> Image.Image:
    """Stack pictures as rows, each with its label written on the left (one image to view or save)."""
    from PIL import ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=18)
    except TypeError:           # Pillow < 10.1
        font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    text_h = [probe.multiline_textbbox((0, 0), label, font=font)[3] for label, _ in rows]
    heights = [max(im.height, th) for (_, im), th in zip(rows, text_h)]
    canvas = Image.new(
        "L", (label_width + max(im.width for _, im in rows), sum(heights) + gap * (len(rows) + 1)), background
    )
    draw = ImageDraw.Draw(canvas)
    y = gap
    for (label, im), h, th in zip(rows, heights, text_h):
        canvas.paste(im.convert("L"), (label_width, y + (h - im.height) // 2))
        draw.multiline_text((8, y + (h - th) // 2), label, fill=ink, font=font)
        y += h + gap
    return canvas


def map_picture(pixels: np.ndarray, labels: np.ndarray, colours: Sequence[str], size: int,
                thumbnails: Optional[np.ndarray] = None, every: int = 8) -> Image.Image:
    """A scatter of points at pixel positions, coloured by class; with ``thumbnails`` (uint8 ``[N, 28, 28]``), every
    ``every``-th point is drawn as its small picture, framed in its class's colour."""
    from PIL import ImageDraw

    canvas = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(canvas)
    draw.rectangle([0, 0, size - 1, size - 1], outline="#999999")
    if thumbnails is None:
        for (x, y), k in zip(pixels, labels):
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colours[int(k)])
        return canvas
    for i in range(0, len(pixels), every):
        (x, y), k = pixels[i], int(labels[i])
        tile = Image.fromarray(255 - thumbnails[i], mode="L").convert("RGB")   # dark ink on white, as on paper
        canvas.paste(tile, (int(x) - 14, int(y) - 14))
        draw.rectangle([int(x) - 15, int(y) - 15, int(x) + 14, int(y) + 14], outline=colours[k], width=2)
    return canvas

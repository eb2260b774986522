"""A view's progress bar follows each model's own steps while it draws, and a cached answer reports none."""
import torch

from genzoo.app.drawing import draw, step_words
from genzoo.hosting import Served
from genzoo.sampling import DrawRequest
from models import DDPM, PixelCNN


class TinyZoo:
    def __init__(self, models):
        self.models = models

    def model(self, dataset, name):
        return self.models[name]


def test_the_bar_follows_each_models_steps():
    torch.manual_seed(0)
    zoo = TinyZoo({"ddpm-cosine": Served(DDPM(channels=8, channel_mults=(1, 2), num_res_blocks=1), "d"),
                   "pixelcnn": Served(PixelCNN(channels=8, layers=2, hidden=16), "p")})
    heard = []
    bar = lambda fraction, words: heard.append((round(fraction, 3), words))        # noqa: E731
    for i, name in enumerate(zoo.models):
        request = DrawRequest.at_defaults("mnist", name, 2, 5, 3, steps=4)
        draw(zoo, request, step_words(bar, i, 2, name))
    assert heard[:2] == [(0.125, "drawing from Diffusion (cosine schedule): 1 of 4"),
                         (0.25, "drawing from Diffusion (cosine schedule): 2 of 4")]
    assert heard[4] == (round(0.5 + 1 / 56, 3), "drawing from PixelCNN: 1 of 28")     # row by row
    assert heard[-1] == (1.0, "drawing from PixelCNN: 28 of 28")
    heard.clear()
    draw(zoo, DrawRequest.at_defaults("mnist", "pixelcnn", 2, 5, 3), step_words(bar, 1, 2, "pixelcnn"))
    assert heard == []                                       # the same request again: its pictures are known

"""The evaluator classifier: a small CNN whose penultimate features the project's
own FID / precision / recall are computed in, and whose predictions give
conditional accuracy and class coverage."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import ZooModel


class Classifier(ZooModel):
    family = "classifier"
    about = (
        'A small convolutional network that recognises the class of a picture. GenZoo uses its inner '
        'description of pictures to score the other models.')
    equation = (
        '$$\\min_\\theta\\; \\mathbb{E}_{(x, y)}\\big[-\\log p_\\theta(y \\mid x)\\big]$$')
    network_methods = ZooModel.network_methods + ("predict", "features")

    def __init__(self, channels: int = 32, feature_dim: int = 128, num_classes: int = 10, dropout: float = 0.3):
        super().__init__()
        c = channels
        self.num_classes = num_classes

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

        self.body = nn.Sequential(
            *block(1, c), *block(c, c), nn.MaxPool2d(2),                   # 14x14
            *block(c, 2 * c), *block(2 * c, 2 * c), nn.MaxPool2d(2),       # 7x7
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * c * 49, feature_dim), nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features of images in [0, 1]."""
        return self.body((x - 0.5) / 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self(x).argmax(1)

    def loss(self, x, y):
        if self.training:   # light augmentation: shift by up to 2 pixels; held-out images are scored as they are
            dx, dy = torch.randint(-2, 3, (2,)).tolist()
            x = torch.roll(x, shifts=(dx, dy), dims=(2, 3))
        logits = self(x).float()
        loss = F.cross_entropy(logits, y, label_smoothing=0.05)
        return loss, {"loss": loss.item(), "accuracy": (logits.argmax(1) == y).float().mean().item()}

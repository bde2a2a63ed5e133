"""BYOL: online tower + predictor regress an EMA target tower's projection of another view; no negatives."""

from __future__ import annotations

import torch

from ..encoders import EMA, ImageEmbedder, byol_predictor
from ..losses import BYOLLoss
from ..objective import Batch
from .base import ObjectiveBase, per_view, views_of


class BYOLObjective(ObjectiveBase):
    """Symmetric loss over every ordered pair of distinct views; the target is updated in `after_step`."""

    requires = frozenset({"views"})

    def __init__(
        self, image: ImageEmbedder, predictor_hidden: int = 256, decay: float = 0.99, lock: tuple[str, ...] = ()
    ) -> None:
        super().__init__(lock)
        self.name = "byol"
        self.image = image
        dim = [m for m in image.head.modules() if isinstance(m, torch.nn.Linear)][-1].out_features
        self.predictor = byol_predictor(dim, predictor_hidden)
        self.target = EMA(image, decay)
        self.byol = BYOLLoss()
        self.lock_towers()

    def loss(self, batch: Batch) -> torch.Tensor:
        views = views_of(batch, self.name)
        p = per_view(lambda x: self.predictor(self.image.project(x)), views)
        with torch.no_grad():
            z = per_view(self.target.target.project, views)
        n = views.shape[0]
        pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
        return torch.stack([self.byol(p[i], z[j]) for i, j in pairs]).mean()

    def after_step(self) -> None:
        self.target.update(self.image)

"""SimCLR (NT-Xent over augmented views) and SupCon (labels define the positives): one loss, a label mask."""

from __future__ import annotations

import torch

from ..distributed import gather_keep_local_grad
from ..encoders import ImageEmbedder
from ..losses import SupConLoss
from ..objective import Batch
from .base import ObjectiveBase, gather_views, labels_of, per_view, views_of


class SimCLRObjective(ObjectiveBase):
    """V views per image through one tower; negatives are every other view in the global batch.

    SupCon lists "labels" in `requires` so trainers provide them; a batch without labels still trains, as SimCLR.
    """

    def __init__(
        self, image: ImageEmbedder, temperature: float = 0.1, supervised: bool = False, lock: tuple[str, ...] = ()
    ) -> None:
        super().__init__(lock)
        self.name = "supcon" if supervised else "simclr"
        self.requires = frozenset({"views", "labels"}) if supervised else frozenset({"views"})
        self.image = image
        self.supcon = SupConLoss(temperature)
        self.lock_towers()

    def loss(self, batch: Batch) -> torch.Tensor:
        views = views_of(batch, self.name)
        z = gather_views(per_view(self.image.project, views))
        labels = None
        if self.name == "supcon" and "labels" in batch:
            labels = gather_keep_local_grad(labels_of(batch, self.name, views.shape[1]))
        return self.supcon(z, labels)

"""Triplet loss with batch-hard mining on class labels, over every view of every image in the batch."""

from __future__ import annotations

import torch

from ..encoders import ImageEmbedder
from ..losses import BatchHardTripletLoss
from ..objective import Batch
from .base import ObjectiveBase, labels_of, per_view, views_of


class TripletObjective(ObjectiveBase):
    """Anchors are all V*B view embeddings (L2-normalised); same label = positive, other label = negative."""

    requires = frozenset({"views", "labels"})

    def __init__(self, image: ImageEmbedder, margin: float = 0.2, lock: tuple[str, ...] = ()) -> None:
        super().__init__(lock)
        self.name = "triplet"
        self.image = image
        self.triplet = BatchHardTripletLoss(margin)
        self.lock_towers()

    def loss(self, batch: Batch) -> torch.Tensor:
        views = views_of(batch, self.name)
        labels = labels_of(batch, self.name, views.shape[1])
        emb = per_view(self.image, views).flatten(0, 1)
        return self.triplet(emb, labels.repeat(views.shape[0]))

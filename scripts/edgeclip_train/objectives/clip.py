"""CLIP (symmetric InfoNCE) and SigLIP (sigmoid) image-text objectives with a learnable temperature."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..losses import ClipInfoNCE, SigLIPLoss
from ..objective import Batch
from .base import ObjectiveBase, batch_field, gather_global


class ClipObjective(ObjectiveBase):
    """Image tower + text tower; loss over the global batch gathered from every rank.

    Attribute names (`image`, `text`, `logit_scale`) are those of `models.CLIPModel`, so with the default CNN
    tower the state dict is the shipped model's (plus `logit_bias` for SigLIP).
    """

    requires = frozenset({"images", "input_ids"})

    def __init__(
        self,
        image: nn.Module,
        text: nn.Module,
        loss: str = "clip",
        init_logit_scale: float | None = None,
        max_logit_scale: float = math.log(100.0),
        init_logit_bias: float = -10.0,
        lock: tuple[str, ...] = (),
    ) -> None:
        super().__init__(lock)
        if loss not in ("clip", "siglip"):
            raise ValueError(f"image-text loss must be 'clip' or 'siglip', got {loss!r}")
        self.name = loss
        self.image = image  # type: ignore[assignment]
        self.text = text
        if init_logit_scale is None:
            init_logit_scale = math.log(1 / 0.07) if loss == "clip" else math.log(10.0)
        self.max_logit_scale = max_logit_scale
        self.logit_scale = nn.Parameter(torch.tensor(float(init_logit_scale)))
        if loss == "siglip":
            self.logit_bias = nn.Parameter(torch.tensor(float(init_logit_bias)))
            self.siglip = SigLIPLoss()
        else:
            self.infonce = ClipInfoNCE()
        self.lock_towers()

    def scale(self) -> torch.Tensor:
        """exp(logit_scale), clamped as in CLIP so the temperature cannot collapse."""
        return self.logit_scale.clamp(0.0, self.max_logit_scale).exp()

    def loss(self, batch: Batch) -> torch.Tensor:
        img = gather_global(self.image(batch_field(batch, "images", self.name)))
        txt = gather_global(self.text(batch_field(batch, "input_ids", self.name)))
        if self.name == "siglip":
            return self.siglip(img, txt, self.scale(), self.logit_bias)
        return self.infonce(img, txt, self.scale())

    def embed_texts(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.text(input_ids)

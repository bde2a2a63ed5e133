"""Contrastive objectives as small modules, chosen by name through `build_loss` (TrainConfig.objective)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ClipInfoNCE(nn.Module):
    """Symmetric InfoNCE over a batch of aligned (image, text) pairs: pair i is the positive for row/column i."""

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
        if image_emb.shape != text_emb.shape or image_emb.ndim != 2:
            raise ValueError(
                f"expected two [B, D] embeddings of one shape, got {tuple(image_emb.shape)} and {tuple(text_emb.shape)}"
            )
        logits = logit_scale * image_emb @ text_emb.t()
        targets = torch.arange(logits.shape[0], device=logits.device)
        return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets))


LOSSES: dict[str, type[nn.Module]] = {"clip-infonce": ClipInfoNCE}


def build_loss(objective: str) -> nn.Module:
    if objective not in LOSSES:
        raise ValueError(f"unknown objective {objective!r}; known: {sorted(LOSSES)}")
    return LOSSES[objective]()

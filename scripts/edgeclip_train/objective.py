"""The contract between the trainer and the contrastive objectives.

An objective owns every trainable part of one framework (encoders, projection heads, predictor,
momentum/EMA copies, queues) and knows how to turn a batch into a loss. The trainer knows nothing
about frameworks: it moves the batch to the device, calls `loss`, steps the optimizer over
`parameters()` (momentum/EMA copies are buffers or frozen, so they are not in it) and then calls
`after_step`. Evaluation and export only use `embed_images` / `embed_texts`.

Objectives are chosen by the config field `objective` (never by a model's name) through
`edgeclip_train.objectives.build_objective(name, ...)` or `build_objective_from_config(cfg)`.
"""

from __future__ import annotations

from typing import Protocol, TypedDict

import torch


class Batch(TypedDict, total=False):
    """What the trainer hands to `Objective.loss`, already on the device.

    images:    float [B, 3, H, W], normalised (manifest mean/std), no augmentation (CLIP).
    views:     float [V, B, 3, H, W], V >= 2 augmented views (or patches) of the same B images.
    input_ids: int64 [B, L], padded with pad_id (image-text objectives).
    labels:    int64 [B] class ids (SupCon, triplet, evaluation); absent for self-supervised runs.
    """

    images: torch.Tensor
    views: torch.Tensor
    input_ids: torch.Tensor
    labels: torch.Tensor


class Objective(Protocol):
    #: Batch keys this objective needs, e.g. {"images", "input_ids"} for CLIP, {"views"} for SimCLR.
    requires: frozenset[str]

    def loss(self, batch: Batch) -> torch.Tensor:
        """Scalar loss for one (micro-)batch; gradients flow to `parameters()` only."""
        ...

    def after_step(self) -> None:
        """Called after each optimizer step: momentum encoders, EMA targets, queue updates."""
        ...

    def embed_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """L2-normalised image embeddings [B, D] (the exported image tower)."""
        ...

    def embed_texts(self, input_ids: torch.Tensor) -> torch.Tensor | None:
        """L2-normalised text embeddings [B, D], or None for image-only objectives."""
        ...

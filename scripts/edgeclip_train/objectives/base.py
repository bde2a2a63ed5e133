"""What every objective shares: the nn.Module base with protocol defaults, locked towers, view helpers."""

from __future__ import annotations

import torch
from torch import nn

from ..distributed import gather_keep_local_grad
from ..encoders import ImageEmbedder, freeze_
from ..losses import scale_grad_by_world
from ..objective import Batch


class ObjectiveBase(nn.Module):
    """An `objective.Objective` as an nn.Module. Subclasses set `requires` and implement `loss`.

    `self.image` is the exported image tower (`ImageEmbedder`): `embed_images` is its projected, L2-normalised
    output. kNN / linear probes may use either that or `image_features` (the backbone before the head, as the
    SimCLR/BYOL papers do); export always uses `embed_images`.
    """

    requires: frozenset[str] = frozenset()
    image: ImageEmbedder

    def __init__(self, lock: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.locked: tuple[str, ...] = lock

    def lock_towers(self) -> None:
        """Freeze the submodules named in `self.locked` (LiT): no parameters, always in eval mode."""
        for name in self.locked:
            tower = getattr(self, name, None)
            if not isinstance(tower, nn.Module):
                raise ValueError(f"cannot lock {name!r}: {type(self).__name__} has no such tower")
            freeze_(tower).eval()

    def train(self, mode: bool = True) -> ObjectiveBase:
        super().train(mode)
        for name in self.locked:
            getattr(self, name).eval()
        return self

    def loss(self, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def after_step(self) -> None:
        return None

    def embed_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.image(pixel_values)

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.image.features(pixel_values)

    def embed_texts(self, input_ids: torch.Tensor) -> torch.Tensor | None:
        return None


def batch_field(batch: Batch, key: str, objective: str) -> torch.Tensor:
    if key not in batch:
        raise ValueError(f"objective {objective!r} needs batch[{key!r}]; got keys {sorted(batch)}")
    return batch[key]  # type: ignore[literal-required]


def views_of(batch: Batch, objective: str) -> torch.Tensor:
    """batch["views"] checked to be [V>=2, B, 3, H, W]."""
    views = batch_field(batch, "views", objective)
    if views.ndim != 5 or views.shape[0] < 2 or views.shape[2] != 3:
        raise ValueError(f"objective {objective!r} expects views [V>=2, B, 3, H, W], got {tuple(views.shape)}")
    return views


def labels_of(batch: Batch, objective: str, b: int) -> torch.Tensor:
    labels = batch_field(batch, "labels", objective)
    if labels.shape != (b,):
        raise ValueError(f"objective {objective!r} expects labels [B={b}], got {tuple(labels.shape)}")
    return labels


def per_view(fn: nn.Module | object, views: torch.Tensor) -> torch.Tensor:
    """Run `fn` once over all V*B images (row v*B + b) and give back [V, B, D]."""
    v, b = views.shape[:2]
    out = fn(views.reshape(v * b, *views.shape[2:]))  # type: ignore[operator]
    return out.reshape(v, b, -1)


def gather_global(x: torch.Tensor) -> torch.Tensor:
    """[B, ...] -> [B * world_size, ...] rank-major; local rows keep gradients, scaled by world_size so that
    DDP's average of the ranks' gradients equals the single-process gradient of the global-batch loss."""
    return gather_keep_local_grad(scale_grad_by_world(x))


def gather_views(z: torch.Tensor) -> torch.Tensor:
    """[V, B, D] -> [V, B * world_size, D] with `gather_global` per view."""
    return torch.stack([gather_global(z[i]) for i in range(z.shape[0])])

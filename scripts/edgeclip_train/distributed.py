"""Gathering embeddings across ranks for contrastive losses (CLIP, SimCLR negatives).

`all_gather` gives every rank the whole global batch; the slice that came from this rank is the
local tensor itself, so its gradients flow, while the other ranks' slices are constants here (their
own rank computes their gradients). This is open_clip's `gather_features(local_loss=False,
gather_with_grad=False)` behaviour and gives the same gradients as a single-process run on the
global batch once DDP averages them (the loss is multiplied by world size for that reason by the
caller when needed).
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, world_size); (0, 1) outside torch.distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_keep_local_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `x` [B, ...] from every rank along dim 0, keeping the gradient of the local part."""
    rank, size = world()
    if size == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(size)]
    dist.all_gather(parts, x.detach().contiguous())
    parts[rank] = x
    return torch.cat(parts, dim=0)

"""Gathering embeddings across ranks for contrastive losses (CLIP, SimCLR negatives), and the torchrun/DDP setup.

`all_gather` gives every rank the whole global batch; the slice that came from this rank is the
local tensor itself, so its gradients flow, while the other ranks' slices are constants here (their
own rank computes their gradients). This is open_clip's `gather_features(local_loss=False,
gather_with_grad=False)` behaviour. DDP then averages the ranks' gradients, so the embedding path comes
out 1/W too small: objectives multiply the gradient of the local embeddings by W before gathering
(`losses.scale_grad_by_world`), not the loss, whose own parameters (logit scale) already get the full
gradient on every rank. Then a DDP step equals a single-process step on the global batch
(tests/test_distributed.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


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


# ---------------------------------------------------------------- process group and DDP (torchrun)


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device: str | None = None) -> DistEnv:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT).

    NCCL on CUDA (one GPU per local rank), gloo on CPU. Outside torchrun (no WORLD_SIZE) this is a
    single process. A group initialised by the caller (tests spawn their own) is used as it is.
    """
    want_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if not dist.is_initialized() and size > 1:
        if want_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if want_cuda else "gloo", init_method="env://")
    rank, size = world()
    if want_cuda:
        dev = torch.device("cuda", local_rank if size > 1 else torch.cuda.current_device())
    else:
        dev = torch.device("cpu")
    return DistEnv(rank, size, local_rank, dev)


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap_ddp(module: nn.Module, env: DistEnv, find_unused_parameters: bool = False) -> nn.Module:
    """DDP over `module` when the world has more than one rank, the module itself otherwise.

    Buffers are not broadcast from rank 0 each forward: a MoCo queue or an EMA target is kept in sync by its
    objective (it enqueues keys gathered from every rank), and broadcasting a 65k-entry queue every step
    would cost more than the step.
    """
    if env.world_size == 1:
        return module
    return DistributedDataParallel(
        module,
        device_ids=[env.device.index] if env.device.type == "cuda" else None,
        broadcast_buffers=False,
        find_unused_parameters=find_unused_parameters,
    )


def all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of a tensor over ranks (a copy; the input is untouched)."""
    _, size = world()
    if size == 1:
        return x
    y = x.detach().clone()
    dist.all_reduce(y)
    return y / size


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's picklable `obj`, in rank order (small things only: RNG states, counters)."""
    _, size = world()
    if size == 1:
        return [obj]
    out: list[Any] = [None] * size
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()

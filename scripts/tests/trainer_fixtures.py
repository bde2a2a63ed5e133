"""A tiny objective and dataset for the trainer tests: a linear CLIP and a noise-view SimCLR on random data.

They follow the `objective.Objective` protocol and gather across ranks the way the real objectives do, so the
trainer's DDP, accumulation and resume paths are exercised without the objectives package.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from edgeclip_train.config import OptimConfig, RunConfig
from edgeclip_train.distributed import gather_keep_local_grad, world


def scale_grad_by_world(x: torch.Tensor) -> torch.Tensor:
    """Same value, gradient x world size: DDP averages the ranks' gradients, and each rank differentiates the
    global loss only through its own embeddings. Applied to the embeddings, not the loss: a parameter inside the
    loss (the logit scale) already gets the full gradient on every rank."""
    _, size = world()
    return x if size == 1 else x + (size - 1) * (x - x.detach())


def gather_global(x: torch.Tensor) -> torch.Tensor:
    return gather_keep_local_grad(scale_grad_by_world(x))


def info_nce(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    logits = scale * a @ b.t()
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


class TinyClip(nn.Module):
    requires = frozenset({"images", "input_ids"})

    def __init__(self, vocab: int = 32, dim: int = 8, dropout: float = 0.1):
        super().__init__()
        self.image = nn.Sequential(nn.Flatten(), nn.Linear(48, 16), nn.GELU(), nn.Dropout(dropout), nn.Linear(16, dim))
        self.text = nn.EmbeddingBag(vocab, dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    def embed_images(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image(x), dim=-1)

    def embed_texts(self, ids: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(ids), dim=-1)

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        img = gather_global(self.embed_images(batch["images"]))
        txt = gather_global(self.embed_texts(batch["input_ids"]))
        return info_nce(img, txt, self.logit_scale.exp())

    def after_step(self) -> None:
        self.steps_done += 1


class TinySimCLR(TinyClip):
    requires = frozenset({"views"})

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        v = batch["views"]
        a = gather_global(self.embed_images(v[0]))
        b = gather_global(self.embed_images(v[1]))
        return info_nce(a, b, torch.tensor(10.0))


def noise_views(images: torch.Tensor) -> torch.Tensor:
    """Two views from the global torch RNG, so a resume must restore it to match."""
    return torch.stack([images + 0.3 * torch.randn_like(images), images.flip(-1) + 0.3 * torch.randn_like(images)])


class PairData:
    """n samples of 4 classes: image = class prototype + noise [3,4,4], caption ids = class words + a random word."""

    def __init__(self, n: int = 32, seed: int = 0, delay_s: float = 0.0):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(n) % 4
        protos = torch.randn(4, 3, 4, 4, generator=g)
        self.images = protos[self.labels] + 0.5 * torch.randn(n, 3, 4, 4, generator=g)
        words = torch.stack([self.labels * 4 + k for k in range(3)], dim=1)
        self.ids = torch.cat([words, 16 + torch.randint(0, 16, (n, 1), generator=g)], dim=1)
        self.delay_s = delay_s

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if self.delay_s:
            time.sleep(self.delay_s)
        return {"image": self.images[i], "input_ids": self.ids[i], "label": self.labels[i]}


def tiny_config(out_dir: str, **kw: object) -> RunConfig:
    base: dict[str, object] = dict(
        objective="clip",
        batch_size=8,
        steps=10,
        log_every=1,
        out_dir=out_dir,
        progress=False,
        optim=OptimConfig(lr=3e-2, warmup_steps=2, grad_clip=1.0),
    )
    base.update(kw)
    return RunConfig(**base)  # type: ignore[arg-type]


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Two OpenMP threads on the shared 2-core machines ran these tiny steps ~15x slower than one."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)

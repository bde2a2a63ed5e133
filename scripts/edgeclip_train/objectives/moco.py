"""MoCo v2: a query tower, a momentum key tower (EMA, no gradients) and a queue of past keys as negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..distributed import gather_keep_local_grad
from ..encoders import EMA, ImageEmbedder
from ..losses import MoCoLoss
from ..objective import Batch
from .base import ObjectiveBase, views_of


class MoCoObjective(ObjectiveBase):
    """Views 0 and 1 give queries and keys (both ways when `symmetric`); the keys of a step are enqueued,
    from every rank, in `after_step`, after the momentum update. The queue is a ring buffer `[K, D]`."""

    requires = frozenset({"views"})

    def __init__(
        self,
        image: ImageEmbedder,
        queue_size: int = 4096,
        momentum: float = 0.99,
        temperature: float = 0.2,
        symmetric: bool = True,
        lock: tuple[str, ...] = (),
    ) -> None:
        super().__init__(lock)
        self.name = "moco"
        self.image = image
        self.key = EMA(image, momentum)
        self.symmetric = symmetric
        self.infonce = MoCoLoss(temperature)
        dim = self._embed_dim()
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self._pending: list[torch.Tensor] = []
        self.lock_towers()

    def _embed_dim(self) -> int:
        last = [m for m in self.image.head.modules() if isinstance(m, torch.nn.Linear)][-1]
        return last.out_features

    def loss(self, batch: Batch) -> torch.Tensor:
        views = views_of(batch, self.name)
        v0, v1 = views[0], views[1]
        queue = self.queue.clone().detach()
        with torch.no_grad():
            k1 = self.key(v1)
            k0 = self.key(v0) if self.symmetric else None
        q0 = self.image(v0)
        value = self.infonce(q0, k1, queue)
        keys = [k1]
        if k0 is not None:
            value = 0.5 * (value + self.infonce(self.image(v1), k0, queue))
            keys.append(k0)
        if self.training:
            self._pending.extend(keys)
        return value

    @torch.no_grad()
    def after_step(self) -> None:
        self.key.update(self.image)
        if self._pending:
            self.enqueue(gather_keep_local_grad(torch.cat(self._pending)))
            self._pending.clear()

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        k = self.queue.shape[0]
        keys = keys.detach()[-k:]
        idx = (self.queue_ptr + torch.arange(len(keys), device=keys.device)) % k
        self.queue[idx] = keys.to(self.queue.dtype)
        self.queue_ptr.copy_((self.queue_ptr + len(keys)) % k)

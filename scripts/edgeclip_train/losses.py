"""Contrastive losses as small modules: CLIP InfoNCE, SigLIP, NT-Xent, SupCon, MoCo, BYOL, batch-hard triplet.

Losses compute on the tensors they are given; they never talk to other ranks. The objectives gather
embeddings across ranks first (`distributed.gather_keep_local_grad`), so CLIP, SigLIP, NT-Xent and SupCon
see the whole global batch as rows AND columns (open_clip's `local_loss=False`): the loss value is the
global-batch loss on every rank, and the objectives pass the local embeddings through `scale_grad_by_world`
before gathering, which makes DDP's gradient average exact (tested with 2 gloo ranks).
Objectives (and so losses) are picked by the config field `objective`: see `objectives.build_objective`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .distributed import world


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


def _shape(x: torch.Tensor) -> tuple[int, ...]:
    return tuple(x.shape)


def scale_grad_by_world(x: torch.Tensor) -> torch.Tensor:
    """Same value, gradient x world_size. Each rank differentiates the global loss only through its own
    embeddings, and DDP averages the ranks' gradients, so the embedding path comes out 1/W too small. Apply it
    to the local embeddings (not to the loss): parameters inside the loss (logit scale, bias) already get the
    full gradient on every rank."""
    _, size = world()
    if size == 1:
        return x
    return x + (size - 1) * (x - x.detach())


# ---- image-text -------------------------------------------------------------------------------------------


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


class SigLIPLoss(nn.Module):
    """Sigmoid loss (Zhai et al. 2023): every (image, text) cell is a binary problem, +1 on the diagonal.

    `logit_scale` is the multiplier (already exponentiated), `logit_bias` the learnable bias (init -10 in the
    paper, so the many negatives start near probability 0). Normalised by the number of rows, as in the paper.
    """

    def forward(
        self, image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor, logit_bias: torch.Tensor
    ) -> torch.Tensor:
        _check(
            image_emb.ndim == 2 and image_emb.shape == text_emb.shape,
            f"expected two [B, D] embeddings of one shape, got {_shape(image_emb)} and {_shape(text_emb)}",
        )
        logits = logit_scale * image_emb @ text_emb.t() + logit_bias
        signs = 2 * torch.eye(logits.shape[0], device=logits.device, dtype=logits.dtype) - 1
        return -F.logsigmoid(signs * logits).sum() / logits.shape[0]


# ---- image-only, with negatives ---------------------------------------------------------------------------


class NTXentLoss(nn.Module):
    """SimCLR's NT-Xent on two views [B, D] each: the 2B rows, each row's positive is its other view."""

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        _check(
            z1.ndim == 2 and z1.shape == z2.shape,
            f"expected two [B, D] views of one shape, got {_shape(z1)} and {_shape(z2)}",
        )
        b = z1.shape[0]
        z = F.normalize(torch.cat([z1, z2]), dim=-1)
        logits = z @ z.t() / self.temperature
        logits = logits.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), float("-inf"))
        targets = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
        return F.cross_entropy(logits, targets)


class SupConLoss(nn.Module):
    """Supervised contrastive loss (Khosla et al. 2020, L_out) over views [V, B, D].

    Positives of an anchor are every other view of every sample with the same label. With labels=None every
    sample is its own class, so the positives are the other views of the same image: that is NT-Xent (SimCLR),
    exactly so for V=2.
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, views: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        _check(views.ndim == 3 and views.shape[0] >= 2, f"expected views [V>=2, B, D], got {_shape(views)}")
        v, b, _ = views.shape
        if labels is None:
            labels = torch.arange(b, device=views.device)
        _check(labels.shape == (b,), f"expected labels [B={b}], got {_shape(labels)}")
        z = F.normalize(views.reshape(v * b, -1), dim=-1)  # row = view * B + sample
        lab = labels.repeat(v)
        logits = z @ z.t() / self.temperature
        self_mask = torch.eye(v * b, dtype=torch.bool, device=z.device)
        logits = logits.masked_fill(self_mask, float("-inf"))
        log_prob = logits - logits.logsumexp(dim=1, keepdim=True)
        pos = (lab[:, None] == lab[None, :]) & ~self_mask
        # Every anchor has at least its other views as positives (V >= 2), so no division by zero.
        mean_log_prob_pos = log_prob.masked_fill(~pos, 0.0).sum(1) / pos.sum(1)
        return -mean_log_prob_pos.mean()


class MoCoLoss(nn.Module):
    """InfoNCE of queries against their keys (positive) and a queue of past keys (negatives), MoCo v2."""

    def __init__(self, temperature: float = 0.2) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor) -> torch.Tensor:
        _check(
            q.ndim == 2 and q.shape == k.shape, f"expected q and k [B, D] of one shape, got {_shape(q)}, {_shape(k)}"
        )
        _check(
            queue.ndim == 2 and queue.shape[1] == q.shape[1],
            f"expected queue [K, D={q.shape[1]}], got {_shape(queue)}",
        )
        l_pos = (q * k).sum(dim=1, keepdim=True)
        l_neg = q @ queue.t()
        logits = torch.cat([l_pos, l_neg], dim=1) / self.temperature
        return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))


# ---- image-only, without negatives ------------------------------------------------------------------------


class BYOLLoss(nn.Module):
    """2 - 2 cos(p, z): the MSE between L2-normalised online predictions and target projections, batch mean."""

    def forward(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        _check(
            p.ndim == 2 and p.shape == z.shape, f"expected p and z [B, D] of one shape, got {_shape(p)}, {_shape(z)}"
        )
        return (2 - 2 * (F.normalize(p, dim=-1) * F.normalize(z, dim=-1)).sum(dim=-1)).mean()


class BatchHardTripletLoss(nn.Module):
    """Triplet loss with batch-hard mining (Hermans et al. 2017): per anchor the farthest positive and the
    nearest negative, hinge at `margin`, Euclidean distance. Anchors lacking a positive or a negative are skipped."""

    def __init__(self, margin: float = 0.2) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        _check(emb.ndim == 2, f"expected embeddings [N, D], got {_shape(emb)}")
        _check(labels.shape == (emb.shape[0],), f"expected labels [N={emb.shape[0]}], got {_shape(labels)}")
        # sqrt of a clamped squared distance: cdist's gradient is NaN at exactly 0 (an anchor with itself).
        sq = (emb[:, None, :] - emb[None, :, :]).pow(2).sum(-1)
        dist = sq.clamp_min(1e-12).sqrt()
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
        pos, neg = same & ~eye, ~same
        hardest_pos = dist.masked_fill(~pos, float("-inf")).amax(dim=1)
        hardest_neg = dist.masked_fill(~neg, float("inf")).amin(dim=1)
        valid = pos.any(1) & neg.any(1)
        _check(bool(valid.any()), "triplet loss needs at least one anchor with a positive and a negative in the batch")
        return F.relu(hardest_pos - hardest_neg + self.margin)[valid].mean()

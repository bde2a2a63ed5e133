"""The contrastive losses beyond CLIP: values on hand-made cases, SupCon == NT-Xent, shape errors, rank scaling."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from edgeclip_train import losses
from edgeclip_train.losses import (
    BatchHardTripletLoss,
    BYOLLoss,
    MoCoLoss,
    NTXentLoss,
    SigLIPLoss,
    SupConLoss,
    scale_grad_by_world,
)


def _unit(*shape: int, seed: int = 0) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


@pytest.mark.parametrize("temperature", [0.07, 0.5])
def test_supcon_without_labels_is_nt_xent(temperature: float) -> None:
    z = _unit(2, 12, 8)
    assert torch.allclose(SupConLoss(temperature)(z), NTXentLoss(temperature)(z[0], z[1]), atol=1e-6)


def test_supcon_rewards_same_class_clusters() -> None:
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    centres = _unit(3, 8, seed=1)
    z = torch.stack([F.normalize(centres[labels] + 0.05 * _unit(6, 8, seed=s), dim=-1) for s in (2, 3)])
    loss = SupConLoss(0.1)
    assert loss(z, labels) < loss(z, torch.tensor([0, 1, 2, 0, 1, 2]))


def test_siglip_prefers_aligned_pairs_and_has_a_bias() -> None:
    img = _unit(8, 16)
    txt = F.normalize(img + 0.1 * _unit(8, 16, seed=1), dim=-1)
    loss = SigLIPLoss()
    scale, bias = torch.tensor(10.0), torch.tensor(-5.0)
    assert loss(img, txt, scale, bias) < loss(img, txt.roll(1, 0), scale, bias)
    # With zero logits every cell costs log 2: B*B cells / B rows.
    assert torch.isclose(loss(img, txt, torch.tensor(0.0), torch.tensor(0.0)), torch.tensor(8 * math.log(2)))


def test_moco_positive_key_beats_queue() -> None:
    q = _unit(4, 8)
    queue = _unit(32, 8, seed=5)
    loss = MoCoLoss(0.1)
    assert loss(q, q, queue) < loss(q, _unit(4, 8, seed=6), queue)


def test_byol_loss_is_two_minus_two_cosine() -> None:
    p = torch.randn(5, 8)
    assert torch.allclose(BYOLLoss()(p, 3 * p), torch.tensor(0.0), atol=1e-6)
    assert torch.allclose(BYOLLoss()(p, -p), torch.tensor(4.0), atol=1e-6)


def test_batch_hard_triplet_picks_hardest_pair() -> None:
    emb = torch.tensor([[0.0], [1.0], [3.0], [1.5]])
    labels = torch.tensor([0, 0, 1, 1])
    # anchor 0: pos 1.0, nearest neg 1.5 -> relu(1.0 - 1.5 + 1) = 0.5; anchor 1: pos 1, neg 0.5 -> 1.5
    # anchor 2: pos 1.5, neg 2 -> 0.5; anchor 3: pos 1.5, neg 0.5 -> 2.0
    assert torch.isclose(BatchHardTripletLoss(margin=1.0)(emb, labels), torch.tensor((0.5 + 1.5 + 0.5 + 2.0) / 4))
    emb.requires_grad_(True)
    BatchHardTripletLoss()(emb, labels).backward()
    assert torch.isfinite(emb.grad).all()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: SupConLoss()(torch.randn(4, 8)), r"views \[V>=2, B, D\]"),
        (lambda: SupConLoss()(torch.randn(2, 4, 8), torch.zeros(5)), r"labels \[B=4\]"),
        (lambda: NTXentLoss()(torch.randn(4, 8), torch.randn(5, 8)), "two \\[B, D\\] views"),
        (lambda: MoCoLoss()(torch.randn(4, 8), torch.randn(4, 8), torch.randn(10, 7)), r"queue \[K, D=8\]"),
        (lambda: BYOLLoss()(torch.randn(4, 8), torch.randn(4, 9)), "p and z"),
        (lambda: SigLIPLoss()(torch.randn(4, 8), torch.randn(3, 8), torch.tensor(1.0), torch.tensor(0.0)), "one shape"),
        (lambda: BatchHardTripletLoss()(torch.randn(4, 8), torch.zeros(3)), r"labels \[N=4\]"),
        (lambda: BatchHardTripletLoss()(torch.randn(3, 8), torch.zeros(3)), "positive and a negative"),
    ],
)
def test_bad_shapes_raise_clear_errors(call, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        call()


def test_gathered_loss_with_world_scaling_gives_single_process_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Emulate 2 ranks: each sees its half with gradient and the other half as constants (what
    gather_keep_local_grad gives); DDP's average of the ranks' gradients must equal the full-batch gradient."""
    world_size, b = 2, 4
    full = _unit(2, world_size * b, 8).requires_grad_(True)
    labels = torch.tensor([0, 1, 0, 1, 2, 2, 1, 0])
    SupConLoss(0.2)(full, labels).backward()
    expected = full.grad.clone()

    z = full.detach().clone().requires_grad_(True)
    for rank in range(world_size):
        monkeypatch.setattr(losses, "world", lambda r=rank: (r, world_size))
        mine = torch.zeros(world_size * b, dtype=torch.bool)
        mine[rank * b : (rank + 1) * b] = True
        gathered = torch.where(mine[None, :, None], scale_grad_by_world(z), z.detach())
        value = SupConLoss(0.2)(gathered, labels)
        assert torch.isclose(value, SupConLoss(0.2)(full.detach(), labels))
        value.backward()
    assert torch.allclose(z.grad / world_size, expected, atol=1e-6)

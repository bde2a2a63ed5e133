import torch
import torch.nn.functional as F

from edgeclip_train.losses import ClipInfoNCE


def _pairs(n: int = 16, d: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    img = F.normalize(torch.randn(n, d, generator=g), dim=-1)
    txt = F.normalize(img + 0.1 * torch.randn(n, d, generator=g), dim=-1)
    return img, txt


def test_aligned_pairs_score_lower_than_shuffled() -> None:
    img, txt = _pairs()
    loss = ClipInfoNCE()
    scale = torch.tensor(10.0)
    assert loss(img, txt, scale) < loss(
        img, txt[torch.randperm(len(txt), generator=torch.Generator().manual_seed(1))], scale
    )


def test_symmetric_under_swapping_towers() -> None:
    img, txt = _pairs()
    loss = ClipInfoNCE()
    assert torch.allclose(loss(img, txt, torch.tensor(7.0)), loss(txt, img, torch.tensor(7.0)), atol=1e-6)


def test_higher_logit_scale_sharpens() -> None:
    img, txt = _pairs()
    loss = ClipInfoNCE()
    assert loss(img, txt, torch.tensor(50.0)) < loss(img, txt, torch.tensor(5.0)) < loss(img, txt, torch.tensor(1.0))
    # With no signal at all the loss is log(batch) regardless of the scale.
    assert torch.isclose(loss(img, txt, torch.tensor(0.0)), torch.log(torch.tensor(16.0)), atol=1e-5)


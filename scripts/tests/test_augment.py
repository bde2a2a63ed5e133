"""Batched augmentations: shapes and ranges, determinism by generator, identity at p=0, clear errors."""

from __future__ import annotations

import pytest
import torch

from edgeclip_train.augment import AugmentConfig, augment, make_views


def _images(b: int = 6, size: int = 20, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (b, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


EVERYTHING_ON = AugmentConfig(rotate_p=0.5, blur_p=0.5, noise_p=0.5, gray_p=0.5, out_size=16)


def test_views_shape_and_normalised_range() -> None:
    views = make_views(_images(), EVERYTHING_ON, n_views=3, generator=torch.Generator().manual_seed(0))
    assert views.shape == (3, 6, 3, 16, 16) and views.dtype == torch.float32
    assert views.min() >= -1.0 and views.max() <= 1.0  # mean = std = 0.5 maps [0, 1] to [-1, 1]
    raw = make_views(_images(), AugmentConfig(mean=None, std=None), 2, torch.Generator().manual_seed(0))
    assert raw.min() >= 0.0 and raw.max() <= 1.0


def test_same_generator_seed_same_views_and_views_differ() -> None:
    a = make_views(_images(), EVERYTHING_ON, 2, torch.Generator().manual_seed(7))
    b = make_views(_images(), EVERYTHING_ON, 2, torch.Generator().manual_seed(7))
    c = make_views(_images(), EVERYTHING_ON, 2, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])


def test_probability_zero_is_identity() -> None:
    x = _images()
    views = make_views(x, AugmentConfig.identity(), 2, torch.Generator().manual_seed(0))
    assert torch.equal(views[0], x.float() / 255) and torch.equal(views[1], x.float() / 255)
    # float input in [0, 1] passes through unchanged too
    xf = x.float() / 255
    assert torch.equal(augment(xf, AugmentConfig.identity()), xf)


def test_flip_and_full_crop_match_their_definition() -> None:
    x = _images().float() / 255
    assert torch.allclose(augment(x, AugmentConfig.identity(flip_p=1.0)), x.flip(-1), atol=1e-6)  # resampled
    full = AugmentConfig.identity(crop_p=1.0, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0))
    assert torch.allclose(augment(x, full, torch.Generator().manual_seed(0)), x, atol=1e-6)


def test_grayscale_has_equal_channels_and_blur_smooths() -> None:
    x = _images().float() / 255
    g = augment(x, AugmentConfig.identity(gray_p=1.0))
    assert torch.allclose(g[:, 0], g[:, 1]) and torch.allclose(g[:, 1], g[:, 2])
    blurred = augment(x, AugmentConfig.identity(blur_p=1.0, blur_sigma=(1.5, 1.5)))
    assert blurred.diff(dim=-1).abs().mean() < 0.5 * x.diff(dim=-1).abs().mean()
    noisy = augment(x, AugmentConfig.identity(noise_p=1.0, noise_std=0.1), torch.Generator().manual_seed(0))
    assert 0.03 < (noisy - x).abs().mean() < 0.1


def test_jitter_changes_colours_but_keeps_range() -> None:
    x = _images().float() / 255
    y = augment(x, AugmentConfig.identity(jitter_p=1.0), torch.Generator().manual_seed(0))
    assert not torch.allclose(x, y) and y.min() >= 0 and y.max() <= 1


def test_patch_positives_are_small_crops_resized_to_the_input() -> None:
    # A smooth horizontal ramp: a patch covers a narrow range of it, a whole-image view the full range.
    ramp = torch.linspace(0, 1, 32).expand(4, 3, 32, 32).contiguous()
    cfg = AugmentConfig.identity(positives="patches", patch_scale=(0.05, 0.1), out_size=32)
    patches = make_views(ramp, cfg, n_views=4, generator=torch.Generator().manual_seed(0))
    assert patches.shape == (4, 4, 3, 32, 32)
    spread = patches.amax(dim=(-1, -2, -3)) - patches.amin(dim=(-1, -2, -3))
    assert (spread < 0.5).all()
    assert not torch.equal(patches[0], patches[1])


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (torch.zeros(4, 16, 16, 3, dtype=torch.uint8), r"\[B, 3, H, W\]"),
        (torch.zeros(3, 16, 16), r"\[B, 3, H, W\]"),
        (torch.zeros(2, 3, 8, 8, dtype=torch.int32), "uint8 or float"),
    ],
)
def test_bad_inputs_raise(images: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_views(images, AugmentConfig())


def test_bad_config_raises() -> None:
    with pytest.raises(ValueError, match="flip_p"):
        AugmentConfig(flip_p=1.5)
    with pytest.raises(ValueError, match="positives"):
        AugmentConfig(positives="pairs")
    with pytest.raises(ValueError, match="crop_scale"):
        AugmentConfig(crop_scale=(0.0, 1.0))


def test_from_run_config_maps_views_and_patches() -> None:
    from edgeclip_train.augment import from_run_config
    from edgeclip_train.config import AugmentConfig as RunAugment

    cfg, n = from_run_config(RunAugment(views=3, rotation_degrees=10.0, noise_std=0.02))
    assert n == 3 and cfg.rotate_p == 1.0 and cfg.noise_p == 1.0 and cfg.positives == "instance"
    cfg, n = from_run_config(RunAugment(patches=4, color_jitter=0.0))
    assert n == 4 and cfg.positives == "patches" and cfg.jitter_p == 0.0
    assert make_views(_images(), cfg, n).shape == (4, 6, 3, 20, 20)

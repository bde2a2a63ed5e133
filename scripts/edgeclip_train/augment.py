"""Batched image augmentations on tensors, on whatever device the batch is on, deterministic given a Generator.

`make_views(images, cfg, n_views, generator)` -> views [V, B, 3, S, S]: view v of image b is `views[v, b]`
(the layout of `objective.Batch["views"]`). Positives are either instance views (`cfg.positives="instance"`:
random resized crops + flip/rotation/colour/blur/noise of the whole image) or image patches
(`"patches"`: V random small crops of one image, resized to the model input, then the same photometric ops).
Every op draws per-sample parameters; normalisation (mean/std) comes last. Random numbers are drawn on the
generator's device, so one seed gives the same views on CPU and with a CPU generator on GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

_GRAY = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class AugmentConfig:
    """Each op has a probability `*_p` (per sample) and a strength. `out_size` None keeps the input size."""

    out_size: int | None = None
    positives: str = "instance"  # "instance" | "patches"
    crop_p: float = 1.0
    crop_scale: tuple[float, float] = (0.2, 1.0)  # fraction of the image area
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    patch_scale: tuple[float, float] = (0.05, 0.25)  # "patches": area fraction of each patch (always cropped)
    flip_p: float = 0.5
    rotate_p: float = 0.0
    rotate_degrees: float = 15.0
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1  # fraction of a full turn of the chroma plane (YIQ rotation, a cheap hue shift)
    gray_p: float = 0.2
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)  # pixels of the output image
    noise_p: float = 0.0
    noise_std: float = 0.05
    mean: tuple[float, float, float] | None = (0.5, 0.5, 0.5)  # None: leave pixels in [0, 1]
    std: tuple[float, float, float] | None = (0.5, 0.5, 0.5)

    def __post_init__(self) -> None:
        if self.positives not in ("instance", "patches"):
            raise ValueError(f"positives must be 'instance' or 'patches', got {self.positives!r}")
        for name in ("crop_p", "flip_p", "rotate_p", "jitter_p", "gray_p", "blur_p", "noise_p"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
        for name in ("crop_scale", "patch_scale", "crop_ratio", "blur_sigma"):
            lo, hi = getattr(self, name)
            if not 0.0 < lo <= hi:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {(lo, hi)}")
        if (self.mean is None) != (self.std is None):
            raise ValueError("mean and std must both be set or both be None")

    @staticmethod
    def identity(**overrides: object) -> AugmentConfig:
        """Every op off, no normalisation: the input comes back unchanged (as float in [0, 1])."""
        off = dict(crop_p=0.0, flip_p=0.0, rotate_p=0.0, jitter_p=0.0, gray_p=0.0, blur_p=0.0, noise_p=0.0)
        return replace(AugmentConfig(mean=None, std=None), **{**off, **overrides})  # type: ignore[arg-type]


# ---- random draws -----------------------------------------------------------------------------------------


def _rand(n: int, gen: torch.Generator | None, device: torch.device) -> torch.Tensor:
    where = gen.device if gen is not None else device
    return torch.rand(n, generator=gen, device=where).to(device)


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator | None, device: torch.device) -> torch.Tensor:
    return lo + (hi - lo) * _rand(n, gen, device)


def _coin(n: int, p: float, gen: torch.Generator | None, device: torch.device) -> torch.Tensor:
    return _rand(n, gen, device) < p


# ---- input ------------------------------------------------------------------------------------------------


def to_float_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B,3,H,W] (0..255) or float [B,3,H,W] (0..1) -> float32 [B,3,H,W] in [0, 1]."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images [B, 3, H, W] (channels first), got {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        return images.float() / 255.0
    if not images.is_floating_point():
        raise ValueError(f"expected uint8 or float images, got {images.dtype}")
    return images.float()


# ---- geometry: crop, flip, rotation in one affine resample ------------------------------------------------


def _geometry(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator | None) -> torch.Tensor:
    b, _, h, w = x.shape
    size = cfg.out_size or h
    dev = x.device
    patches = cfg.positives == "patches"
    crop = torch.ones(b, dtype=torch.bool, device=dev) if patches else _coin(b, cfg.crop_p, gen, dev)
    lo, hi = cfg.patch_scale if patches else cfg.crop_scale
    area = torch.where(crop, _uniform(b, lo, hi, gen, dev), torch.ones(b, device=dev))
    log_r = _uniform(b, math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1]), gen, dev)
    ratio = torch.where(crop, log_r.exp(), torch.ones(b, device=dev))
    cw, ch = (area * ratio).sqrt().clamp(max=1.0), (area / ratio).sqrt().clamp(max=1.0)  # half-extents in [-1, 1]
    cx = (2 * _rand(b, gen, dev) - 1) * (1 - cw)
    cy = (2 * _rand(b, gen, dev) - 1) * (1 - ch)
    flip = _coin(b, cfg.flip_p, gen, dev)
    rot = _coin(b, cfg.rotate_p, gen, dev)
    angle = torch.where(
        rot, _uniform(b, -1.0, 1.0, gen, dev) * math.radians(cfg.rotate_degrees), torch.zeros(b, device=dev)
    )
    if not (crop.any() or flip.any() or rot.any()) and size == h == w:
        return x
    sx = cw * torch.where(flip, -1.0, 1.0)
    cos, sin = angle.cos(), angle.sin()
    # input = centre + R(angle) @ diag(sx, ch) @ output, in normalised coordinates
    theta = torch.stack(
        [torch.stack([cos * sx, -sin * ch, cx], 1), torch.stack([sin * sx, cos * ch, cy], 1)], 1
    )  # [B, 2, 3]
    grid = F.affine_grid(theta, [b, 3, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


# ---- photometric ------------------------------------------------------------------------------------------


def _gray(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(1)
    return (_GRAY[0] * r + _GRAY[1] * g + _GRAY[2] * b).unsqueeze(1)


def _hue_matrices(turns: torch.Tensor) -> torch.Tensor:
    """[B] -> [B,3,3] RGB->RGB: rotate the YIQ chroma plane by `turns` of a full circle."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], device=turns.device)
    a = turns * 2 * math.pi
    rot = torch.zeros(len(turns), 3, 3, device=turns.device)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = a.cos(), -a.sin(), a.sin(), a.cos()
    return torch.linalg.inv(to_yiq) @ rot @ to_yiq


def _jitter(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator | None) -> torch.Tensor:
    b, dev = x.shape[0], x.device
    mask = _coin(b, cfg.jitter_p, gen, dev)
    br = _uniform(b, 1 - cfg.brightness, 1 + cfg.brightness, gen, dev)
    co = _uniform(b, 1 - cfg.contrast, 1 + cfg.contrast, gen, dev)
    sa = _uniform(b, 1 - cfg.saturation, 1 + cfg.saturation, gen, dev)
    hu = _uniform(b, -cfg.hue, cfg.hue, gen, dev)
    if not mask.any():
        return x
    v = lambda t: t.view(b, 1, 1, 1)  # noqa: E731
    y = (x * v(br)).clamp(0, 1)
    m = _gray(y).mean(dim=(1, 2, 3), keepdim=True)
    y = ((y - m) * v(co) + m).clamp(0, 1)
    g = _gray(y)
    y = ((y - g) * v(sa) + g).clamp(0, 1)
    if cfg.hue > 0:
        y = torch.einsum("bij,bjhw->bihw", _hue_matrices(hu), y).clamp(0, 1)
    return torch.where(v(mask), y, x)


def _blur(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator | None) -> torch.Tensor:
    b, c, h, w = x.shape
    mask = _coin(b, cfg.blur_p, gen, x.device)
    sigma = _uniform(b, *cfg.blur_sigma, gen, x.device)
    if not mask.any():
        return x
    radius = max(1, min(math.ceil(3 * cfg.blur_sigma[1]), (min(h, w) - 1) // 2))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-(t[None, :] ** 2) / (2 * sigma[:, None] ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # [B*C, K], one kernel per sample
    y = F.pad(x.reshape(1, b * c, h, w), (radius, radius, radius, radius), mode="replicate")
    y = F.conv2d(y, k[:, None, None, :], groups=b * c)
    y = F.conv2d(y, k[:, None, :, None], groups=b * c).reshape(b, c, h, w)
    return torch.where(mask.view(b, 1, 1, 1), y, x)


def _noise(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator | None) -> torch.Tensor:
    mask = _coin(x.shape[0], cfg.noise_p, gen, x.device)
    if not mask.any():
        return x
    where = gen.device if gen is not None else x.device
    n = torch.randn(x.shape, generator=gen, device=where).to(x.device)
    return torch.where(mask.view(-1, 1, 1, 1), (x + cfg.noise_std * n).clamp(0, 1), x)


# ---- public -----------------------------------------------------------------------------------------------


def augment(images: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """One augmented (and normalised) view of each image: [B,3,H,W] -> [B,3,S,S]."""
    x = _geometry(to_float_images(images), cfg, generator)
    x = _jitter(x, cfg, generator)
    gray = _coin(x.shape[0], cfg.gray_p, generator, x.device)
    if gray.any():
        x = torch.where(gray.view(-1, 1, 1, 1), _gray(x).expand_as(x), x)
    x = _noise(_blur(x, cfg, generator), cfg, generator)
    if cfg.mean is not None and cfg.std is not None:
        mean = torch.tensor(cfg.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(cfg.std, device=x.device).view(1, 3, 1, 1)
        x = (x - mean) / std
    return x


def make_views(
    images: torch.Tensor, cfg: AugmentConfig, n_views: int = 2, generator: torch.Generator | None = None
) -> torch.Tensor:
    """`n_views` independent augmentations of each image: [B,3,H,W] (uint8 or float in [0,1]) -> [V,B,3,S,S]."""
    if n_views < 1:
        raise ValueError(f"n_views must be >= 1, got {n_views}")
    return torch.stack([augment(images, cfg, generator) for _ in range(n_views)])


def from_run_config(aug: object) -> tuple[AugmentConfig, int]:
    """(AugmentConfig, n_views) from a section shaped like `config.AugmentConfig` (read by attribute)."""
    strength = float(getattr(aug, "color_jitter", 0.4))
    patches = int(getattr(aug, "patches", 0))
    rotation = float(getattr(aug, "rotation_degrees", 0.0))
    noise = float(getattr(aug, "noise_std", 0.0))
    cfg = AugmentConfig(
        positives="patches" if patches > 0 else "instance",
        crop_scale=tuple(getattr(aug, "crop_scale", (0.2, 1.0))),  # type: ignore[arg-type]
        flip_p=float(getattr(aug, "flip_p", 0.5)),
        rotate_p=1.0 if rotation > 0 else 0.0,
        rotate_degrees=rotation,
        jitter_p=float(getattr(aug, "color_jitter_p", 0.8)) if strength > 0 else 0.0,
        brightness=strength,
        contrast=strength,
        saturation=strength,
        hue=min(0.5, strength / 4),
        gray_p=float(getattr(aug, "grayscale_p", 0.2)),
        blur_p=float(getattr(aug, "blur_p", 0.0)),
        noise_p=1.0 if noise > 0 else 0.0,
        noise_std=noise if noise > 0 else 0.05,
    )
    return cfg, patches if patches > 0 else int(getattr(aug, "views", 2))

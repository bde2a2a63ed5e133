"""Image encoders (CNN, ViT), MLP projection heads, the BYOL predictor, and freezing for EMA/locked towers.

An image tower is `ImageEmbedder(encoder, head)`: pixels -> backbone features -> head -> L2 norm. With the CNN
encoder (flatten pooling) and a 2-layer head without BN its parameter names are those of `models.ImageTower`,
so the export of the shipped model reads either. The text encoder is `models.TextTower` (reused as is).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from .models import Block, ConvEncoder, l2_normalize


@dataclass(frozen=True)
class EncoderConfig:
    """Which image backbone and its size. `kind` is "cnn" or "vit"."""

    kind: str = "cnn"
    image_size: int = 64
    # cnn
    channels: tuple[int, ...] = (16, 32, 64, 128)
    reduce: int = 32
    pool: str = "flatten"  # cnn: "flatten" (position survives, the shipped model) or "avg"; vit: "cls" or "mean"
    # vit
    patch: int = 8
    width: int = 128
    depth: int = 4
    heads: int = 4


@dataclass(frozen=True)
class HeadConfig:
    """MLP projection head: `layers` Linear layers (>= 1), optional BatchNorm after each hidden Linear."""

    hidden: int = 256
    out: int = 64
    layers: int = 2
    batch_norm: bool = False


class CNNEncoder(ConvEncoder):
    """`models.ConvEncoder` with a choice of pooling; parameter names unchanged (`body.*`)."""

    def __init__(self, channels: tuple[int, ...], reduce: int, image_size: int, pool: str = "flatten") -> None:
        super().__init__(channels, reduce, image_size)
        if pool not in ("flatten", "avg"):
            raise ValueError(f"cnn pool must be 'flatten' or 'avg', got {pool!r}")
        self.pool = pool
        if pool == "avg":
            self.out_dim = reduce

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.body(pixel_values)
        return x.mean(dim=(2, 3)) if self.pool == "avg" else torch.flatten(x, 1)


class ViTEncoder(nn.Module):
    """Patchify with a stride-`patch` Conv2d, learned positions, pre-norm blocks, cls-token or mean pooling.

    Attention is `models.SelfAttention` (plain matmuls), so the ONNX export (opset 17) is as simple as the
    text tower's. The input size is fixed at `image_size` (the position table is not interpolated).
    """

    def __init__(self, image_size: int, patch: int, width: int, depth: int, heads: int, pool: str = "cls") -> None:
        super().__init__()
        if image_size % patch:
            raise ValueError(f"image_size {image_size} is not a multiple of patch {patch}")
        if width % heads:
            raise ValueError(f"width {width} is not a multiple of heads {heads}")
        if pool not in ("cls", "mean"):
            raise ValueError(f"vit pool must be 'cls' or 'mean', got {pool!r}")
        self.pool = pool
        n = (image_size // patch) ** 2
        self.patch_embed = nn.Conv2d(3, width, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.position_embedding = nn.Parameter(torch.randn(n + 1, width) * 0.02)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(depth)])
        self.ln_final = nn.LayerNorm(width)
        self.out_dim = width

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(pixel_values).flatten(2).transpose(1, 2)  # [B, N, W]
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.position_embedding
        no_mask = x.new_zeros(())
        for block in self.blocks:
            x = block(x, no_mask)
        x = self.ln_final(x)
        return x[:, 0] if self.pool == "cls" else x[:, 1:].mean(dim=1)


def build_image_encoder(cfg: EncoderConfig) -> CNNEncoder | ViTEncoder:
    """The backbone named by `cfg.kind`; it exposes `out_dim`."""
    if cfg.kind == "cnn":
        return CNNEncoder(cfg.channels, cfg.reduce, cfg.image_size, cfg.pool)
    if cfg.kind == "vit":
        pool = "cls" if cfg.pool == "flatten" else cfg.pool  # "flatten" is the dataclass default, meant for cnn
        return ViTEncoder(cfg.image_size, cfg.patch, cfg.width, cfg.depth, cfg.heads, pool)
    raise ValueError(f"unknown image encoder kind {cfg.kind!r}; known: ['cnn', 'vit']")


class MLPHead(nn.Module):
    """Projection head / predictor: Linear (-> BN) -> GELU ... -> Linear. 2 layers without BN has the
    parameter names of `models.ProjectionHead` (`net.0`, `net.2`)."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int, layers: int = 2, batch_norm: bool = False) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"an MLP head needs at least 1 layer, got {layers}")
        mods: list[nn.Module] = []
        d = d_in
        for _ in range(layers - 1):
            mods.append(nn.Linear(d, d_hidden, bias=not batch_norm))
            if batch_norm:
                mods.append(nn.BatchNorm1d(d_hidden))
            mods.append(nn.GELU())
            d = d_hidden
        mods.append(nn.Linear(d, d_out))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_head(d_in: int, cfg: HeadConfig) -> MLPHead:
    return MLPHead(d_in, cfg.hidden, cfg.out, cfg.layers, cfg.batch_norm)


def byol_predictor(dim: int, hidden: int) -> MLPHead:
    """BYOL's predictor q: dim -> hidden (BN, GELU) -> dim, on the online branch only."""
    return MLPHead(dim, hidden, dim, layers=2, batch_norm=True)


class ImageEmbedder(nn.Module):
    """pixel_values [B,3,H,W] -> L2-normalised projected embeddings [B,D]; `features` gives the backbone output."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.encoder(pixel_values)

    def project(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Head output before normalisation (what BYOL's predictor and the losses take)."""
        return self.head(self.encoder(pixel_values))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return l2_normalize(self.project(pixel_values))


def build_image_embedder(encoder: EncoderConfig, head: HeadConfig) -> ImageEmbedder:
    backbone = build_image_encoder(encoder)
    return ImageEmbedder(backbone, build_head(backbone.out_dim, head))


def freeze_(module: nn.Module) -> nn.Module:
    """Turn every parameter of `module` into a buffer of the same name, in place.

    The module then has no parameters (an optimizer over `parameters()` cannot touch it, even by weight decay),
    yet its tensors stay in `state_dict` under unchanged names, move with `.to()`, and load from a checkpoint.
    Used for momentum/EMA copies and for locked (LiT) towers.
    """
    for sub in module.modules():
        for name, p in list(sub._parameters.items()):
            if p is None:
                continue
            del sub._parameters[name]
            sub.register_buffer(name, p.detach().clone())
    return module


def frozen_copy(module: nn.Module) -> nn.Module:
    return freeze_(copy.deepcopy(module))


class EMA(nn.Module):
    """A frozen copy of `online` updated as target <- decay * target + (1 - decay) * online (BYOL, MoCo keys).
    Buffers that are not parameters (BN running stats) are copied as they are."""

    def __init__(self, online: nn.Module, decay: float) -> None:
        super().__init__()
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = decay
        self.target = frozen_copy(online)

    @torch.no_grad()
    def update(self, online: nn.Module) -> None:
        target = dict(self.target.named_buffers())
        for name, p in online.named_parameters():
            target[name].lerp_(p.detach(), 1.0 - self.decay)
        for name, b in online.named_buffers():
            target[name].copy_(b)

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.target(*args)

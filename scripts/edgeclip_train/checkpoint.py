"""Load a checkpoint written by edgeclip_train.train back into a model, its tokenizer and its preprocessing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from .models import CLIPModel, ModelConfig
from .preprocess import ImagePreprocess


def _tuples(d: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def load_checkpoint(path: Path) -> tuple[CLIPModel, Tokenizer, dict[str, Any]]:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model = CLIPModel(ModelConfig(**_tuples(ckpt["model_config"])))
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, Tokenizer.from_str(ckpt["tokenizer_json"]), ckpt


def preprocess_of(ckpt: dict[str, Any]) -> ImagePreprocess:
    return ImagePreprocess(**_tuples(ckpt["train_config"]["preprocess"]))

"""Shared fixtures: a tokenizer trained on a small caption corpus and a tiny randomly initialised model."""

from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer

from edgeclip_train import data
from edgeclip_train.models import CLIPModel, ModelConfig
from edgeclip_train.tokenizer import train_tokenizer


@pytest.fixture(scope="session")
def tokenizer() -> Tokenizer:
    samples = data.generate(500, 0, data.train_combos())
    return train_tokenizer(data.captions(samples, 1) + data.captions(samples, 2, 1.0, 1.0))


@pytest.fixture(scope="session")
def tiny_model(tokenizer: Tokenizer) -> CLIPModel:
    torch.manual_seed(0)
    cfg = ModelConfig(
        vocab_size=tokenizer.get_vocab_size(),
        image_channels=(8, 16, 16, 32),
        image_reduce=8,
        text_width=32,
        text_layers=1,
        text_heads=2,
        proj_hidden=32,
        embed_dim=16,
    )
    return CLIPModel(cfg).eval()

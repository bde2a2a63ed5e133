"""One entry point from a run config's data section (`DataConfig.source`, `.path`, ...) to loaded data, and the
map-style dataset the trainer's `default_collate` stacks: {"image": uint8 [3,H,W], "label", "input_ids"}.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from ..preprocess import ImagePreprocess
from ..tokenizer import encode_ids
from .builtin import load_digits_split, load_shapes
from .folder import load_image_folder
from .records import ImageTextData
from .shards import load_shards
from .tabular import load_table

SOURCES = ("synthetic", "digits", "csv", "folder", "webdataset")
SYNTHETIC_DEFAULT_SAMPLES = 24000


def load_source(
    source: str, path: str = "", num_samples: int = 0, seed: int = 0, with_captions: bool = True
) -> ImageTextData:
    """Training data of one source; for digits, the train part of the fixed held-out split."""
    if source == "synthetic":
        return load_shapes(num_samples or SYNTHETIC_DEFAULT_SAMPLES, seed)
    if source == "digits":
        return load_digits_split(seed)[0]
    if source in ("csv", "folder", "webdataset") and not path:
        raise ValueError(f"data source {source!r} needs a path")
    if source == "csv":
        return load_table(path)
    if source == "folder":
        return load_image_folder(path, seed=seed)
    if source == "webdataset":
        return load_shards(path, with_captions=with_captions)
    raise ValueError(f"unknown data source {source!r}; known: {list(SOURCES)}")


class TrainingSet:
    """Pixels resized and cropped once (FORMAT.md steps 2-3); captions tokenised once when a tokenizer is given."""

    def __init__(
        self, data: ImageTextData, pre: ImagePreprocess, tok: Tokenizer | None = None, context_length: int = 16
    ) -> None:
        self.pixels = torch.from_numpy(data.pixels(pre)).permute(0, 3, 1, 2).contiguous()
        self.labels = [e.label for e in data.examples]
        self.input_ids: np.ndarray | None = None
        if tok is not None:
            captions = [e.caption or "" for e in data.examples]
            self.input_ids = encode_ids(tok, captions, context_length)

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item: dict[str, Any] = {"image": self.pixels[i]}
        if self.labels[i] is not None:
            item["label"] = self.labels[i]
        if self.input_ids is not None:
            item["input_ids"] = torch.from_numpy(self.input_ids[i])
        return item

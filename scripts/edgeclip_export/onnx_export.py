"""Export one tower (encoder + projection + L2 norm) to ONNX with a dynamic batch axis."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

OPSET = 17
INPUT_NAMES = {"image": "pixel_values", "text": "input_ids"}
OUTPUT_NAME = "embeddings"


def example_input(kind: str, image_size: int, context_length: int) -> torch.Tensor:
    if kind == "image":
        return torch.zeros(2, 3, image_size, image_size, dtype=torch.float32)
    ids = torch.zeros(2, context_length, dtype=torch.int64)
    ids[:, :3] = torch.tensor([2, 5, 3])  # [CLS] token [SEP] then padding
    return ids


def export_tower(
    tower: nn.Module,
    kind: str,
    path: Path,
    image_size: int,
    context_length: int,
    example: np.ndarray | None = None,
) -> None:
    """`example` (a batch of real inputs) replaces the default tracing input when given."""
    tower = tower.eval().cpu()
    x = example_input(kind, image_size, context_length) if example is None else torch.from_numpy(example)
    name = INPUT_NAMES[kind]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter is chosen on purpose (dynamo=False)
        torch.onnx.export(
            tower,
            (x,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=[name],
            output_names=[OUTPUT_NAME],
            dynamic_axes={name: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            do_constant_folding=True,
        )
    model = onnx.load(str(path))
    onnx.checker.check_model(model)

"""Every numeric variant of both towers exports, loads in onnxruntime and stays close to fp32 (tiny random model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from edgeclip_export.onnx_export import export_tower
from edgeclip_export.runtime import OnnxTower, cosines
from edgeclip_export.variants import VARIANTS, make_variant
from edgeclip_train import data
from edgeclip_train.models import CLIPModel
from edgeclip_train.preprocess import ImagePreprocess, normalize, resize_and_crop
from edgeclip_train.tokenizer import encode_ids

# Floors for a tiny random model (real towers do better: see `python -m edgeclip_export.quant_report`).
MIN_MEAN_COSINE = {"fp32": 0.99999, "fp16": 0.999, "int8": 0.95, "int8_static": 0.9, "int8_weight": 0.995}


@pytest.fixture(scope="module")
def towers(tmp_path_factory: pytest.TempPathFactory, tiny_model: CLIPModel, tokenizer: Tokenizer) -> dict:
    out = tmp_path_factory.mktemp("variants")
    cfg = tiny_model.cfg
    pre = ImagePreprocess(shortest_edge=cfg.image_size, crop_height=cfg.image_size, crop_width=cfg.image_size)

    def inputs(seed: int, n: int) -> dict[str, np.ndarray]:
        samples = data.generate(n, seed, data.train_combos())
        pix = normalize(np.stack([resize_and_crop(data.render(s), pre) for s in samples]), pre)
        return {
            "image": pix,
            "text": encode_ids(tokenizer, data.captions(samples, seed), cfg.context_length, cfg.pad_id),
        }

    torch.manual_seed(0)
    fp32 = {}
    for kind, tower in (("image", tiny_model.image), ("text", tiny_model.text)):
        fp32[kind] = out / f"{kind}_src.onnx"
        export_tower(tower, kind, fp32[kind], cfg.image_size, cfg.context_length)
    return {"dir": out, "fp32": fp32, "calibration": inputs(10, 16), "heldout": inputs(20, 12)}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kind", ["image", "text"])
def test_variant_close_to_fp32(towers: dict, kind: str, variant: str) -> None:
    dst: Path = towers["dir"] / f"{kind}_{variant}.onnx"
    how = make_variant(variant, kind, towers["fp32"][kind], dst, towers["calibration"][kind])
    assert how["method"]
    x = towers["heldout"][kind]
    ref = OnnxTower(towers["fp32"][kind])(x)
    got = OnnxTower(dst)(x)
    assert got.shape == ref.shape and got.dtype == np.float32  # keep_io_types: the service still gets float32
    c = cosines(ref, got)
    assert c.mean() >= MIN_MEAN_COSINE[variant], (kind, variant, c.mean(), c.min())
    if variant != "fp32" and kind == "text" or variant in ("int8", "int8_static", "int8_weight"):
        assert dst.stat().st_size < towers["fp32"][kind].stat().st_size


def test_unknown_variant_is_refused(towers: dict) -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        make_variant("int4", "text", towers["fp32"]["text"], towers["dir"] / "x.onnx")

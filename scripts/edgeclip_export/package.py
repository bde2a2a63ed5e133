"""Write golden.json and manifest.json of a model package exactly as models/FORMAT.md describes."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tokenizers import Tokenizer

from edgeclip_train import data
from edgeclip_train.models import CLIPModel
from edgeclip_train.preprocess import ImagePreprocess, pixel_values_from_bytes
from edgeclip_train.tokenizer import encode_ids

FORMAT = "edgeclip-model/1"
GOLDEN_TEXTS = (
    "a red circle",
    "a photo of a large blue square in the top left",
    "There is a TINY Green triangle, at the bottom!",
    "a zebra made of glass",  # words outside the caption vocabulary
    "one small yellow star on a plain background in the top right corner of a very large and empty picture",
)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_entry(path: Path) -> dict[str, Any]:
    return {"path": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def f32_list(x: np.ndarray) -> list[float]:
    """Shortest decimals that round-trip to the same float32 values."""
    return [float(str(v)) for v in np.asarray(x, dtype=np.float32).ravel()]


def _encode(img: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def golden_image_files() -> list[tuple[str, str, bytes]]:
    """PNG and JPEG, RGB/RGBA/grey, square and not, one with a .5 crop offset (FORMAT.md rounds half to even)."""

    def draw(
        colour: str, shape: str, w: int, h: int, cell: tuple[int, int] = (1, 1), size: str = "large"
    ) -> Image.Image:
        short = min(w, h)
        r = short * (0.22 if size == "large" else 0.12)
        x0, y0 = (w - short) / 2, (h - short) / 2
        step = (short - 2 * (r + short * 0.04)) / 2
        cx = x0 + r + short * 0.04 + cell[1] * step
        cy = y0 + r + short * 0.04 + cell[0] * step
        s = data.Sample(colour, shape, size, cell, cx, cy, r, 5.0, data.COLOURS[colour], (235, 232, 225), w, h)
        return data.render(s)

    return [
        ("green-circle-80x80.png", "image/png", _encode(draw("green", "circle", 80, 80), "PNG")),
        ("blue-square-100x80.jpg", "image/jpeg", _encode(draw("blue", "square", 100, 80, (0, 0)), "JPEG", quality=90)),
        (
            "orange-star-72x96-rgba.png",
            "image/png",
            _encode(draw("orange", "star", 72, 96, (2, 2), "small").convert("RGBA"), "PNG"),
        ),
        ("grey-triangle-64x64.png", "image/png", _encode(draw("purple", "triangle", 64, 64).convert("L"), "PNG")),
        ("red-diamond-89x64.png", "image/png", _encode(draw("red", "diamond", 89, 64), "PNG")),
    ]


@torch.no_grad()
def write_golden(path: Path, model_id: str, model: CLIPModel, tok: Tokenizer, pre: ImagePreprocess) -> None:
    cfg = model.cfg
    ids = encode_ids(tok, list(GOLDEN_TEXTS), cfg.context_length, cfg.pad_id)
    text_emb = model.text(torch.from_numpy(ids)).numpy()
    images = []
    for name, media_type, blob in golden_image_files():
        pix = pixel_values_from_bytes(blob, pre)
        emb = model.image(torch.from_numpy(pix[None]))[0].numpy()
        images.append(
            {
                "name": name,
                "media_type": media_type,
                "data": base64.b64encode(blob).decode("ascii"),
                "pixel_values_sha": None,
                "pixel_values": f32_list(pix),
                "embedding": f32_list(emb),
            }
        )
    golden = {
        "model": model_id,
        "texts": [
            {"text": t, "input_ids": [int(i) for i in row], "embedding": f32_list(e)}
            for t, row, e in zip(GOLDEN_TEXTS, ids, text_emb, strict=True)
        ],
        "images": images,
    }
    path.write_text(json.dumps(golden, separators=(",", ":")) + "\n")


def build_manifest(
    model_id: str,
    out_dir: Path,
    model: CLIPModel,
    pre: ImagePreprocess,
    templates: list[str],
    training: dict[str, Any],
    parity: dict[str, Any],
    quantization: dict[str, Any],
) -> dict[str, Any]:
    cfg = model.cfg

    def tower(kind: str, input_name: str, dtype: str, shape: list[Any]) -> dict[str, Any]:
        return {
            "input": {"name": input_name, "dtype": dtype, "shape": shape},
            "output": {"name": "embeddings", "dtype": "float32", "shape": ["batch", cfg.embed_dim]},
            "files": {d: file_entry(out_dir / f"{kind}_{d}.onnx") for d in ("fp32", "int8")},
        }

    return {
        "format": FORMAT,
        "id": model_id,
        "version": "1.0.0",
        "description": "Small CLIP trained on generated shapes",
        "embedding_dim": cfg.embed_dim,
        "default_dtype": "int8",
        "towers": {
            "image": tower("image", "pixel_values", "float32", ["batch", 3, pre.crop_height, pre.crop_width]),
            "text": tower("text", "input_ids", "int64", ["batch", cfg.context_length]),
        },
        "preprocess": {
            "image": pre.to_manifest(),
            "text": {
                "tokenizer": file_entry(out_dir / "tokenizer.json"),
                "context_length": cfg.context_length,
                "pad_id": cfg.pad_id,
                "truncation": "right",
            },
        },
        "scoring": {"logit_scale": round(float(model.scale().item()), 4), "logit_bias": None},
        "zero_shot": {"templates": templates},
        "training": training,
        "parity": parity,
        "quantization": quantization,
    }


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.write_text(json.dumps(manifest, indent=2) + "\n")

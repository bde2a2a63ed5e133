"""Write test/fixtures/preprocess/cases.json: test images and what PIL + numpy make of them.

The expected values follow models/FORMAT.md "Image path" with PIL: Image.open(...).convert("RGB"),
resize((w, h), BICUBIC | BILINEAR) with long = round(long * edge / short) (Python's round, half to even),
torchvision's center crop rule, then (x * rescale - mean) / std in float64 stored as float32, NCHW.

Usage: .venv/bin/python scripts/tools/make_preprocess_fixtures.py
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "preprocess" / "cases.json"

CONFIGS: dict[str, dict[str, Any]] = {
    # The shape of the shapes-clip-s manifest.
    "square64": {
        "resize": {"shortest_edge": 64, "interpolation": "bicubic"},
        "crop": {"height": 64, "width": 64},
        "rescale": 1 / 255,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "channel_order": "RGB",
        "layout": "NCHW",
    },
    # Bilinear, a non-square crop smaller than the resized image, CLIP's statistics.
    "bilinear48": {
        "resize": {"shortest_edge": 48, "interpolation": "bilinear"},
        "crop": {"height": 40, "width": 32},
        "rescale": 1 / 255,
        "mean": [0.48145466, 0.4578275, 0.40821073],
        "std": [0.26862954, 0.26130258, 0.27577711],
        "channel_order": "RGB",
        "layout": "NCHW",
    },
}

FLOAT_CASES = {"rgb_160x120.png", "photo_1024x768.jpg"}

FILTERS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def scene(width: int, height: int, seed: int, noise: int) -> np.ndarray:
    """Gradients, a few shapes and uniform noise, as uint8 RGB."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = (
        np.stack(
            [
                xx / max(width - 1, 1),
                yy / max(height - 1, 1),
                (xx + yy) / (width + height),
            ],
            axis=-1,
        )
        * 255
    )
    img = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, x1 = sorted(rng.integers(0, width, 2).tolist())
        y0, y1 = sorted(rng.integers(0, height, 2).tolist())
        colour = tuple(rng.integers(0, 256, 3).tolist())
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    arr = np.asarray(img).astype(np.int16) + rng.integers(-noise, noise + 1, (height, width, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


def encode(img: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def make_images() -> list[tuple[str, bytes, list[str]]]:
    """(name, encoded bytes, config names to run)."""
    rgb = Image.fromarray(scene(160, 120, 1, 12))
    alpha = np.random.default_rng(3).integers(0, 256, (151, 100), np.uint8)
    rgba = Image.fromarray(np.dstack([scene(100, 151, 2, 8), alpha]))  # convert("RGB") drops alpha, no compositing
    grey = Image.fromarray(scene(97, 61, 4, 30)).convert("L")  # smaller than the crop: upscaled
    palette = Image.fromarray(scene(150, 150, 5, 0)).quantize(colors=32)
    palette.info["transparency"] = 3
    exact = Image.fromarray(scene(64, 64, 6, 60))  # already the crop size: no resampling
    photo = Image.fromarray(scene(1024, 768, 7, 3))
    grey_jpeg = Image.fromarray(scene(301, 128, 8, 10)).convert("L")  # 301 * 64 / 128 = 150.5 -> 150
    return [
        ("rgb_160x120.png", encode(rgb, "PNG"), ["square64", "bilinear48"]),
        ("rgba_100x151.png", encode(rgba, "PNG"), ["square64", "bilinear48"]),
        ("grey_97x61.png", encode(grey, "PNG"), ["square64"]),
        ("palette_150x150.png", encode(palette, "PNG", transparency=3), ["square64"]),
        ("rgb_64x64.png", encode(exact, "PNG"), ["square64"]),
        (
            "photo_1024x768.jpg",
            encode(photo, "JPEG", quality=80),
            ["square64", "bilinear48"],
        ),
        ("grey_301x128.jpg", encode(grey_jpeg, "JPEG", quality=90), ["square64"]),
    ]


def preprocess(rgb: Image.Image, cfg: dict[str, Any]) -> tuple[tuple[int, int], np.ndarray, np.ndarray, str]:
    w, h = rgb.size
    edge = cfg["resize"]["shortest_edge"]
    size = (edge, round(h * edge / w)) if w <= h else (round(w * edge / h), edge)
    resized = rgb.resize(size, FILTERS[cfg["resize"]["interpolation"]])
    rw, rh = resized.size
    ch, cw = cfg["crop"]["height"], cfg["crop"]["width"]
    assert rw >= cw and rh >= ch, "fixtures do not cover the padding case"
    left, top = int(round((rw - cw) / 2.0)), int(round((rh - ch) / 2.0))
    cropped = np.asarray(resized)[top : top + ch, left : left + cw]
    mean = np.asarray(cfg["mean"], np.float64)
    std = np.asarray(cfg["std"], np.float64)
    values = ((cropped.astype(np.float64) * cfg["rescale"] - mean) / std).astype(np.float32).transpose(2, 0, 1)
    resized_sha = hashlib.sha256(np.asarray(resized).tobytes()).hexdigest()
    return (
        size,
        np.ascontiguousarray(cropped),
        np.ascontiguousarray(values),
        resized_sha,
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def main() -> None:
    cases = []
    for name, data, config_names in make_images():
        src = Image.open(io.BytesIO(data))
        mode = src.mode
        rgb = src.convert("RGB")
        decoded = np.asarray(rgb)
        results = {}
        for cname in config_names:
            size, cropped, values, resized_sha = preprocess(rgb, CONFIGS[cname])
            results[cname] = {
                "resized_size": list(size),
                "resized_sha256": resized_sha,
                "cropped_b64": b64(cropped.tobytes()),
            }
            # Float outputs for a few results only, to keep the fixtures small; the rest check uint8 exactly.
            if cname != "square64" or name in FLOAT_CASES:
                results[cname]["pixel_values_b64"] = b64(values.astype("<f4").tobytes())
        cases.append(
            {
                "name": name,
                "pil_mode": mode,
                "width": rgb.width,
                "height": rgb.height,
                "decoded_sha256": hashlib.sha256(decoded.tobytes()).hexdigest(),
                "bytes_b64": b64(data),
                "results": results,
            }
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"configs": CONFIGS, "cases": cases}, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()

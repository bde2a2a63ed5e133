"""The image path of models/FORMAT.md (decode, shortest-edge bicubic resize, center crop, normalise) with PIL."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class ImagePreprocess:
    """Mirrors manifest.preprocess.image; the service repeats exactly these steps."""

    shortest_edge: int = 64
    crop_height: int = 64
    crop_width: int = 64
    rescale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def to_manifest(self) -> dict[str, object]:
        return {
            "resize": {"shortest_edge": self.shortest_edge, "interpolation": "bicubic"},
            "crop": {"height": self.crop_height, "width": self.crop_width},
            "rescale": self.rescale,
            "mean": list(self.mean),
            "std": list(self.std),
            "channel_order": "RGB",
            "layout": "NCHW",
        }


def resize_and_crop(img: Image.Image, cfg: ImagePreprocess) -> np.ndarray:
    """Steps 1-3: RGB, shortest-edge resize with Pillow bicubic, center crop. Returns HWC uint8."""
    img = img.convert("RGB")
    w, h = img.size
    short, edge = min(w, h), cfg.shortest_edge
    if w <= h:
        size = (edge, round(h * edge / short))
    else:
        size = (round(w * edge / short), edge)
    if size != (w, h):
        img = img.resize(size, Image.BICUBIC)
    w, h = img.size
    left = round((w - cfg.crop_width) / 2)
    top = round((h - cfg.crop_height) / 2)
    img = img.crop((left, top, left + cfg.crop_width, top + cfg.crop_height))
    return np.asarray(img, dtype=np.uint8)


def normalize(hwc: np.ndarray, cfg: ImagePreprocess) -> np.ndarray:
    """Step 4 on a batch or single HWC uint8 array -> NCHW/CHW float32."""
    x = hwc.astype(np.float32) * np.float32(cfg.rescale)
    x = (x - np.asarray(cfg.mean, np.float32)) / np.asarray(cfg.std, np.float32)
    return np.ascontiguousarray(np.moveaxis(x, -1, -3)).astype(np.float32)


def pixel_values(img: Image.Image, cfg: ImagePreprocess) -> np.ndarray:
    """The full FORMAT.md image path for one decoded image -> [3, H, W] float32."""
    return normalize(resize_and_crop(img, cfg), cfg)


def pixel_values_from_bytes(data: bytes, cfg: ImagePreprocess) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return pixel_values(img, cfg)

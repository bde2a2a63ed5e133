"""The record every data source yields, the skip counter for bad samples, and image decoding that fails loudly.

A bad sample (missing, unreadable or truncated image, empty caption, bad label) is skipped and counted by
reason; it never stops a run. `ImageTextData.skipped` says how many were dropped and why.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..preprocess import ImagePreprocess, resize_and_crop

log = logging.getLogger("edgeclip_train.datasets")

IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "bmp", "gif", "webp", "ppm", "tif", "tiff"})
MAX_SKIP_EXAMPLES = 5  # where the first few skips happened, for the summary line


class BadSample(Exception):
    """Raised by decoding/validation helpers; `reason` is the counter key (e.g. 'unreadable_image')."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Example:
    """One sample: an RGB image, an optional caption, an optional class id (index into `class_names`)."""

    image: Image.Image
    caption: str | None = None
    label: int | None = None


@dataclass
class SkipCounter:
    """Counts skipped samples per reason and remembers where the first few were."""

    source: str
    counts: Counter[str] = field(default_factory=Counter)
    where: list[str] = field(default_factory=list)

    def skip(self, reason: str, where: str) -> None:
        self.counts[reason] += 1
        if len(self.where) < MAX_SKIP_EXAMPLES:
            self.where.append(f"{where} ({reason})")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        if not self.total:
            return f"{self.source}: no samples skipped"
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        return f"{self.source}: skipped {self.total} samples ({reasons}); first: {'; '.join(self.where)}"


@dataclass
class ImageTextData:
    """What every source returns: the loaded examples, the class names (if labelled) and the skip counts."""

    examples: list[Example]
    class_names: tuple[str, ...] | None
    skipped: SkipCounter

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def labels(self) -> np.ndarray:
        if any(e.label is None for e in self.examples):
            raise ValueError(f"{self.skipped.source}: some examples have no label")
        return np.asarray([e.label for e in self.examples], dtype=np.int64)

    @property
    def captions(self) -> list[str | None]:
        return [e.caption for e in self.examples]

    def pixels(self, pre: ImagePreprocess) -> np.ndarray:
        """The FORMAT.md resize and center crop of every image: uint8 [N, H, W, 3]."""
        return np.stack([resize_and_crop(e.image, pre) for e in self.examples])

    def log_summary(self) -> None:
        line = f"{self.skipped.source}: loaded {len(self.examples)} samples; {self.skipped.summary()}"
        (log.warning if self.skipped.total else log.info)(line)


def decode_image(data: bytes | Path, where: str = "") -> Image.Image:
    """Decode fully (so truncation shows now, not mid-training) and convert to RGB; raise BadSample otherwise."""
    try:
        src = io.BytesIO(data) if isinstance(data, bytes) else data
        with Image.open(src) as img:
            img.load()
            return img.convert("RGB")
    except FileNotFoundError as e:
        raise BadSample("missing_image", where) from e
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as e:
        # PIL raises OSError for truncated files and UnidentifiedImageError (an OSError) for non-images.
        raise BadSample("unreadable_image", f"{where}: {e}") from e


def clean_caption(text: str | None) -> str:
    caption = " ".join((text or "").split())
    if not caption:
        raise BadSample("empty_caption")
    return caption


def is_image_name(name: str) -> bool:
    return name.rsplit(".", 1)[-1].lower() in IMAGE_EXTENSIONS if "." in name else False

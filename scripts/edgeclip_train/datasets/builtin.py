"""Built-in data: the synthetic shapes generator and scikit-learn's handwritten digits (8x8, shipped in the
package, no download) upscaled to the model input, with varied captions and a fixed stratified held-out split.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image

from .. import data
from .records import Example, ImageTextData, SkipCounter

DIGIT_NAMES: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# {w}: the digit as a word, {d}: as a numeral. Captions mix both so the text tower learns that they agree.
DIGIT_CAPTION_TEMPLATES: tuple[str, ...] = (
    "a handwritten digit {w}",
    "the number {d} written by hand",
    "a handwritten {w}",
    "the digit {w}",
    "a scan of a handwritten {d}",
    "the numeral {d}",
    "a small image of the digit {w}",
    "{w}",
    "a {w} written with a pen",
    "the number {w}",
    "a picture of the handwritten number {d}",
    "a blurry handwritten {w}",
)
# Zero-shot prompts (filled with the class name, i.e. the word); evaluate.zero_shot_classifier averages them.
DIGIT_PROMPT_TEMPLATES: tuple[str, ...] = (
    "a handwritten digit {}.",
    "the number {} written by hand.",
    "a photo of the digit {}.",
    "the digit {}.",
)
DIGITS_TEST_FRACTION = 0.25
DIGITS_IMAGE_SIZE = 32


def digit_caption(label: int, rng: random.Random) -> str:
    return rng.choice(DIGIT_CAPTION_TEMPLATES).format(w=DIGIT_NAMES[label], d=label)


def _digit_image(row: np.ndarray, size: int) -> Image.Image:
    """8x8 ink values 0..16 -> dark ink on white paper, bicubic-upscaled to size x size RGB."""
    grey = (255 - np.clip(row.reshape(8, 8) * (255.0 / 16.0), 0, 255)).round().astype(np.uint8)
    return Image.fromarray(grey).resize((size, size), Image.BICUBIC).convert("RGB")


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(keep, held) index arrays: `fraction` of each class held out, chosen by a seeded permutation."""
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_held = int(round(len(idx) * fraction))
        held.append(idx[:n_held])
        keep.append(idx[n_held:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


def load_digits_split(
    seed: int = 0, test_fraction: float = DIGITS_TEST_FRACTION, size: int = DIGITS_IMAGE_SIZE
) -> tuple[ImageTextData, ImageTextData]:
    """(train, test) of the 1,797 digits; the split depends only on `seed` and `test_fraction`."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x, y = np.asarray(bunch.data), np.asarray(bunch.target, dtype=np.int64)
    train_idx, test_idx = stratified_split(y, test_fraction, seed)
    rng = random.Random(seed + 1)
    out = []
    for part, idx in (("train", train_idx), ("test", test_idx)):
        examples = [Example(_digit_image(x[i], size), digit_caption(int(y[i]), rng), int(y[i])) for i in idx]
        out.append(ImageTextData(examples, DIGIT_NAMES, SkipCounter(f"digits/{part}")))
    return out[0], out[1]


def load_shapes(n: int, seed: int, heldout: bool = False) -> ImageTextData:
    """The synthetic shapes (training combinations, or the held-out ones), labelled by 'colour shape'."""
    combos = data.HELDOUT_COMBOS if heldout else tuple(data.train_combos())
    samples = data.heldout_samples(n, seed) if heldout else data.generate(n, seed, list(combos))
    names = tuple(data.labels(combos))
    caps = data.captions(samples, seed + 1)
    examples = [Example(data.render(s), c, names.index(s.label)) for s, c in zip(samples, caps, strict=True)]
    return ImageTextData(examples, names, SkipCounter("shapes/heldout" if heldout else "shapes/train"))

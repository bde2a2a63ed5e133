"""An image folder with one sub-folder per class (ImageNet layout); captions come from the class name through
templates, so the same folder trains image-only and image-text objectives.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from .records import BadSample, Example, ImageTextData, SkipCounter, decode_image, is_image_name

CLASS_CAPTION_TEMPLATES: tuple[str, ...] = (
    "a photo of a {}",
    "a picture of a {}",
    "an image of a {}",
    "a {}",
    "a close-up photo of a {}",
    "a cropped photo of a {}",
)


def class_phrase(folder_name: str) -> str:
    return " ".join(folder_name.replace("_", " ").replace("-", " ").split())


def load_image_folder(
    root: str | Path, templates: Sequence[str] = CLASS_CAPTION_TEMPLATES, seed: int = 0
) -> ImageTextData:
    """Sub-folders in sorted order are the classes; files that are not images by extension are counted too."""
    root = Path(root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"{root}: no class sub-folders")
    skipped = SkipCounter(str(root))
    rng = random.Random(seed)
    examples = []
    for label, name in enumerate(classes):
        phrase = class_phrase(name)
        for path in sorted(p for p in (root / name).rglob("*") if p.is_file() and not p.name.startswith(".")):
            where = f"{name}/{path.relative_to(root / name)}"
            if not is_image_name(path.name):
                skipped.skip("not_an_image", where)
                continue
            try:
                image = decode_image(path, where)
            except BadSample as e:
                skipped.skip(e.reason, where)
                continue
            examples.append(Example(image, rng.choice(templates).format(phrase), label))
    data = ImageTextData(examples, tuple(class_phrase(c) for c in classes), skipped)
    data.log_summary()
    return data

"""Data sources for training and evaluation. Every source returns an `ImageTextData` of `Example`s (RGB image,
optional caption, optional label) plus the count of skipped bad samples.

    load_shapes(n, seed)          synthetic shapes (edgeclip_train.data)
    load_digits_split(seed)       scikit-learn's handwritten digits, stratified seeded held-out split
    load_table(path)              CSV/TSV: image path (relative to the file), caption, optional label
    load_image_folder(root)       one sub-folder per class; captions from the class name via templates
    load_shards(spec)             WebDataset tar shards: key.{jpg,png,...} + key.txt and/or key.cls
    load_source(name, path, ...)  one of the above by the run config's `data.source` name
    TrainingSet(data, pre, tok)   map-style dataset of {"image", "label", "input_ids"} for the trainer
"""

from .builtin import (
    DIGIT_CAPTION_TEMPLATES,
    DIGIT_NAMES,
    DIGIT_PROMPT_TEMPLATES,
    digit_caption,
    load_digits_split,
    load_shapes,
    stratified_split,
)
from .folder import CLASS_CAPTION_TEMPLATES, load_image_folder
from .records import BadSample, Example, ImageTextData, SkipCounter, decode_image
from .shards import load_shards
from .sources import SOURCES, TrainingSet, load_source
from .tabular import load_table

__all__ = [
    "CLASS_CAPTION_TEMPLATES",
    "SOURCES",
    "TrainingSet",
    "load_source",
    "DIGIT_CAPTION_TEMPLATES",
    "DIGIT_NAMES",
    "DIGIT_PROMPT_TEMPLATES",
    "BadSample",
    "Example",
    "ImageTextData",
    "SkipCounter",
    "decode_image",
    "digit_caption",
    "load_digits_split",
    "load_image_folder",
    "load_shapes",
    "load_shards",
    "load_table",
    "stratified_split",
]

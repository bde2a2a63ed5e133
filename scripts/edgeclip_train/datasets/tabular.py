"""User data as a CSV or TSV file: one row per sample with an image path (relative to the file) and a caption,
optionally a label. The header names the columns; the delimiter follows the extension (.tsv: tab, else comma).
"""

from __future__ import annotations

import csv
from pathlib import Path

from .records import BadSample, Example, ImageTextData, SkipCounter, clean_caption, decode_image

IMAGE_COLUMNS = ("image", "path", "filepath", "file", "image_path")
CAPTION_COLUMNS = ("caption", "text", "title")
LABEL_COLUMNS = ("label", "class", "category")


def _column(header: list[str], names: tuple[str, ...], required: bool, path: Path) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    for name in names:
        if name in lowered:
            return lowered[name]
    if required:
        raise ValueError(f"{path}: no column named any of {list(names)} in header {header}")
    return None


def load_table(path: str | Path, delimiter: str | None = None) -> ImageTextData:
    """Load every good row; bad rows are counted in `skipped`. A missing file or header is an error, not a skip."""
    path = Path(path)
    delimiter = delimiter or ("\t" if path.suffix.lower() in (".tsv", ".tab") else ",")
    skipped = SkipCounter(str(path))
    rows: list[tuple[Path, str, str | None, str]] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        header = list(reader.fieldnames or [])
        image_col = _column(header, IMAGE_COLUMNS, True, path)
        caption_col = _column(header, CAPTION_COLUMNS, True, path)
        label_col = _column(header, LABEL_COLUMNS, False, path)
        for line, row in enumerate(reader, start=2):
            where = f"line {line}"
            rel = (row.get(image_col) or "").strip()  # type: ignore[arg-type]
            if not rel:
                skipped.skip("missing_image", where)
                continue
            label = (row.get(label_col) or "").strip() if label_col else None
            if label_col and not label:
                skipped.skip("missing_label", where)
                continue
            rows.append((path.parent / rel, row.get(caption_col) or "", label, where))  # type: ignore[arg-type]

    class_names = tuple(sorted({r[2] for r in rows if r[2] is not None})) if label_col else None
    examples = []
    for image_path, caption, label, where in rows:
        try:
            text = clean_caption(caption)
            image = decode_image(image_path, where)
        except BadSample as e:
            skipped.skip(e.reason, f"{where}: {image_path.name}")
            continue
        label_id = class_names.index(label) if class_names is not None and label is not None else None
        examples.append(Example(image, text, label_id))
    data = ImageTextData(examples, class_names, skipped)
    data.log_summary()
    return data

"""WebDataset tar shards read with the stdlib: consecutive members sharing a key form one sample
(`key.jpg|png|...` plus `key.txt` caption and/or `key.cls` integer label). A corrupt shard is counted and skipped.
"""

from __future__ import annotations

import glob
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from .records import BadSample, Example, ImageTextData, SkipCounter, clean_caption, decode_image, is_image_name


def split_key(member_name: str) -> tuple[str, str]:
    """WebDataset convention: the extension starts at the first dot of the file name ('a/b.seg.png' -> 'seg.png')."""
    directory, _, base = member_name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{directory}/{stem}" if directory else stem), ext.lower()


def expand_shards(spec: str | Path | Sequence[str | Path]) -> list[Path]:
    """A path, a glob ('shards/*.tar') or a list of either; sorted so the order is reproducible."""
    specs = [spec] if isinstance(spec, str | Path) else list(spec)
    out: list[Path] = []
    for s in specs:
        matches = sorted(glob.glob(str(s)))
        out += [Path(m) for m in matches] if matches else [Path(s)]
    return out


def _groups(path: Path, skipped: SkipCounter) -> Iterator[tuple[str, dict[str, bytes]]]:
    key, files = None, {}
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                k, ext = split_key(member.name)
                if k != key and key is not None:
                    yield key, files
                    files = {}
                key = k
                f = tar.extractfile(member)
                files[ext] = f.read() if f is not None else b""
    except (tarfile.TarError, OSError, EOFError) as e:
        # Keep the samples read before the damage; the last, possibly partial, group is dropped below.
        skipped.skip("unreadable_shard", f"{path.name}: {e}")
        return
    if key is not None:
        yield key, files


def _example(files: dict[str, bytes], where: str, with_captions: bool) -> Example:
    image_ext = next((e for e in files if is_image_name("x." + e)), None)
    if image_ext is None:
        raise BadSample("missing_image", where)
    caption = None
    if "txt" in files:
        caption = clean_caption(files["txt"].decode("utf-8", errors="replace"))
    elif with_captions:
        raise BadSample("empty_caption", where)
    label = None
    if "cls" in files:
        try:
            label = int(files["cls"].decode().strip())
        except ValueError as e:
            raise BadSample("bad_label", where) from e
    if caption is None and label is None:
        raise BadSample("no_caption_or_label", where)
    return Example(decode_image(files[image_ext], where), caption, label)


def load_shards(
    spec: str | Path | Sequence[str | Path], class_names: Sequence[str] | None = None, with_captions: bool = False
) -> ImageTextData:
    """All samples of the shards. `with_captions`: a sample without .txt is skipped (image-text training)."""
    paths = expand_shards(spec)
    skipped = SkipCounter(str(spec) if isinstance(spec, str | Path) else f"{len(paths)} shards")
    examples = []
    for path in paths:
        if not path.exists():
            skipped.skip("missing_shard", str(path))
            continue
        for key, files in _groups(path, skipped):
            where = f"{path.name}:{key}"
            try:
                ex = _example(files, where, with_captions)
            except BadSample as e:
                skipped.skip(e.reason, where)
                continue
            if class_names is not None and ex.label is not None and not 0 <= ex.label < len(class_names):
                skipped.skip("bad_label", where)
                continue
            examples.append(ex)
    data = ImageTextData(examples, tuple(class_names) if class_names is not None else None, skipped)
    data.log_summary()
    return data

"""Every data source on tiny fixtures with deliberately broken samples: what loads, and what is counted as skipped."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeclip_train.datasets import (
    load_digits_split,
    load_image_folder,
    load_shapes,
    load_shards,
    load_table,
    stratified_split,
)
from edgeclip_train.preprocess import ImagePreprocess


def png_bytes(colour: tuple[int, int, int], size: int = 12) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(colour: tuple[int, int, int], size: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format="JPEG")
    return buf.getvalue()


def write_images(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "red.png").write_bytes(png_bytes((255, 0, 0)))
    (folder / "blue.jpg").write_bytes(jpeg_bytes((0, 0, 255)))
    (folder / "truncated.jpg").write_bytes(jpeg_bytes((0, 255, 0))[:200])
    (folder / "garbage.png").write_bytes(b"not an image at all")


@pytest.mark.parametrize("ext,sep", [("csv", ","), ("tsv", "\t")])
def test_table_loads_good_rows_and_counts_bad_ones(tmp_path: Path, ext: str, sep: str) -> None:
    write_images(tmp_path / "img")
    rows = [
        ("image", "caption", "label"),
        ("img/red.png", "a red square", "red"),
        ("img/blue.jpg", "  a   blue square ", "blue"),
        ("img/red.png", "", "red"),  # empty caption
        ("img/missing.png", "gone", "red"),  # missing file
        ("img/truncated.jpg", "a green square", "green"),  # truncated JPEG
        ("img/garbage.png", "not a picture", "red"),  # unreadable
        ("", "no path", "red"),  # no image path
        ("img/red.png", "no label", ""),  # label column present, value missing
    ]
    table = tmp_path / f"data.{ext}"
    table.write_text("\n".join(sep.join(r) for r in rows) + "\n")
    data = load_table(table)
    assert [e.caption for e in data.examples] == ["a red square", "a blue square"]
    assert data.class_names == ("blue", "green", "red")
    assert data.labels.tolist() == [2, 0]
    assert data.examples[0].image.mode == "RGB" and data.examples[0].image.size == (12, 12)
    assert dict(data.skipped.counts) == {
        "empty_caption": 1,
        "missing_image": 2,
        "unreadable_image": 2,
        "missing_label": 1,
    }
    assert data.skipped.total == 6 and "skipped 6" in data.skipped.summary()


def test_table_without_label_column_and_bad_header(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(png_bytes((1, 2, 3)))
    (tmp_path / "t.csv").write_text('path,text\na.png,"one, with a comma"\n')
    data = load_table(tmp_path / "t.csv")
    assert data.class_names is None and data.captions == ["one, with a comma"] and data.skipped.total == 0
    (tmp_path / "bad.csv").write_text("foo,bar\na.png,x\n")
    with pytest.raises(ValueError, match="no column"):
        load_table(tmp_path / "bad.csv")


def test_image_folder(tmp_path: Path) -> None:
    write_images(tmp_path / "golden_retriever")
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "c.png").write_bytes(png_bytes((9, 9, 9)))
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    data = load_image_folder(tmp_path, seed=0)
    assert data.class_names == ("cat", "golden retriever")
    assert data.labels.tolist() == [0, 1, 1]
    assert all(
        c is not None and c.endswith(n) for c, n in zip(data.captions, ["cat"] + ["golden retriever"] * 2, strict=True)
    )
    assert dict(data.skipped.counts) == {"unreadable_image": 2, "not_an_image": 1}
    assert load_image_folder(tmp_path, seed=0).captions == data.captions


def write_shard(path: Path, members: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, payload in members:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


def test_webdataset_shards(tmp_path: Path) -> None:
    write_shard(
        tmp_path / "shard-000.tar",
        [
            ("s/000.png", png_bytes((255, 0, 0))),
            ("s/000.txt", b"a red square"),
            ("s/000.cls", b"1"),
            ("s/001.jpg", jpeg_bytes((0, 0, 255))),
            ("s/001.cls", b"0"),  # label only
            ("s/002.png", png_bytes((0, 0, 0))),
            ("s/002.txt", b"   "),  # empty caption
            ("s/003.txt", b"caption without image"),  # no image
            ("s/004.jpg", jpeg_bytes((0, 255, 0))[:150]),  # truncated
            ("s/004.txt", b"a green square"),
            ("s/005.png", png_bytes((5, 5, 5))),
            ("s/005.cls", b"seven"),  # not an integer
        ],
    )
    write_shard(tmp_path / "shard-001.tar", [("v1.0/x.png", png_bytes((7, 7, 7))), ("v1.0/x.txt", b"dotted key")])
    (tmp_path / "shard-002.tar").write_bytes(b"\0garbage" * 10)  # not a tar at all
    data = load_shards(str(tmp_path / "shard-*.tar"), class_names=["blue", "red"])
    assert [(e.caption, e.label) for e in data.examples] == [("a red square", 1), (None, 0), ("dotted key", None)]
    assert dict(data.skipped.counts) == {
        "empty_caption": 1,
        "missing_image": 1,
        "unreadable_image": 1,
        "bad_label": 1,
        "unreadable_shard": 1,
    }
    with_caps = load_shards([tmp_path / "shard-000.tar", tmp_path / "shard-001.tar"], with_captions=True)
    assert [e.caption for e in with_caps.examples] == ["a red square", "dotted key"]
    assert with_caps.skipped.counts["empty_caption"] == 3  # 001 and 005 have no .txt, 002 an empty one


def test_truncated_shard_keeps_what_was_read(tmp_path: Path) -> None:
    members = [
        (f"{i:03d}.{ext}", png_bytes((i, i, i)) if ext == "png" else b"cap %d" % i)
        for i in range(4)
        for ext in ("png", "txt")
    ]
    write_shard(tmp_path / "full.tar", members)
    raw = (tmp_path / "full.tar").read_bytes()
    with tarfile.open(tmp_path / "full.tar") as tar:
        payload = tar.getmember("002.png").offset_data
    (tmp_path / "cut.tar").write_bytes(raw[: payload + 40])  # inside 002.png's bytes: tarfile raises
    data = load_shards(tmp_path / "cut.tar")
    assert [e.caption for e in data.examples] == ["cap 0", "cap 1"]
    assert dict(data.skipped.counts) == {"unreadable_shard": 1}
    # Cut on a block boundary after 002.png, tarfile sees a clean end: the half-written sample is what is counted.
    (tmp_path / "cut.tar").write_bytes(raw[: len(raw) // 2])
    data = load_shards(tmp_path / "cut.tar")
    assert len(data) == 2 and data.skipped.total == 1


def test_digits_split_is_stratified_deterministic_and_disjoint() -> None:
    train, test = load_digits_split(seed=0)
    assert len(train) + len(test) == 1797
    assert abs(len(test) / 1797 - 0.25) < 0.01
    counts = np.bincount(test.labels, minlength=10)
    assert counts.min() >= 43 and counts.max() <= 47  # ~25% of each class (174..183 per class)
    assert train.examples[0].image.size == (32, 32) and train.class_names is not None
    train2, test2 = load_digits_split(seed=0)
    pre = ImagePreprocess(32, 32, 32)
    assert np.array_equal(test.pixels(pre), test2.pixels(pre)) and test.captions == test2.captions
    # Disjoint: no held-out image also appears in train (digits has a few exact duplicates, so compare indices).
    y = np.repeat(np.arange(10), 20)
    keep, held = stratified_split(y, 0.25, seed=3)
    assert set(keep.tolist()).isdisjoint(held.tolist()) and len(keep) + len(held) == 200
    assert np.bincount(y[held]).tolist() == [5] * 10
    assert not np.array_equal(stratified_split(y, 0.25, seed=4)[1], held)


def test_digit_captions_name_the_digit() -> None:
    train, _ = load_digits_split(seed=0)
    from edgeclip_train.datasets import DIGIT_NAMES

    for e in train.examples[:50]:
        assert e.caption and e.label is not None
        assert DIGIT_NAMES[e.label] in e.caption or str(e.label) in e.caption
    assert len(set(train.captions)) > 30


def test_shapes_source() -> None:
    data = load_shapes(12, seed=0)
    assert len(data) == 12 and data.class_names is not None and data.skipped.total == 0
    for e in data.examples:
        assert e.label is not None and data.class_names[e.label].split()[1] in (e.caption or "")
    held = load_shapes(5, seed=0, heldout=True)
    assert held.pixels(ImagePreprocess()).shape == (5, 64, 64, 3)


def test_load_source_and_training_set(tmp_path: Path) -> None:
    from edgeclip_train.datasets import TrainingSet, load_source
    from edgeclip_train.tokenizer import train_tokenizer
    from edgeclip_train.trainer import default_collate

    write_images(tmp_path / "img")
    (tmp_path / "d.csv").write_text("image,caption\nimg/red.png,a red square\nimg/blue.jpg,a blue square\n")
    data = load_source("csv", str(tmp_path / "d.csv"))
    tok = train_tokenizer(["a red square", "a blue square"])
    ds = TrainingSet(data, ImagePreprocess(8, 8, 8), tok, context_length=6)
    batch = default_collate([ds[0], ds[1]])
    assert batch["images"].shape == (2, 3, 8, 8) and batch["images"].dtype.is_floating_point is False
    assert batch["input_ids"].shape == (2, 6) and "labels" not in batch
    assert len(load_source("synthetic", num_samples=3)) == 3
    with pytest.raises(ValueError, match="needs a path"):
        load_source("folder")
    with pytest.raises(ValueError, match="unknown data source"):
        load_source("imagenet", "x")

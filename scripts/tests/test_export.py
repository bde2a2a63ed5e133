"""Export parity and package writing on a tiny randomly initialised model (no training needed)."""

import base64
import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from edgeclip_export.build import export_package
from edgeclip_export.onnx_export import export_tower
from edgeclip_export.quantize import quantize_tower
from edgeclip_export.runtime import OnnxTower, cosines
from edgeclip_train import data
from edgeclip_train.checkpoint import checkpoint_path, load_checkpoint, save_train_checkpoint
from edgeclip_train.config import RunConfig
from edgeclip_train.models import CLIPModel
from edgeclip_train.objectives import build_objective_from_config
from edgeclip_train.preprocess import ImagePreprocess, pixel_values_from_bytes
from edgeclip_train.tokenizer import encode_ids


def _inputs(model: CLIPModel, tok: Tokenizer, n: int) -> dict[str, np.ndarray]:
    g = torch.Generator().manual_seed(0)
    samples = data.generate(n, 5, data.train_combos())
    return {
        "image": torch.randn(n, 3, 64, 64, generator=g).numpy(),
        "text": encode_ids(tok, data.captions(samples, 6), model.cfg.context_length),
    }


@pytest.mark.parametrize("kind", ["image", "text"])
def test_onnx_parity_fp32_and_int8(tiny_model: CLIPModel, tokenizer: Tokenizer, tmp_path: Path, kind: str) -> None:
    tower = tiny_model.image if kind == "image" else tiny_model.text
    fp32, int8 = tmp_path / f"{kind}_fp32.onnx", tmp_path / f"{kind}_int8.onnx"
    export_tower(tower, kind, fp32, 64, tiny_model.cfg.context_length)
    quantize_tower(kind, fp32, int8)
    x = _inputs(tiny_model, tokenizer, 37)[kind]  # a batch size the export never saw
    with torch.no_grad():
        ref = tower(torch.from_numpy(x)).numpy()
    assert cosines(ref, OnnxTower(fp32)(x)).min() >= 0.9999
    assert cosines(ref, OnnxTower(int8)(x)).mean() >= 0.99
    assert np.allclose(np.linalg.norm(OnnxTower(fp32)(x), axis=1), 1.0, atol=1e-5)  # L2 norm is inside the graph


def _tiny_run(run_dir: Path, tokenizer: Tokenizer) -> CLIPModel:
    """A run directory as edgeclip_train.run leaves it: checkpoint, tokenizer.json, results.json."""
    cfg = RunConfig(objective="clip", out_dir=str(run_dir))
    cfg.encoder = dataclasses.replace(
        cfg.encoder, image_width=32, vocab_size=tokenizer.get_vocab_size(), context_length=16, text_width=32,
        text_layers=1, text_heads=2, proj_hidden=32, embed_dim=16,
    )
    torch.manual_seed(0)
    objective = build_objective_from_config(cfg).eval()
    save_train_checkpoint(
        checkpoint_path(run_dir, 1), objective.state_dict(), {"state": {}, "param_groups": []}, {}, [], cfg.to_dict()
    )
    tokenizer.save(str(run_dir / "tokenizer.json"))
    meta = {"metrics": {"recall": {}}, "train_seconds": 0.0, "device": "cpu", "world_size": 1,
            "train_samples": 0, "preprocess": dataclasses.asdict(ImagePreprocess())}
    (run_dir / "results.json").write_text(json.dumps({"rows": [], "meta": meta}))
    model, _, _ = load_checkpoint(run_dir)
    with torch.no_grad():  # the read-back model is the objective's image and text towers
        x = torch.randn(2, 3, 64, 64)
        assert torch.allclose(model.image(x), objective.embed_images(x))
    return model


def test_package_files_match_manifest(tokenizer: Tokenizer, tmp_path: Path) -> None:
    tiny_model = _tiny_run(tmp_path / "run", tokenizer)
    out, fixture = tmp_path / "tiny", tmp_path / "heldout-tiny.json"
    manifest = export_package(tmp_path / "run", out, fixture, "tiny")

    written = json.loads((out / "manifest.json").read_text())
    assert written == manifest and written["format"] == "edgeclip-model/1" and written["id"] == "tiny"
    entries = [f for t in written["towers"].values() for f in t["files"].values()]
    entries.append(written["preprocess"]["text"]["tokenizer"])
    assert {e["path"] for e in entries} | {"manifest.json", "golden.json"} == {p.name for p in out.iterdir()}
    for e in entries:
        blob = (out / e["path"]).read_bytes()
        assert e["sha256"] == hashlib.sha256(blob).hexdigest() and e["bytes"] == len(blob)

    golden = json.loads((out / "golden.json").read_text())
    assert len(golden["texts"]) >= 4 and len(golden["images"]) >= 3
    assert {i["media_type"] for i in golden["images"]} == {"image/png", "image/jpeg"}
    for item in golden["images"]:
        pix = pixel_values_from_bytes(base64.b64decode(item["data"]), ImagePreprocess())
        assert np.array_equal(np.asarray(item["pixel_values"], np.float32), pix.ravel())
        assert len(item["embedding"]) == tiny_model.cfg.embed_dim
    for t in golden["texts"]:
        assert t["input_ids"] == encode_ids(tokenizer, [t["text"]], tiny_model.cfg.context_length)[0].tolist()

    fx = json.loads(fixture.read_text())
    assert set(fx["python_top1"]) == {"torch", "onnx_fp32", "onnx_int8"}
    assert {i["label"] for i in fx["items"]} == set(fx["labels"])
    assert written["parity"]["fp32"]["image"]["min_cosine"] >= 0.9999
    assert written["parity"]["fp32"]["text"]["min_cosine"] >= 0.9999

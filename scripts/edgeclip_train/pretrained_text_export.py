"""Export check of a pretrained text tower: ONNX fp32 and dynamic int8 graphs (input_ids only, head and L2 norm
inside), their cosine to PyTorch under onnxruntime, file sizes, and the package's tokenizer.json re-saved for the
service (padding and truncation off, as for the trained tokenizer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from tokenizers import Tokenizer

from edgeclip_export.onnx_export import export_tower
from edgeclip_export.quantize import QuantScheme, quantize_tower

from . import data
from .evaluate import ZERO_SHOT_TEMPLATES
from .pretrained_text import PretrainedTextTower
from .tokenizer import encode_ids

# MatMul only is the project's text scheme; MiniLM's 30522 x 384 word embedding (47 MB fp32) then stays fp32,
# so the Gather variant quantizes it too.
INT8_SCHEMES = {
    "int8": QuantScheme(weight_type="int8", op_types=("MatMul",)),
    "int8_gather": QuantScheme(weight_type="int8", op_types=("MatMul", "Gather")),
    "int8_gather_per_channel": QuantScheme(weight_type="int8", op_types=("MatMul", "Gather"), per_channel=True),
}


def check_sentences() -> list[str]:
    """Prompts for every colour x shape label, shape captions, and a few general sentences."""
    labels = [f"{c} {s}" for c in data.COLOURS for s in data.SHAPES]
    prompts = [t.format(lbl) for t in ZERO_SHOT_TEMPLATES for lbl in labels]
    caps = data.captions(data.generate(64, 7, data.train_combos()), 8)
    general = ["The quick brown fox jumps over the lazy dog.", "Zürich café, naïve émigrés!", "a", ""]
    return prompts + caps + general


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)


def export_check(tower: PretrainedTextTower, tok: Tokenizer, out: Path, context_length: int) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    ids = encode_ids(tok, check_sentences(), context_length, tower.pad_id)
    tower = tower.eval()
    with torch.no_grad():
        ref = tower(torch.from_numpy(ids)).numpy()
    fp32 = out / "text.onnx"
    export_tower(tower, "text", fp32, 0, context_length, example=ids[:2])
    report: dict[str, object] = {"sentences": len(ids), "context_length": context_length}
    paths = {"fp32": fp32}
    for name, scheme in INT8_SCHEMES.items():
        paths[name] = out / f"text.{name}.onnx"
        quantize_tower("text", fp32, paths[name], scheme)
    for name, path in paths.items():
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = sess.run(None, {sess.get_inputs()[0].name: ids})[0]
        cos = _cos(got, ref)
        report[name] = {"bytes": path.stat().st_size, "cos_mean": float(cos.mean()), "cos_min": float(cos.min())}
    tok.save(str(out / "tokenizer.json"))
    reloaded = Tokenizer.from_file(str(out / "tokenizer.json"))
    same = encode_ids(reloaded, check_sentences(), context_length, tower.pad_id)
    report["tokenizer_json_roundtrip_same_ids"] = bool((same == ids).all())
    return report

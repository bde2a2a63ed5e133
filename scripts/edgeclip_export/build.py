"""Trained run -> models/<id>/ (ONNX fp32 + int8, tokenizer, golden, manifest) + the held-out fixture.

Usage (from scripts/), after `python -m edgeclip_train.run configs/shapes-clip.json --set out_dir=<run dir>`:
  ../.venv/bin/python -m edgeclip_export.build --checkpoint ../runs/shapes-clip-s \
      --out ../models/shapes-clip-s --fixture ../test/fixtures/heldout-shapes-clip-s.json
`--checkpoint` is the run directory (its newest checkpoint) or one checkpoints/step-*.safetensors in it.
Exits 1 when a target is missed (zero-shot top-1 >= 0.90 on every backend, int8 mean cosine >= 0.99 per tower).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edgeclip_train import data
from edgeclip_train.checkpoint import load_checkpoint, preprocess_of
from edgeclip_train.evaluate import (
    ZERO_SHOT_TEMPLATES,
    heldout_eval_samples,
    top1,
    torch_embedders,
    zero_shot_classifier,
)
from edgeclip_train.preprocess import ImagePreprocess, normalize, pixel_values_from_bytes, resize_and_crop
from edgeclip_train.tokenizer import encode_ids

from .fixture import heldout_pngs, write_fixture
from .onnx_export import export_tower
from .package import build_manifest, write_golden, write_manifest
from .quantize import quantize_tower
from .runtime import OnnxTower, parity

MIN_TOP1 = 0.90
MIN_INT8_COSINE = 0.99


def parity_inputs(
    seed: int, pre: ImagePreprocess, tok: Any, context_length: int, pad_id: int
) -> tuple[np.ndarray, np.ndarray]:
    every = [(c, s) for c in data.COLOURS for s in data.SHAPES]
    samples = data.generate(256, seed + 3000, every)
    pix = normalize(np.stack([resize_and_crop(data.render(s), pre) for s in samples]), pre)
    texts = data.captions(samples, seed + 3001) + [
        t.format(lbl) for t in ZERO_SHOT_TEMPLATES for lbl in data.labels(data.HELDOUT_COMBOS)
    ]
    return pix, encode_ids(tok, texts, context_length, pad_id)


def export_package(checkpoint: Path, out_dir: Path, fixture_path: Path, model_id: str) -> dict[str, Any]:
    model, tok, run = load_checkpoint(checkpoint)
    cfg, pre, run_cfg = model.cfg, preprocess_of(run), run["config"]
    seed = int(run_cfg["seed"])
    out_dir.mkdir(parents=True, exist_ok=True)

    towers: dict[str, dict[str, OnnxTower]] = {}
    quantization: dict[str, Any] = {"int8": {}}
    for kind, tower in (("image", model.image), ("text", model.text)):
        fp32, int8 = out_dir / f"{kind}_fp32.onnx", out_dir / f"{kind}_int8.onnx"
        export_tower(tower, kind, fp32, cfg.image_size, cfg.context_length)
        quantization["int8"][kind] = quantize_tower(kind, fp32, int8)
        towers[kind] = {"fp32": OnnxTower(fp32), "int8": OnnxTower(int8)}
    tok.save(str(out_dir / "tokenizer.json"))

    embed_image, embed_text = torch_embedders(model)
    pix, ids = parity_inputs(seed, pre, tok, cfg.context_length, cfg.pad_id)
    ref = {"image": embed_image(pix), "text": embed_text(ids)}
    inputs = {"image": pix, "text": ids}
    parity_report = {
        d: {k: parity(ref[k], towers[k][d](inputs[k])) for k in ("image", "text")} for d in ("fp32", "int8")
    }

    # Zero-shot on exactly the fixture's images, decoded from their PNG bytes through the FORMAT.md image path.
    samples = heldout_eval_samples(seed)
    pngs = heldout_pngs(samples)
    held_pix = np.stack([pixel_values_from_bytes(b, pre) for b in pngs])
    labels = data.labels(data.HELDOUT_COMBOS)
    targets = [labels.index(s.label) for s in samples]
    backends = {
        "torch": (embed_image, embed_text),
        "onnx_fp32": (towers["image"]["fp32"], towers["text"]["fp32"]),
        "onnx_int8": (towers["image"]["int8"], towers["text"]["int8"]),
    }
    top1s = {}
    for name, (emb_i, emb_t) in backends.items():
        clf = zero_shot_classifier(emb_t, tok, labels, ZERO_SHOT_TEMPLATES, cfg.context_length, cfg.pad_id)
        top1s[name] = round(top1(emb_i(held_pix), clf, targets), 4)

    metrics = dict(run["metrics"])
    metrics["zero_shot_top1"] = top1s
    training = {
        "objective": run_cfg["objective"],
        "pipeline": "edgeclip_train.run (generic Trainer, objectives.build_objective_from_config)",
        "data": {
            "generator": "edgeclip_train.data (synthetic shapes)",
            "train_images": run["train_samples"],
            "image_size": [data.CANVAS, data.CANVAS],
            "colours": list(data.COLOURS),
            "shapes": list(data.SHAPES),
            "heldout_combinations": labels,
            "zero_shot_eval_images": len(samples),
        },
        "steps": run_cfg["steps"],
        "batch_size": run_cfg["batch_size"],
        "optim": run_cfg["optim"],
        "seed": seed,
        "device": run["device"],
        "world_size": run["world_size"],
        "train_seconds": round(float(run["train_seconds"]), 1),
        "metrics": metrics,
    }
    write_golden(out_dir / "golden.json", model_id, model, tok, pre)
    manifest = build_manifest(
        model_id, out_dir, model, pre, list(ZERO_SHOT_TEMPLATES), training, parity_report, quantization
    )
    write_manifest(out_dir / "manifest.json", manifest)
    write_fixture(
        fixture_path,
        model_id,
        labels,
        list(ZERO_SHOT_TEMPLATES),
        top1s,
        [(s.label, b) for s, b in zip(samples, pngs, strict=True)],
    )
    return manifest


def missed_targets(manifest: dict[str, Any]) -> list[str]:
    missed = [
        f"zero-shot top-1 {k}={v} < {MIN_TOP1}"
        for k, v in manifest["training"]["metrics"]["zero_shot_top1"].items()
        if v < MIN_TOP1
    ]
    missed += [
        f"int8 {k} mean cosine {v['mean_cosine']:.4f} < {MIN_INT8_COSINE}"
        for k, v in manifest["parity"]["int8"].items()
        if v["mean_cosine"] < MIN_INT8_COSINE
    ]
    return missed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=Path("../runs/shapes-clip-s"), help="run dir or step file")
    ap.add_argument("--out", type=Path, default=Path("../models/shapes-clip-s"))
    ap.add_argument("--fixture", type=Path, default=Path("../test/fixtures/heldout-shapes-clip-s.json"))
    ap.add_argument("--id", default="shapes-clip-s")
    args = ap.parse_args()
    manifest = export_package(args.checkpoint, args.out, args.fixture, args.id)
    summary = {
        "metrics": manifest["training"]["metrics"],
        "parity": manifest["parity"],
        "files": {p.name: p.stat().st_size for p in sorted(args.out.iterdir())},
        "fixture_bytes": args.fixture.stat().st_size,
    }
    print(json.dumps(summary, indent=2))
    missed = missed_targets(manifest)
    if missed:
        print("TARGETS MISSED: " + "; ".join(missed), file=sys.stderr)
        sys.exit(1)
    print("targets met")


if __name__ == "__main__":
    main()

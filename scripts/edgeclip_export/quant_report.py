"""Per tower and per numeric variant (variants.py): file size, cosine to fp32, zero-shot top-1, ORT CPU latency.

Usage (from scripts/):
  ../.venv/bin/python -m edgeclip_export.quant_report --checkpoint ../runs/shapes-clip-s   (a run directory)
  ../.venv/bin/python -m edgeclip_export.quant_report --openclip ViT-B-32 [--openclip-checkpoint file.pt]

Cosines are over held-out inputs that calibration never saw, one input per run as the service runs them.
Zero-shot top-1 swaps one tower's variant in and keeps the other tower fp32 (shapes checkpoints only: a
random-weight open_clip model has no meaningful accuracy). Latency: median of single-input runs, 1 thread.
Files go to --work (default ../runs/quant-report/<id>/), which is git-ignored.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .onnx_export import export_tower
from .quantize import QuantScheme
from .runtime import OnnxTower, cosines
from .variants import VARIANTS, make_variant

Embed = Callable[[np.ndarray], np.ndarray]


def latency_ms(tower: OnnxTower, x: np.ndarray, runs: int) -> float:
    tower(x[:1])  # warm-up
    times = []
    for i in range(runs):
        t = time.perf_counter()
        tower(x[i % len(x) : i % len(x) + 1])
        times.append(time.perf_counter() - t)
    return round(float(np.median(times)) * 1000, 2)


def tower_report(
    kind: str,
    fp32: Path,
    work: Path,
    calibration: np.ndarray,
    heldout: np.ndarray,
    scheme: QuantScheme | None,
    variants: tuple[str, ...],
    runs: int,
    zero_shot: Callable[[str, Embed], float] | None,
) -> dict[str, Any]:
    reference = OnnxTower(fp32)(heldout)
    rows: dict[str, Any] = {}
    for variant in variants:
        dst = work / f"{kind}_{variant}.onnx"
        t = time.time()
        try:
            how = make_variant(variant, kind, fp32, dst, calibration, scheme)
            tower = OnnxTower(dst)
        except Exception as exc:  # one variant failing must not hide the others
            rows[variant] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        build_s = time.time() - t
        c = cosines(reference, tower(heldout))
        rows[variant] = {
            "bytes": dst.stat().st_size,
            "mean_cosine": round(float(c.mean()), 6),
            "min_cosine": round(float(c.min()), 6),
            "zero_shot_top1": None if zero_shot is None else zero_shot(kind, tower),
            "latency_ms": latency_ms(tower, heldout, runs),
            "build_s": round(build_s, 1),
            "how": how,
        }
    return rows


def shapes_report(checkpoint: Path, work: Path, variants: tuple[str, ...], runs: int) -> dict[str, Any]:
    from edgeclip_train import data
    from edgeclip_train.checkpoint import load_checkpoint, preprocess_of
    from edgeclip_train.evaluate import ZERO_SHOT_TEMPLATES, heldout_eval_samples, top1, zero_shot_classifier
    from edgeclip_train.preprocess import normalize, pixel_values_from_bytes, resize_and_crop
    from edgeclip_train.tokenizer import encode_ids

    from .build import parity_inputs
    from .fixture import heldout_pngs

    model, tok, ckpt = load_checkpoint(checkpoint)
    # The seed sits under "train_config" (checkpoint.pt) or "config" (a run directory's results).
    cfg, pre = model.cfg, preprocess_of(ckpt)
    seed = int((ckpt.get("train_config") or ckpt["config"])["seed"])
    heldout = dict(zip(("image", "text"), parity_inputs(seed, pre, tok, cfg.context_length, cfg.pad_id), strict=True))
    calib_samples = data.generate(128, seed + 4000, data.train_combos())
    calibration = {
        "image": normalize(np.stack([resize_and_crop(data.render(s), pre) for s in calib_samples]), pre),
        "text": encode_ids(tok, data.captions(calib_samples, seed + 4001), cfg.context_length, cfg.pad_id),
    }
    samples = heldout_eval_samples(seed)
    held_pix = np.stack([pixel_values_from_bytes(b, pre) for b in heldout_pngs(samples)])
    labels = data.labels(data.HELDOUT_COMBOS)
    targets = [labels.index(s.label) for s in samples]
    fp32 = {k: work / f"{k}_fp32_src.onnx" for k in ("image", "text")}
    for kind, tower in (("image", model.image), ("text", model.text)):
        export_tower(tower, kind, fp32[kind], cfg.image_size, cfg.context_length)
    base = {k: OnnxTower(p) for k, p in fp32.items()}

    def zero_shot(kind: str, tower: Embed) -> float:
        emb_i, emb_t = (tower, base["text"]) if kind == "image" else (base["image"], tower)
        clf = zero_shot_classifier(emb_t, tok, labels, ZERO_SHOT_TEMPLATES, cfg.context_length, cfg.pad_id)
        return round(top1(emb_i(held_pix), clf, targets), 4)

    return {
        kind: tower_report(kind, fp32[kind], work, calibration[kind], heldout[kind], None, variants, runs, zero_shot)
        for kind in ("image", "text")
    }


def openclip_report(
    arch: str, checkpoint: Path | None, work: Path, variants: tuple[str, ...], runs: int, n: int
) -> dict[str, Any]:
    from edgeclip_train import data
    from edgeclip_train.preprocess import normalize, resize_and_crop

    from .openclip import ImageTower, TextTower, clip_tokenizer, encode_keep_eos, int8_scheme, load_openclip

    oc = load_openclip(arch, checkpoint)
    tok = clip_tokenizer()
    every = [(c, s) for c in data.COLOURS for s in data.SHAPES]

    def inputs(seed: int) -> dict[str, np.ndarray]:
        samples = data.generate(n, seed, every)
        pix = normalize(np.stack([resize_and_crop(data.render(s), oc.pre) for s in samples]), oc.pre)
        return {"image": pix, "text": encode_keep_eos(tok, data.captions(samples, seed + 1), oc.context_length)}

    calibration, heldout = inputs(4000), inputs(3000)
    out = {}
    for kind, tower in (("image", ImageTower(oc.model)), ("text", TextTower(oc.model))):
        fp32 = work / f"{kind}_fp32_src.onnx"
        export_tower(tower, kind, fp32, oc.pre.crop_height, oc.context_length, example=heldout[kind][:2])
        out[kind] = tower_report(
            kind, fp32, work, calibration[kind], heldout[kind], int8_scheme(oc.model, kind), variants, runs, None
        )
        fp32.unlink()
    return out


def print_table(report: dict[str, Any]) -> None:
    print(f"{'tower':6} {'variant':12} {'MB':>8} {'cos mean':>9} {'cos min':>9} {'top-1':>6} {'ms':>8}")
    for kind, rows in report.items():
        for variant, r in rows.items():
            if "error" in r:
                print(f"{kind:6} {variant:12} ERROR {r['error']}")
                continue
            zs = "-" if r["zero_shot_top1"] is None else f"{r['zero_shot_top1']:.3f}"
            print(
                f"{kind:6} {variant:12} {r['bytes'] / 2**20:8.2f} {r['mean_cosine']:9.5f} {r['min_cosine']:9.5f} "
                f"{zs:>6} {r['latency_ms']:8.2f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="an edgeclip_train checkpoint, as edgeclip_export.build takes it")
    src.add_argument("--openclip", metavar="ARCH", help="an open_clip architecture, e.g. ViT-B-32")
    ap.add_argument("--openclip-checkpoint", type=Path, default=None, help="open_clip weights (random if absent)")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=20, help="latency runs per variant")
    ap.add_argument("--inputs", type=int, default=32, help="open_clip: calibration and held-out inputs each")
    ap.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    variants = tuple(v for v in args.variants.split(",") if v)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    name = args.checkpoint.parent.name if args.checkpoint else f"openclip-{args.openclip.lower()}"
    work = args.work or Path("../runs/quant-report") / name
    work.mkdir(parents=True, exist_ok=True)
    if args.checkpoint:
        report = shapes_report(args.checkpoint, work, variants, args.runs)
    else:
        report = openclip_report(args.openclip, args.openclip_checkpoint, work, variants, args.runs, args.inputs)
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

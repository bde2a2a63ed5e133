"""One command from a run config to a trained, evaluated checkpoint: data -> tokenizer -> objective -> Trainer ->
evaluation -> results.md / results.json beside the checkpoints.

Usage (from scripts/):
    ../.venv/bin/python -m edgeclip_train.run configs/shapes-clip.json [--set optim.lr=3e-4 ...] [--resume auto]
    torchrun --nproc_per_node 8 -m edgeclip_train.run configs/digits-simclr.json --set batch_size=1024
An invalid config exits 2 with every problem listed. The run directory (`out_dir`) holds config.json,
metrics.jsonl, checkpoints/step-*.safetensors, tokenizer.json (image-text objectives) and results.{md,json};
`edgeclip_export.build --checkpoint <out_dir>` exports an image-text run as a model package.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from . import data as shapes
from .augment import from_run_config, make_views
from .checkpoint import clip_model_from_run
from .config import OBJECTIVE_NEEDS, ConfigError, RunConfig, load_config, validate
from .datasets import (
    CLASS_CAPTION_TEMPLATES,
    DIGIT_CAPTION_TEMPLATES,
    DIGIT_NAMES,
    DIGIT_PROMPT_TEMPLATES,
    ImageTextData,
    TrainingSet,
    digit_caption,
    load_digits_split,
    load_shapes,
    load_source,
)
from .distributed import shutdown
from .evaluate import evaluate, top1, zero_shot_classifier
from .objectives import build_objective_from_config
from .preprocess import ImagePreprocess
from .probe import knn_accuracy, linear_probe_accuracy, raw_pixel_features, write_results
from .tokenizer import PAD_ID, encode_ids, train_tokenizer
from .trainer import Trainer, default_collate, seed_everything

COLUMNS = (
    "method",
    "data",
    "zero_shot_top1",
    "image_to_text@1",
    "text_to_image@1",
    "knn",
    "knn_embedding",
    "linear_probe",
    "note",
)
PROBE_TEST_SHAPES = 2000  # synthetic: fresh images of the training combinations for kNN / linear probe


def image_text(cfg: RunConfig) -> bool:
    return "captions" in OBJECTIVE_NEEDS.get(cfg.objective, frozenset())


def preprocess_for(cfg: RunConfig) -> ImagePreprocess:
    s = cfg.encoder.image_size
    return ImagePreprocess(shortest_edge=s, crop_height=s, crop_width=s)


# ---------------------------------------------------------------- data and tokenizer


def tokenizer_corpus(cfg: RunConfig, train: ImageTextData) -> list[str]:
    """Training captions plus the phrasings evaluation prompts use, so no prompt word falls back to characters."""
    corpus = [c for c in train.captions if c]
    if cfg.data.source == "synthetic":  # fully specified captions too (size and position words), as before
        extra = shapes.generate(min(4000, len(train)), cfg.seed, shapes.train_combos())
        corpus += shapes.captions(extra, cfg.seed + 2, p_size=1.0, p_pos=1.0)
    elif cfg.data.source == "digits":
        corpus += [t.format(w=w, d=d) for t in DIGIT_CAPTION_TEMPLATES for d, w in enumerate(DIGIT_NAMES)]
        corpus += [t.format(w) for t in DIGIT_PROMPT_TEMPLATES for w in DIGIT_NAMES]
    elif train.class_names:
        corpus += [t.format(c) for t in CLASS_CAPTION_TEMPLATES for c in train.class_names]
    return corpus


class FreshCaptions:
    """A `TrainingSet` whose caption is drawn anew at every access, for the built-in sources that can phrase one
    (shapes: colour/shape/size/position wordings; digits: word or numeral templates): the text tower sees many
    phrasings of each image instead of one. Python's `random` is seeded and checkpointed by the trainer."""

    def __init__(self, base: TrainingSet, phrase: Callable[[int], str], tok: Tokenizer, context_length: int) -> None:
        self.base, self.phrase, self.tok, self.context_length = base, phrase, tok, context_length

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self.base[i]
        item["input_ids"] = torch.from_numpy(encode_ids(self.tok, [self.phrase(i)], self.context_length)[0])
        return item


def caption_phrasing(cfg: RunConfig, train: ImageTextData) -> Callable[[int], str] | None:
    if cfg.data.source == "synthetic":  # the same samples load_source rendered (same seed, same generator)
        samples = shapes.generate(len(train), cfg.seed, shapes.train_combos())
        return lambda i: shapes.caption(samples[i], random)
    if cfg.data.source == "digits":
        labels = train.labels
        return lambda i: digit_caption(int(labels[i]), random)
    return None


def images_collate(pre: ImagePreprocess) -> Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]]:
    """Image-text objectives see the FORMAT.md pixels (no augmentation): uint8 -> normalised float."""
    mean = torch.tensor(pre.mean).view(1, 3, 1, 1)
    std = torch.tensor(pre.std).view(1, 3, 1, 1)

    def collate(samples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = default_collate(samples)
        batch["images"] = (batch["images"].float() * pre.rescale - mean) / std
        return batch  # type: ignore[return-value]

    return collate


# ---------------------------------------------------------------- evaluation


@torch.no_grad()
def _embed(fn: Any, pixels: np.ndarray, pre: ImagePreprocess, device: torch.device) -> np.ndarray:
    """uint8 HWC [N,H,W,3] -> embeddings, in batches."""
    mean, std = np.asarray(pre.mean, np.float32), np.asarray(pre.std, np.float32)
    out = []
    for i in range(0, len(pixels), 256):
        x = (pixels[i : i + 256].astype(np.float32) * pre.rescale - mean) / std
        out.append(fn(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(device)).float().cpu())
    return torch.cat(out).numpy()


def test_split(cfg: RunConfig) -> tuple[str, ImageTextData] | None:
    """The held-out data this source has: digits' fixed test split, fresh synthetic shapes; None for user data."""
    if cfg.data.source == "digits":
        return "digits test split", load_digits_split(cfg.seed)[1]
    if cfg.data.source == "synthetic":
        return f"{PROBE_TEST_SHAPES} fresh shapes", load_shapes(PROBE_TEST_SHAPES, cfg.seed + 5000)
    return None


def evaluate_run(
    cfg: RunConfig, objective: Any, tok: Tokenizer | None, train: ImageTextData, pre: ImagePreprocess
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows for the results table and the metrics dict (the export copies it into the manifest)."""
    objective.eval()
    device = next(objective.parameters(), torch.zeros(())).device
    row: dict[str, Any] = {"method": cfg.objective, "data": cfg.data.source}
    metrics: dict[str, Any] = {}
    if image_text(cfg) and cfg.data.source == "synthetic" and tok is not None:
        model = clip_model_from_run(cfg, {k: v.cpu() for k, v in objective.state_dict().items()})
        metrics = evaluate(model, tok, cfg.seed, pre)
        row["zero_shot_top1"] = metrics["zero_shot_top1"]["torch"]
        row.update({k: v for k, v in metrics["recall"].items() if k.endswith("@1")})
    held = test_split(cfg)
    rows = [row]
    if held is None:
        row["note"] = "no held-out split for this source: probes skipped"
        return rows, metrics
    name, test = held
    if len(train) > 8000:  # kNN / linear probe on a seeded subset: enough for a stable estimate, quick on a CPU
        idx = np.random.default_rng(cfg.seed).choice(len(train), 8000, replace=False)
        train = ImageTextData([train.examples[i] for i in sorted(idx)], train.class_names, train.skipped)
    xtr, xte = train.pixels(pre), test.pixels(pre)
    ytr, yte = train.labels, test.labels
    embs = [_embed(objective.embed_images, x, pre, device) for x in (xtr, xte)]
    feats = [_embed(objective.image_features, x, pre, device) for x in (xtr, xte)]
    row["knn"] = knn_accuracy(feats[0], ytr, feats[1], yte)
    row["knn_embedding"] = knn_accuracy(embs[0], ytr, embs[1], yte)
    row["linear_probe"] = linear_probe_accuracy(feats[0], ytr, feats[1], yte)
    metrics["probe"] = {k: row[k] for k in ("knn", "knn_embedding", "linear_probe")}
    metrics["probe"]["test"] = name
    if image_text(cfg) and cfg.data.source == "digits" and tok is not None:

        @torch.no_grad()
        def embed_text(ids: np.ndarray) -> np.ndarray:
            return objective.embed_texts(torch.from_numpy(ids).to(device)).float().cpu().numpy()

        clf = zero_shot_classifier(
            embed_text, tok, DIGIT_NAMES, DIGIT_PROMPT_TEMPLATES, cfg.encoder.context_length, PAD_ID
        )
        row["zero_shot_top1"] = top1(embs[1], clf, yte.tolist())
        metrics["zero_shot_top1"] = {"torch": row["zero_shot_top1"]}
    raw = [raw_pixel_features(x) for x in (xtr, xte)]
    baseline = {"method": "raw pixels", "data": cfg.data.source, "knn": knn_accuracy(raw[0], ytr, raw[1], yte)}
    return [baseline, *rows], metrics


# ---------------------------------------------------------------- the run


def run(cfg: RunConfig, resume: str | None = None) -> dict[str, Any]:
    """Train and evaluate `cfg` (already validated); rank 0 returns the results dict, other ranks {}."""
    out = Path(cfg.out_dir)
    pre = preprocess_for(cfg)
    train = load_source(cfg.data.source, cfg.data.path, cfg.data.num_samples, cfg.seed, cfg.data.with_captions)
    train.log_summary()
    tok = None
    if image_text(cfg):
        tok = train_tokenizer(tokenizer_corpus(cfg, train), cfg.encoder.vocab_size)
        # the text tower's table is the tokenizer's real size (at most encoder.vocab_size)
        cfg = dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, vocab_size=tok.get_vocab_size()))
    print(f"data: {len(train)} {cfg.data.source} samples, {train.skipped.summary()}", flush=True)
    dataset: TrainingSet | FreshCaptions = TrainingSet(train, pre, tok, cfg.encoder.context_length)
    phrase = caption_phrasing(cfg, train) if tok is not None else None
    if phrase is not None:
        dataset = FreshCaptions(dataset, phrase, tok, cfg.encoder.context_length)  # type: ignore[arg-type]

    seed_everything(cfg.seed)  # identical initial weights on every rank
    objective = build_objective_from_config(cfg)
    aug, n_views = from_run_config(cfg.augment)
    gen = torch.Generator().manual_seed(cfg.seed + 1)

    def views(images: torch.Tensor) -> torch.Tensor:
        return make_views(images, aug, n_views, gen)

    collate = images_collate(pre) if "images" in objective.requires else default_collate
    trainer = Trainer(cfg, objective, dataset, make_views=views, collate=collate, generators={"augment": gen})
    if trainer.env.is_main and tok is not None:
        out.mkdir(parents=True, exist_ok=True)
        tok.save(str(out / "tokenizer.json"))
    t0 = time.time()
    history = trainer.fit(resume=resume)
    train_seconds = time.time() - t0
    for rec in history[:: max(1, len(history) // 10)] + history[-1:]:
        print(f"step {rec['step']:5d}/{cfg.steps} loss {rec['loss']:.4f} lr {rec['lr']:.2e}", flush=True)
    if not trainer.env.is_main:
        return {}
    rows, metrics = evaluate_run(cfg, objective, tok, train, pre)
    meta = {
        "objective": cfg.objective,
        "data": cfg.data.source,
        "train_samples": len(train),
        "skipped": train.skipped.summary(),
        "steps": cfg.steps,
        "batch_size": cfg.batch_size,
        "seed": cfg.seed,
        "world_size": trainer.env.world_size,
        "device": trainer.env.device.type,
        "train_seconds": round(train_seconds, 1),
        "resumed_from_step": (history[0]["step"] - 1) if history else cfg.steps,
        "preprocess": dataclasses.asdict(pre),
        "metrics": metrics,
    }
    columns = [c for c in COLUMNS if any(c in r for r in rows)]
    table = write_results(out, rows, meta, columns, title=f"{cfg.objective} on {cfg.data.source} ({out.name})")
    print(table, flush=True)
    print(f"wrote {out / 'results.md'} and results.json", flush=True)
    return {"rows": rows, "meta": meta}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", help="JSON run config (see configs/)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--resume", default=None, help='"auto" (newest checkpoint in out_dir) or a checkpoint path')
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (2 shared cores: 1 was fastest)")
    a = ap.parse_args(argv)
    try:
        cfg = validate(load_config(a.config, a.overrides), int(os.environ.get("WORLD_SIZE", "1")))
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        torch.set_num_threads(a.threads)
    random.seed(cfg.seed)
    try:
        run(cfg, a.resume)
    finally:
        shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

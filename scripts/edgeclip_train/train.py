"""Train a small CLIP on the synthetic shapes data and save a checkpoint.

Usage (from scripts/):  ../.venv/bin/python -m edgeclip_train.train --out ../runs/shapes-clip-s [--steps N] [--seed S]
Runs on CUDA when available, otherwise on the CPU with `--threads` threads (default 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import data
from .evaluate import evaluate
from .losses import build_loss
from .models import CLIPModel, ModelConfig, pick_device
from .preprocess import ImagePreprocess, normalize, resize_and_crop
from .tokenizer import encode_ids, train_tokenizer


@dataclass
class TrainConfig:
    seed: int = 0
    objective: str = "clip-infonce"
    train_images: int = 24000
    steps: int = 1000
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    threads: int = 1  # one thread: 2-thread OpenMP slowed 3x when the 2 cores were shared
    log_every: int = 50
    model: ModelConfig = field(default_factory=ModelConfig)
    preprocess: ImagePreprocess = field(default_factory=ImagePreprocess)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def render_batch(samples: list[data.Sample], pre: ImagePreprocess) -> np.ndarray:
    """Render and run FORMAT.md steps 2-3 (resize, crop) once; HWC uint8 [N,H,W,3]."""
    return np.stack([resize_and_crop(data.render(s), pre) for s in samples])


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * t))


def train(cfg: TrainConfig, out_dir: Path) -> dict[str, object]:
    seed_everything(cfg.seed)
    device = pick_device()
    if device.type == "cpu":
        torch.set_num_threads(cfg.threads)
    t0 = time.time()
    samples = data.generate(cfg.train_images, cfg.seed, data.train_combos())
    images = torch.from_numpy(render_batch(samples, cfg.preprocess))
    corpus = data.captions(samples, cfg.seed + 1) + data.captions(samples[:4000], cfg.seed + 2, 1.0, 1.0)
    tok = train_tokenizer(corpus, cfg.model.vocab_size)
    mcfg = dataclasses.replace(cfg.model, vocab_size=tok.get_vocab_size())
    print(f"data: {len(samples)} images, vocab {tok.get_vocab_size()}, {time.time() - t0:.1f}s", flush=True)

    model = CLIPModel(mcfg).to(device)
    loss_fn = build_loss(cfg.objective)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "position" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "position" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    rng = random.Random(cfg.seed + 3)
    gen = torch.Generator().manual_seed(cfg.seed + 4)
    t_train = time.time()
    model.train()
    for step in range(cfg.steps):
        idx = torch.randint(len(samples), (cfg.batch_size,), generator=gen)
        texts = [data.caption(samples[i], rng) for i in idx.tolist()]
        ids = torch.from_numpy(encode_ids(tok, texts, mcfg.context_length, mcfg.pad_id)).to(device)
        pix = torch.from_numpy(normalize(images[idx].numpy(), cfg.preprocess)).to(device)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        img_emb, txt_emb, scale = model(pix, ids)
        loss = loss_fn(img_emb, txt_emb, scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % cfg.log_every == 0 or step == cfg.steps - 1:
            print(
                f"step {step:5d}/{cfg.steps} loss {loss.item():.4f} scale {scale.item():.1f} "
                f"lr {lr_at(step, cfg):.2e} {time.time() - t_train:.0f}s",
                flush=True,
            )
    train_seconds = time.time() - t_train

    model.eval()
    metrics = evaluate(model, tok, cfg.seed, cfg.preprocess)
    print("metrics:", json.dumps(metrics), flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "train_config": dataclasses.asdict(cfg),
        "model_config": dataclasses.asdict(mcfg),
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
        "tokenizer_json": tok.to_str(),
        "metrics": metrics,
        "train_seconds": train_seconds,
        "device": device.type,
    }
    torch.save(ckpt, out_dir / "checkpoint.pt")
    print(f"saved {out_dir / 'checkpoint.pt'} (train {train_seconds:.0f}s)", flush=True)
    return ckpt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("../runs/shapes-clip-s"))
    ap.add_argument("--seed", type=int, default=TrainConfig.seed)
    ap.add_argument("--steps", type=int, default=TrainConfig.steps)
    ap.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    ap.add_argument("--train-images", type=int, default=TrainConfig.train_images)
    ap.add_argument("--threads", type=int, default=TrainConfig.threads)
    args = ap.parse_args()
    cfg = TrainConfig(
        seed=args.seed,
        steps=args.steps,
        batch_size=args.batch_size,
        train_images=args.train_images,
        threads=args.threads,
    )
    train(cfg, args.out)


if __name__ == "__main__":
    main()

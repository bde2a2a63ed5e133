"""LiT on the synthetic shapes: a small CNN image tower learns to meet a locked pretrained text tower (MiniLM).

Usage (from scripts/):
    ../.venv/bin/python -m edgeclip_train.lit --out ../runs/lit-minilm                  # frozen MiniLM + linear head
    ../.venv/bin/python -m edgeclip_train.lit --text-head none --out ../runs/lit-minilm-locked   # lock=("text",)
    ../.venv/bin/python -m edgeclip_train.lit --out ../runs/lit-minilm --export          # + ONNX fp32/int8 check

`--text-head linear` (default): the BERT encoder is frozen inside the tower and a Linear(384 -> D) head trains with
the image tower. `--text-head none`: the whole text tower is the package's sentence embedding, locked by the
objective (`lock=("text",)`), and the image head projects to its 384 dimensions.

Because the text encoder is frozen, its sentence embedding depends on the caption alone: it is computed once per
unique training caption (`CachedTextFeatures`) and only the head runs per step. Evaluation and export run the full
tower on the tokenised prompts, so the cache is a training-time shortcut only.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import data
from .encoders import EncoderConfig, HeadConfig
from .evaluate import heldout_eval_samples, zero_shot_metrics
from .objectives import build_objective
from .preprocess import ImagePreprocess, normalize, resize_and_crop
from .pretrained_text import PretrainedTextTower, load_minilm, load_tokenizer
from .tokenizer import encode_ids


class CachedTextFeatures(nn.Module):
    """Stands in for a tower with a frozen encoder during training: input_ids rows -> cached `features`, then the
    tower's own (shared, trainable) head. Rows it has not seen are an error, never a silent recompute."""

    def __init__(self, tower: PretrainedTextTower, input_ids: torch.Tensor, batch: int = 256) -> None:
        super().__init__()
        self.tower = tower
        unique = torch.unique(input_ids, dim=0)
        with torch.no_grad():
            feats = torch.cat([tower.features(unique[i : i + batch]) for i in range(0, len(unique), batch)])
        self.register_buffer("table", feats)
        self.row = {tuple(r): i for i, r in enumerate(unique.tolist())}

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        try:
            idx = torch.tensor([self.row[tuple(r)] for r in input_ids.tolist()], device=self.table.device)
        except KeyError as e:
            raise KeyError("CachedTextFeatures got a caption that was not cached") from e
        return self.tower.project(self.table[idx])


def pixels(samples: list[data.Sample], pre: ImagePreprocess) -> np.ndarray:
    return normalize(np.stack([resize_and_crop(data.render(s), pre) for s in samples]), pre)


def run(args: argparse.Namespace) -> dict[str, object]:
    torch.manual_seed(args.seed)
    pre = ImagePreprocess()
    t0 = time.time()
    tok = load_tokenizer()
    head = HeadConfig(hidden=0, out=args.embed_dim, layers=1) if args.text_head == "linear" else None
    tower = load_minilm(head=head)
    samples = data.generate(args.train_images, args.seed, data.train_combos())
    images = torch.from_numpy(pixels(samples, pre))
    # two captions per image: the default phrasing mix and the fully specified one (size and position)
    caps = [data.captions(samples, args.seed + 1), data.captions(samples, args.seed + 2, 1.0, 1.0)]
    ids = torch.from_numpy(np.stack([encode_ids(tok, c, args.context_length, tower.pad_id) for c in caps]))
    t_data = time.time() - t0
    t1 = time.time()
    cached = CachedTextFeatures(tower, ids.reshape(-1, ids.shape[-1]))
    t_cache = time.time() - t1
    print(f"data {len(samples)} images {t_data:.1f}s; {len(cached.row)} unique captions cached in {t_cache:.1f}s")

    image_head = HeadConfig(hidden=256, out=tower.embed_dim)
    options = {"lock": ("text",)} if head is None else {}
    objective = build_objective("clip", EncoderConfig(), image_head, text_tower=cached, **options)
    params = [p for p in objective.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.1)
    gen = torch.Generator().manual_seed(args.seed + 4)
    objective.train()
    t2 = time.time()
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(len(samples), (args.batch_size,), generator=gen)
        which = torch.randint(2, (args.batch_size,), generator=gen)
        loss = objective.loss({"images": images[idx], "input_ids": ids[which, idx]})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:4d}/{args.steps} loss {loss.item():.4f} {time.time() - t2:.0f}s", flush=True)
    t_train = time.time() - t2

    objective.eval()
    t3 = time.time()
    held = heldout_eval_samples(args.seed)

    def embed_image(pix: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return objective.embed_images(torch.from_numpy(pix)).numpy()

    def embed_text(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return tower(torch.from_numpy(x)).numpy()

    zs = zero_shot_metrics(
        embed_image, embed_text, tok, pixels(held, pre), [s.label for s in held], args.context_length, tower.pad_id
    )
    result: dict[str, object] = {
        "text_head": args.text_head,
        "embed_dim": tower.embed_dim,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "train_images": args.train_images,
        "unique_captions": len(cached.row),
        "zero_shot_top1_heldout_labels": zs["heldout_labels"],
        "zero_shot_top1_all_labels": zs["all_labels"],
        "seconds": {"data": t_data, "text_cache": t_cache, "train": t_train, "eval": time.time() - t3},
        "trainable_parameters": sum(p.numel() for p in params),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save({"image": objective.image.state_dict(), "text_head": tower.head.state_dict()}, args.out / "lit.pt")
    if args.export:
        from .pretrained_text_export import export_check

        result["export"] = export_check(tower, tok, args.out, args.context_length)
    (args.out / "results.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("../runs/lit-minilm"))
    ap.add_argument("--text-head", choices=("linear", "none"), default="linear")
    ap.add_argument("--embed-dim", type=int, default=64)
    ap.add_argument("--context-length", type=int, default=16)
    ap.add_argument("--train-images", type=int, default=3000)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--export", action="store_true", help="export the text tower to ONNX (fp32, int8) and compare")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()

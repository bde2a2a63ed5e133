"""GPU benchmark: a short CLIP training run of realistic size through the real trainer (`Trainer.train_step`).

ViT-S/16 image tower (224px, width 384, 12 layers) + a 12-layer text Transformer (width 512, 77 tokens, CLIP's
49408-token vocabulary), bf16 autocast, synthetic images and token ids generated on the GPU so data loading is
not what is measured. Prints samples/s, the step split (data / forward / backward / optimizer, synchronised)
and the peak memory.

Usage (from scripts/):
    ../.venv/bin/python -m edgeclip_train.gpu_bench                       # one GPU, batch 256, 30 steps
    ../.venv/bin/python -m edgeclip_train.gpu_bench --batch-size 1024 --compile
    torchrun --nproc_per_node 8 -m edgeclip_train.gpu_bench               # DDP; batch size is global
    ../.venv/bin/python -m edgeclip_train.gpu_bench --tiny                # CPU smoke run (seconds)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config import OptimConfig, RunConfig
from .distributed import gather_keep_local_grad, init_from_env, shutdown, world
from .objective import Batch
from .trainer import Trainer, seed_everything


@dataclass
class BenchShape:
    image_size: int = 224
    patch: int = 16
    width: int = 384
    layers: int = 12
    heads: int = 6
    text_width: int = 512
    text_layers: int = 12
    text_heads: int = 8
    context: int = 77
    vocab: int = 49408
    embed_dim: int = 512


TINY = BenchShape(
    image_size=32, patch=8, width=32, layers=1, heads=2, text_width=32, text_layers=1, text_heads=2, context=8,
    vocab=64, embed_dim=16,
)


def _encoder(width: int, layers: int, heads: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        width, heads, 4 * width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class ViT(nn.Module):
    def __init__(self, s: BenchShape):
        super().__init__()
        n = (s.image_size // s.patch) ** 2
        self.patch = nn.Conv2d(3, s.width, s.patch, s.patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, s.width))
        self.position = nn.Parameter(0.02 * torch.randn(1, n + 1, s.width))
        self.blocks = _encoder(s.width, s.layers, s.heads)
        self.norm = nn.LayerNorm(s.width)
        self.proj = nn.Linear(s.width, s.embed_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.position
        return self.proj(self.norm(self.blocks(x)[:, 0]))


class TextTransformer(nn.Module):
    def __init__(self, s: BenchShape):
        super().__init__()
        self.token = nn.Embedding(s.vocab, s.text_width)
        self.position = nn.Parameter(0.01 * torch.randn(1, s.context, s.text_width))
        self.blocks = _encoder(s.text_width, s.text_layers, s.text_heads)
        self.norm = nn.LayerNorm(s.text_width)
        self.proj = nn.Linear(s.text_width, s.embed_dim, bias=False)
        self.register_buffer("causal", nn.Transformer.generate_square_subsequent_mask(s.context), persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.token(ids) + self.position, mask=self.causal, is_causal=True)
        return self.proj(self.norm(x[:, -1]))  # the last token stands in for CLIP's end-of-text token


def _gather_global(x: torch.Tensor) -> torch.Tensor:
    size = world()[1]
    if size > 1:  # DDP averages gradients; each rank differentiates only through its own rows
        x = x + (size - 1) * (x - x.detach())
    return gather_keep_local_grad(x)


class BenchClip(nn.Module):
    """CLIP InfoNCE over the global batch, the shape of `objectives.ClipObjective` without its options."""

    requires = frozenset({"images", "input_ids"})

    def __init__(self, s: BenchShape):
        super().__init__()
        self.image, self.text = ViT(s), TextTransformer(s)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def embed_images(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image(x), dim=-1)

    def embed_texts(self, ids: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(ids), dim=-1)

    def loss(self, batch: Batch) -> torch.Tensor:
        img = _gather_global(self.embed_images(batch["images"])).float()
        txt = _gather_global(self.embed_texts(batch["input_ids"])).float()
        logits = self.logit_scale.clamp(max=math.log(100)).exp() * img @ txt.t()
        target = torch.arange(logits.shape[0], device=logits.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))

    def after_step(self) -> None:
        return None


class DeviceNoise:
    """Synthetic batches made on the run's device (a `trainer.BatchSource`): the data phase costs ~nothing."""

    def __init__(self, s: BenchShape, micro_batch: int, accum: int, device: torch.device, seed: int):
        self.s, self.m, self.accum, self.device = s, micro_batch, accum, device
        self.gen = torch.Generator(device=device).manual_seed(seed)
        self.calls = 0

    def next_step(self) -> list[Batch]:
        self.calls += 1
        s, m = self.s, self.m
        return [
            {
                "images": torch.randn(m, 3, s.image_size, s.image_size, device=self.device, generator=self.gen),
                "input_ids": torch.randint(0, s.vocab, (m, s.context), device=self.device, generator=self.gen),
            }
            for _ in range(self.accum)
        ]

    def state_dict(self) -> dict[str, int]:
        return {"epoch": 0, "batch_in_epoch": self.calls}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.calls = state["batch_in_epoch"]


def run_bench(
    shape: BenchShape, batch_size: int, steps: int, warmup: int, precision: str, accum: int = 1,
    compile_model: bool = False, device: str | None = None,
) -> dict[str, Any]:
    env = init_from_env(device)
    seed_everything(0)
    cfg = RunConfig(
        objective="clip", batch_size=batch_size, grad_accum_steps=accum, precision=precision,
        steps=steps + warmup, progress=False, sync_timing=True,
        out_dir=os.path.join(tempfile.gettempdir(), "gpu-bench"),  # train_step alone writes nothing
        optim=OptimConfig(lr=5e-4, warmup_steps=0, weight_decay=0.1),
    )
    objective = BenchClip(shape)
    params = sum(p.numel() for p in objective.parameters())
    if compile_model:
        objective.image = torch.compile(objective.image)  # type: ignore[assignment]
        objective.text = torch.compile(objective.text)  # type: ignore[assignment]
    source = DeviceNoise(shape, cfg.micro_batch_size(env.world_size), accum, env.device, seed=env.rank)
    trainer = Trainer(cfg, objective, source, env=env)
    cuda = env.device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    recs = []
    for i in range(steps + warmup):
        if cuda and i == warmup:
            torch.cuda.reset_peak_memory_stats(env.device)
        rec = trainer.train_step()
        if i >= warmup:
            recs.append(rec)

    def ms(key: str) -> float:
        return 1000 * statistics.median(r[key] for r in recs)

    step_ms = 1000 * statistics.median(r["data_s"] + r["compute_s"] for r in recs)
    return {
        "device": torch.cuda.get_device_name(env.device) if cuda else "cpu",
        "world_size": env.world_size,
        "precision": precision,
        "batch_size": batch_size,
        "grad_accum_steps": accum,
        "params_m": params / 1e6,
        "samples_per_s": batch_size / (step_ms / 1000),
        "step_ms": step_ms,
        "data_ms": ms("data_s"),
        "forward_ms": ms("forward_s"),
        "backward_ms": ms("backward_s"),
        "optimizer_ms": ms("optimizer_s"),
        "peak_mem_gib": torch.cuda.max_memory_allocated(env.device) / 2**30 if cuda else None,
        "first_loss": recs[0]["loss"],
        "last_loss": recs[-1]["loss"],
        "steps_timed": len(recs),
        "compiled": compile_model,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="a tiny model on the CPU (smoke test)")
    ap.add_argument("--batch-size", type=int, default=None, help="global; default 256 (tiny: 8)")
    ap.add_argument("--steps", type=int, default=None, help="timed steps; default 30 (tiny: 3)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first; default 5 (tiny: 1)")
    ap.add_argument("--grad-accum", type=int, default=1)
    ap.add_argument("--precision", choices=["bf16", "fp32"], default=None, help="default bf16 (tiny: fp32)")
    ap.add_argument("--compile", action="store_true", help="torch.compile both towers")
    ap.add_argument("--device", default=None, help="cpu or cuda; default cuda when present (tiny: cpu)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (2 shared cores ran 2 threads slower)")
    ap.add_argument("--json", default=None, help="also write the results here")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    tiny = a.tiny
    res = run_bench(
        TINY if tiny else BenchShape(),
        batch_size=a.batch_size or (8 if tiny else 256),
        steps=a.steps or (3 if tiny else 30),
        warmup=a.warmup if a.warmup is not None else (1 if tiny else 5),
        precision=a.precision or ("fp32" if tiny else "bf16"),
        accum=a.grad_accum,
        compile_model=a.compile,
        device=a.device or ("cpu" if tiny else None),
    )
    if world()[0] == 0:
        peak = "n/a (cpu)" if res["peak_mem_gib"] is None else f"{res['peak_mem_gib']:.2f} GiB"
        print(
            f"{res['device']} x{res['world_size']}  {res['precision']}  batch {res['batch_size']} "
            f"(accum {res['grad_accum_steps']})  {res['params_m']:.1f}M params\n"
            f"samples/s {res['samples_per_s']:.1f}   step {res['step_ms']:.1f} ms = data {res['data_ms']:.1f} + "
            f"forward {res['forward_ms']:.1f} + backward {res['backward_ms']:.1f} + optimizer {res['optimizer_ms']:.1f}"
            f" (medians over {res['steps_timed']} steps)\npeak memory {peak}   loss {res['first_loss']:.4f} -> "
            f"{res['last_loss']:.4f}",
            flush=True,
        )
        if a.json:
            with open(a.json, "w") as f:
                json.dump(res, f, indent=2)
    shutdown()
    return res


if __name__ == "__main__":
    main()

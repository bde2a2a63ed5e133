"""The generic training loop over the `objective.Objective` protocol: one GPU, many (torchrun/DDP), or the CPU.

    seed_everything(cfg.seed)                     # identical initial weights on every rank
    objective = build_objective(...)              # any nn.Module with requires/loss/after_step
    trainer = Trainer(cfg, objective, dataset, make_views=augment_fn)
    history = trainer.fit(resume="auto")          # resumes from <out_dir>/checkpoints/ when a checkpoint is there

Randomness is resumed exactly when it comes from python/numpy/torch's global generators or from a
torch.Generator passed as `generators={"augment": gen}`; all are stored per rank in each checkpoint.

Multi-GPU: `torchrun --nproc_per_node 8 your_script.py` (the same code; NCCL on CUDA, gloo on CPU).
`cfg.batch_size` is the global batch per optimizer step; each rank runs `grad_accum_steps` micro-batches of
batch_size / (world_size * grad_accum_steps). The data order is a permutation drawn from (seed, epoch) and the
position in it is part of the checkpoint, so a resumed run sees exactly the batches the uninterrupted run saw.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from .checkpoint import (
    capture_rng,
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    load_train_checkpoint,
    restore_rng,
    save_train_checkpoint,
)
from .config import ConfigError, RunConfig
from .distributed import DistEnv, all_gather_objects, all_reduce_mean, barrier, init_from_env, wrap_ddp
from .objective import Batch, Objective

Sample = dict[str, Any]
Collate = Callable[[list[Sample]], Batch]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- data: a resumable, rank-sharded batch source


class BatchSource(Protocol):
    """Anything that hands out this rank's micro-batches of one optimizer step and can say where it is."""

    def next_step(self) -> list[Batch]: ...
    def state_dict(self) -> dict[str, int]: ...
    def load_state_dict(self, state: dict[str, int]) -> None: ...


_PLURAL = {"image": "images", "label": "labels"}


def default_collate(samples: list[Sample]) -> Batch:
    """Stack per-sample dicts (image/images, input_ids, label/labels, views [V,3,H,W]) into a `Batch`."""
    out: dict[str, torch.Tensor] = {}
    for key in samples[0]:
        name = _PLURAL.get(key, key)
        vals = [s[key] for s in samples]
        if isinstance(vals[0], torch.Tensor):
            out[name] = torch.stack(vals, dim=1 if name == "views" else 0)
        else:
            out[name] = torch.as_tensor(np.asarray(vals))
    return out  # type: ignore[return-value]


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


class ShardedBatches(Sampler[list[int]]):
    """This rank's micro-batch indices for one epoch, from global batch `start` on.

    Global batch b is order[b*G:(b+1)*G]; its micro-step j on rank r is the slice of size m at
    b*G + (j*world + r)*m, so the ranks' slices of one micro-step are contiguous and rank-major, which is the
    order `gather_keep_local_grad` concatenates them in.
    """

    def __init__(self, n: int, cfg: RunConfig, rank: int, world: int, epoch: int, start: int):
        self.n, self.g, self.accum = n, cfg.batch_size, cfg.grad_accum_steps
        self.m = cfg.micro_batch_size(world)
        self.rank, self.world, self.seed, self.epoch, self.start = rank, world, cfg.seed, epoch, start

    def __len__(self) -> int:
        return (self.n // self.g - self.start) * self.accum

    def __iter__(self) -> Iterator[list[int]]:
        order = epoch_order(self.n, self.seed, self.epoch)
        for b in range(self.start, self.n // self.g):
            for j in range(self.accum):
                off = b * self.g + (j * self.world + self.rank) * self.m
                yield order[off : off + self.m].tolist()


class DatasetSource:
    """A map-style dataset (`len`, `[i]` -> sample dict) served as resumable, rank-sharded micro-batches."""

    def __init__(self, dataset: Any, cfg: RunConfig, env: DistEnv, collate: Collate = default_collate):
        self.dataset, self.cfg, self.env, self.collate = dataset, cfg, env, collate
        self.batches_per_epoch = len(dataset) // cfg.batch_size
        if self.batches_per_epoch == 0:
            raise ConfigError([f"the dataset has {len(dataset)} samples, fewer than batch_size {cfg.batch_size}"])
        self.epoch = 0
        self.batch_in_epoch = 0
        self._it: Iterator[Batch] | None = None

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.batch_in_epoch = int(state["epoch"]), int(state["batch_in_epoch"])
        self._it = None

    def _loader_seed(self) -> int:
        seq = np.random.SeedSequence([self.cfg.seed, self.epoch, self.batch_in_epoch])
        return int(seq.generate_state(1)[0])

    def next_step(self) -> list[Batch]:
        if self.batch_in_epoch == self.batches_per_epoch:
            self.epoch, self.batch_in_epoch, self._it = self.epoch + 1, 0, None
        if self._it is None:
            sampler = ShardedBatches(
                len(self.dataset), self.cfg, self.env.rank, self.env.world_size, self.epoch, self.batch_in_epoch
            )
            loader = DataLoader(
                self.dataset,
                batch_sampler=sampler,
                collate_fn=self.collate,
                num_workers=self.cfg.data.num_workers,
                pin_memory=self.env.device.type == "cuda",
                # workers' seeds from (seed, epoch, start), not the global RNG; randomness inside a worker is only
                # resumed exactly when it is derived from the sample index (num_workers=0 uses the saved RNGs)
                generator=torch.Generator().manual_seed(self._loader_seed()),
            )
            self._it = iter(loader)
        micro = [next(self._it) for _ in range(self.cfg.grad_accum_steps)]
        self.batch_in_epoch += 1
        return micro


# ---------------------------------------------------------------- optimisation


class _LossOf(nn.Module):
    """DDP wraps a module's forward; this forward is the objective's loss."""

    def __init__(self, objective: nn.Module):
        super().__init__()
        self.objective = objective

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.objective.loss(batch)  # type: ignore[operator]


def build_optimizer(objective: nn.Module, cfg: RunConfig) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices only (not biases, norms, temperatures, position tables)."""
    if hasattr(objective, "param_groups"):
        groups = objective.param_groups()
    else:
        named = [(n, p) for n, p in objective.named_parameters() if p.requires_grad]
        decay = [p for n, p in named if p.ndim >= 2 and "position" not in n]
        rest = [p for n, p in named if not (p.ndim >= 2 and "position" not in n)]
        groups = [{"params": decay, "weight_decay": cfg.optim.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    o = cfg.optim
    return torch.optim.AdamW(groups, lr=o.lr, betas=o.betas, eps=o.eps)


def lr_at(step: int, cfg: RunConfig) -> float:
    """Linear warmup to optim.lr, then cosine down to lr * min_lr_ratio at the last step (0-based `step`)."""
    o = cfg.optim
    if step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    t = (step - o.warmup_steps) / max(1, cfg.steps - o.warmup_steps)
    return o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


# ---------------------------------------------------------------- the loop


class _PhaseClock:
    """Wall time per phase of a step. CUDA runs asynchronously: the split is honest only with sync_timing."""

    def __init__(self, sync: Callable[[], None]):
        self.sync = sync
        self.start = self.last = time.perf_counter()
        self.totals = {"data": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0}

    def lap(self, phase: str) -> None:
        self.sync()
        now = time.perf_counter()
        self.totals[phase] += now - self.last
        self.last = now

    @property
    def elapsed(self) -> float:
        return self.last - self.start


class Trainer:
    def __init__(
        self,
        cfg: RunConfig,
        objective: Objective,
        data: Any,
        *,
        make_views: Callable[[torch.Tensor], torch.Tensor] | None = None,
        collate: Collate = default_collate,
        env: DistEnv | None = None,
        generators: dict[str, torch.Generator] | None = None,
    ):
        self.cfg = cfg
        self.env = env or init_from_env()
        per = self.env.world_size * cfg.grad_accum_steps
        if cfg.batch_size % per:
            raise ConfigError([f"batch_size {cfg.batch_size} is not divisible by world_size x grad_accum_steps {per}"])
        if not isinstance(objective, nn.Module):
            raise TypeError("the objective must be an nn.Module (its parameters are what the trainer optimises)")
        if "views" in objective.requires and make_views is None and not hasattr(data, "next_step"):
            raise ConfigError([f"objective {cfg.objective!r} needs views: pass make_views= (augment.make_views)"])
        seed_everything(cfg.seed + self.env.rank)  # per-rank augmentation noise; a resume restores the states
        self.objective = objective.to(self.env.device)
        self.model = wrap_ddp(_LossOf(objective), self.env, cfg.find_unused_parameters)
        self.optimizer = build_optimizer(objective, cfg)
        self.source: BatchSource = data if hasattr(data, "next_step") else DatasetSource(data, cfg, self.env, collate)
        self.make_views = make_views
        self.generators = dict(generators or {})  # checkpointed with the global RNGs (augmentation generators)
        self.step = 0  # optimizer steps done
        self.samples_seen = 0
        self.out_dir = Path(cfg.out_dir)
        self.metrics_path = self.out_dir / "metrics.jsonl"

    # -- checkpoints

    def save_checkpoint(self) -> Path:
        """Every rank must call this (the RNG states of all ranks are gathered); rank 0 writes."""
        rng = all_gather_objects(capture_rng(self.generators))
        path = checkpoint_path(self.out_dir, self.step)
        if self.env.is_main:
            trainer = {"step": self.step, "samples_seen": self.samples_seen, "world_size": self.env.world_size}
            trainer.update(self.source.state_dict())
            state = self.objective.state_dict()  # type: ignore[attr-defined]
            save_train_checkpoint(path, state, self.optimizer.state_dict(), trainer, rng, self.cfg.to_dict())
            if self.cfg.keep_checkpoints:
                for old in list_checkpoints(self.out_dir)[: -self.cfg.keep_checkpoints]:
                    old.unlink()
        barrier()
        return path

    def load_checkpoint(self, path: str | Path) -> None:
        ckpt = load_train_checkpoint(path)
        self.objective.load_state_dict(ckpt.model)  # type: ignore[attr-defined]
        self.optimizer.load_state_dict(ckpt.optimizer)
        self.step = int(ckpt.trainer["step"])
        self.samples_seen = int(ckpt.trainer["samples_seen"])
        self.source.load_state_dict(ckpt.trainer)
        if len(ckpt.rng) == self.env.world_size:
            restore_rng(ckpt.rng[self.env.rank], self.generators)
        else:  # a different world size cannot replay the old per-rank streams; stay deterministic at least
            seed_everything(self.cfg.seed + self.env.rank + 7919 * self.step)
        if self.env.is_main and self.metrics_path.exists():  # drop lines a killed run logged after this step
            kept = [ln for ln in self.metrics_path.read_text().splitlines() if _logged_step(ln) <= self.step]
            self.metrics_path.write_text("".join(ln + "\n" for ln in kept))

    # -- one step

    def _to_device(self, batch: Batch) -> Batch:
        need = set(self.objective.requires) | {"labels"}  # type: ignore[attr-defined]
        dev = self.env.device
        out = {k: v.to(dev, non_blocking=True) for k, v in batch.items() if k in need or k == "images"}
        if "views" in need and "views" not in out:
            if "images" not in out:
                raise ValueError(f"objective needs views, the batch has neither views nor images: {sorted(batch)}")
            out["views"] = self.make_views(out["images"])  # type: ignore[misc]
        if "images" not in need:
            out.pop("images", None)
        return out  # type: ignore[return-value]

    def _sync(self) -> None:
        if self.cfg.sync_timing and self.env.device.type == "cuda":
            torch.cuda.synchronize(self.env.device)

    def train_step(self) -> dict[str, Any]:
        cfg, accum = self.cfg, self.cfg.grad_accum_steps
        lr = lr_at(self.step, cfg)
        for g in self.optimizer.param_groups:
            g["lr"] = lr * g.get("lr_scale", 1.0)
        autocast = (
            torch.autocast(self.env.device.type, dtype=torch.bfloat16)
            if cfg.precision == "bf16"
            else contextlib.nullcontext()
        )
        self.objective.train()  # type: ignore[attr-defined]
        clock = _PhaseClock(self._sync)
        total = torch.zeros((), device=self.env.device)
        micro = self.source.next_step()
        clock.lap("data")
        for j, raw in enumerate(micro):
            batch = self._to_device(raw)
            clock.lap("data")
            defer = j < len(micro) - 1 and hasattr(self.model, "no_sync")  # all-reduce once, on the last micro-batch
            with self.model.no_sync() if defer else contextlib.nullcontext():
                with autocast:
                    loss = self.model(batch)
                clock.lap("forward")
                (loss.float() / accum).backward()
                clock.lap("backward")
            total += loss.detach().float()
        grad_norm = None
        if cfg.optim.grad_clip > 0:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.objective.after_step()  # type: ignore[attr-defined]
        clock.lap("optimizer")
        mean_loss = float(all_reduce_mean(total / accum))  # a sync point: the step is done here
        clock.lap("optimizer")
        self.step += 1
        self.samples_seen += cfg.batch_size
        t = clock.totals
        return {
            "step": self.step,
            "loss": mean_loss,
            "lr": lr,
            "grad_norm": grad_norm,
            "samples_per_s": cfg.batch_size / clock.elapsed,
            "data_s": t["data"],
            "compute_s": clock.elapsed - t["data"],
            "forward_s": t["forward"],
            "backward_s": t["backward"],
            "optimizer_s": t["optimizer"],
            "epoch": self.source.state_dict().get("epoch", 0),
        }

    # -- the run

    def fit(self, resume: str | Path | None = None, stop_after: int | None = None) -> list[dict[str, Any]]:
        """Train to cfg.steps; returns every step's log. `resume`: a checkpoint path, "auto" (the newest under
        out_dir, if any) or None. `stop_after`: return after that many total steps (what a kill looks like)."""
        cfg = self.cfg
        if resume == "auto":
            resume = latest_checkpoint(self.out_dir)
        if resume:
            self.load_checkpoint(resume)
        end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
        main = self.env.is_main
        if main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            disable=not (main and cfg.progress and sys.stderr.isatty()),
            dynamic_ncols=True,
        )
        history: list[dict[str, Any]] = []
        with bar, (self.metrics_path.open("a") if main else contextlib.nullcontext()) as log:
            while self.step < end:
                rec = self.train_step()
                history.append(rec)
                bar.update(1)
                bar.set_postfix(loss=f"{rec['loss']:.4f}", lr=f"{rec['lr']:.2e}")
                if log is not None and (self.step % cfg.log_every == 0 or self.step == cfg.steps):
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                if (cfg.ckpt_every and self.step % cfg.ckpt_every == 0) or self.step == cfg.steps:
                    self.save_checkpoint()
        return history


def _logged_step(line: str) -> float:
    try:
        return json.loads(line)["step"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return math.inf  # a line cut short by the kill


def log_lines(path: str | Path) -> Sequence[dict[str, Any]]:
    """The metrics log as dicts (one per logged step)."""
    return [json.loads(ln) for ln in Path(path).read_text().splitlines() if ln]

"""The generic trainer on a tiny objective: it learns, logs, schedules, shards the data order, accumulates."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from trainer_fixtures import PairData, TinyClip, TinySimCLR, noise_views, one_thread, tiny_config

from edgeclip_train.config import ConfigError, OptimConfig
from edgeclip_train.trainer import ShardedBatches, Trainer, default_collate, log_lines, lr_at, seed_everything


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def test_tiny_clip_learns_and_logs_every_field(tmp_path):
    cfg = tiny_config(str(tmp_path), steps=40, log_every=5)
    seed_everything(0)
    hist = Trainer(cfg, TinyClip(), PairData()).fit()
    losses = [r["loss"] for r in hist]
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    logged = log_lines(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in logged] == [5, 10, 15, 20, 25, 30, 35, 40]
    fields = {"step", "loss", "lr", "grad_norm", "samples_per_s", "data_s", "compute_s", "epoch"}
    assert set(logged[0]) >= fields | {"forward_s", "backward_s", "optimizer_s"}
    assert all(r["samples_per_s"] > 0 and r["data_s"] >= 0 and r["compute_s"] > 0 for r in logged)
    assert (tmp_path / "config.json").exists() and (tmp_path / "checkpoints" / "step-00000040.safetensors").exists()


def test_views_objective_trains_with_make_views(tmp_path):
    seed_everything(0)
    hist = Trainer(tiny_config(str(tmp_path), steps=6), TinySimCLR(), PairData(), make_views=noise_views).fit()
    assert all(math.isfinite(r["loss"]) for r in hist)


def test_bf16_autocast_runs(tmp_path):
    seed_everything(0)
    hist = Trainer(tiny_config(str(tmp_path), steps=3, precision="bf16"), TinyClip(), PairData()).fit()
    assert all(math.isfinite(r["loss"]) for r in hist)


def test_warmup_then_cosine_to_the_floor():
    cfg = tiny_config("x", steps=10, optim=OptimConfig(lr=1.0, warmup_steps=2, min_lr_ratio=0.1))
    lrs = [lr_at(s, cfg) for s in range(10)]
    assert lrs[:3] == [0.5, 1.0, 1.0]
    assert all(a > b for a, b in zip(lrs[2:], lrs[3:], strict=False))
    assert lr_at(10, cfg) == pytest.approx(0.1)


def test_ranks_and_micro_batches_cover_each_epoch_once():
    cfg = tiny_config("x", batch_size=8, grad_accum_steps=2)
    per_rank = [list(ShardedBatches(36, cfg, r, 2, epoch=0, start=0)) for r in range(2)]
    assert all(len(b) == 2 for bs in per_rank for b in bs)  # micro-batch = 8 / (2 ranks x 2 steps)
    seen = sorted(i for bs in per_rank for b in bs for i in b)
    assert len(seen) == 32 and len(set(seen)) == 32  # 4 whole batches; the last 4 samples wait for the next epoch
    other = [i for b in ShardedBatches(36, cfg, 0, 2, epoch=1, start=0) for i in b]
    assert other != [i for b in per_rank[0] for i in b]  # a new order each epoch
    resumed = list(ShardedBatches(36, cfg, 1, 2, epoch=0, start=2))
    assert resumed == per_rank[1][4:]  # starting at global batch 2 skips 2 batches x 2 micro-steps


class Regression(nn.Module):
    """A per-sample mean loss: accumulation must not change the step."""

    requires = frozenset({"images"})

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(48, 1)

    def loss(self, batch):
        return (self.lin(batch["images"].flatten(1)).squeeze(1) - batch["labels"].float()).pow(2).mean()

    def after_step(self) -> None:
        pass


def test_gradient_accumulation_equals_the_full_batch(tmp_path):
    states = []
    for accum in (1, 4):
        seed_everything(0)
        t = Trainer(tiny_config(str(tmp_path / str(accum)), steps=3, grad_accum_steps=accum), Regression(), PairData())
        t.fit()
        states.append(t.objective.state_dict())
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k], rtol=1e-5, atol=1e-6)


def test_collate_stacks_views_view_major():
    s = [{"views": torch.full((2, 3, 4, 4), float(i)), "label": i} for i in range(3)]
    b = default_collate(s)
    assert b["views"].shape == (2, 3, 3, 4, 4) and b["views"][1, 2].mean() == 2.0
    assert b["labels"].tolist() == [0, 1, 2]


def test_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="needs views: pass make_views"):
        Trainer(tiny_config(str(tmp_path)), TinySimCLR(), PairData())
    with pytest.raises(ConfigError, match="not divisible"):
        Trainer(tiny_config(str(tmp_path), batch_size=6, grad_accum_steps=4), TinyClip(), PairData())
    with pytest.raises(ConfigError, match="fewer than batch_size"):
        Trainer(tiny_config(str(tmp_path), batch_size=64), TinyClip(), PairData(n=32))

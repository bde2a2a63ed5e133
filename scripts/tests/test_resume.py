"""Exact resume: the losses after a resume equal the uninterrupted run's, bit for bit, for a stop right after a
checkpoint and for a real SIGKILL of a training subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from trainer_fixtures import PairData, TinyClip, TinySimCLR, noise_views, one_thread, tiny_config

from edgeclip_train.checkpoint import checkpoint_path, list_checkpoints, load_train_checkpoint
from edgeclip_train.trainer import Trainer, log_lines, seed_everything

TESTS = Path(__file__).parent


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def run(cfg, objective_cls, resume=None, stop_after=None, views=None):
    seed_everything(cfg.seed)
    obj = objective_cls()
    gens = {}
    make_views = None
    if views == "global":
        make_views = noise_views
    elif views == "generator":  # a private generator, as an augmentation pipeline would hold
        gens["augment"] = gen = torch.Generator().manual_seed(123)
        make_views = lambda x: torch.stack([x + torch.randn(x.shape, generator=gen) for _ in range(2)])  # noqa: E731
    trainer = Trainer(cfg, obj, PairData(), make_views=make_views, generators=gens)
    return trainer.fit(resume=resume, stop_after=stop_after)


@pytest.mark.parametrize("views", ["global", "generator"])
def test_stop_after_checkpoint_then_resume_matches_uninterrupted(tmp_path, views):
    # views from a random generator, dropout, accumulation and an epoch boundary (4 global batches per epoch)
    kw = dict(steps=10, ckpt_every=3, grad_accum_steps=2)
    full = run(tiny_config(str(tmp_path / "full"), **kw), TinySimCLR, views=views)
    first = run(tiny_config(str(tmp_path / "cut"), **kw), TinySimCLR, stop_after=6, views=views)
    assert [r["loss"] for r in first] == [r["loss"] for r in full[:6]]
    rest = run(tiny_config(str(tmp_path / "cut"), **kw), TinySimCLR, resume="auto", views=views)
    assert [r["step"] for r in rest] == list(range(7, 11))
    assert [r["loss"] for r in rest] == [r["loss"] for r in full[6:]]
    assert [r["step"] for r in log_lines(tmp_path / "cut" / "metrics.jsonl")] == list(range(1, 11))
    kept = [p.name for p in list_checkpoints(tmp_path / "cut")]
    assert kept == ["step-00000009.safetensors", "step-00000010.safetensors"]


def test_checkpoint_holds_model_optimizer_position_and_rng(tmp_path):
    run(tiny_config(str(tmp_path), steps=5, ckpt_every=5), TinyClip)
    ck = load_train_checkpoint(checkpoint_path(tmp_path, 5))
    assert ck.trainer == {"step": 5, "samples_seen": 40, "world_size": 1, "epoch": 1, "batch_in_epoch": 1}
    assert int(ck.model["steps_done"]) == 5  # buffers too (after_step ran 5 times)
    assert float(ck.optimizer["state"][0]["step"]) == 5.0
    assert set(ck.rng[0]) == {"python", "numpy", "torch", "cuda", "generators"} and ck.config["steps"] == 5


CHILD = """
import sys
sys.path.insert(0, {tests!r})
import torch
torch.set_num_threads(1)
from trainer_fixtures import PairData, TinyClip, tiny_config
from edgeclip_train.trainer import Trainer, seed_everything
cfg = tiny_config({out!r}, steps=10, ckpt_every=4, keep_checkpoints=0)
seed_everything(cfg.seed)
Trainer(cfg, TinyClip(), PairData(delay_s=0.01)).fit()
"""


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    out = tmp_path / "killed"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=str(TESTS), out=str(out))],
        cwd=TESTS.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    ckpt = checkpoint_path(out, 4)
    deadline = time.time() + 60
    while not ckpt.exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert ckpt.exists(), child.stderr.read().decode() if child.stderr else ""
    assert child.returncode == -signal.SIGKILL
    assert not checkpoint_path(out, 10).exists()  # it really died mid-run (8 more batches of 80 ms each)

    full = run(tiny_config(str(tmp_path / "full"), steps=10, ckpt_every=4), TinyClip)
    rest = run(tiny_config(str(out), steps=10, ckpt_every=4), TinyClip, resume=ckpt)
    assert [r["loss"] for r in rest] == [r["loss"] for r in full[4:]]
    assert [r["step"] for r in log_lines(out / "metrics.jsonl")] == list(range(1, 11))

"""`python -m edgeclip_train.run`: a tiny config trains, evaluates and writes its results; a bad one exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from edgeclip_train import run
from edgeclip_train.checkpoint import load_checkpoint

TINY = {
    "encoder": {
        "image": "cnn",
        "image_size": 16,
        "image_width": 16,
        "image_layers": 2,
        "text_width": 16,
        "text_layers": 1,
        "text_heads": 2,
        "context_length": 12,
        "embed_dim": 8,
        "proj_hidden": 16,
    },
    "data": {"source": "digits"},
    "optim": {"lr": 1e-3, "warmup_steps": 1},
    "batch_size": 32,
    "steps": 4,
    "log_every": 2,
    "progress": False,
}


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _config(tmp_path: Path, **fields: object) -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({**TINY, **fields, "out_dir": str(tmp_path / "run")}))
    return path


@pytest.mark.parametrize("objective", ["simclr", "clip"])
def test_tiny_run_writes_checkpoint_and_results(tmp_path: Path, objective: str) -> None:
    assert run.main([str(_config(tmp_path, objective=objective)), "--set", "seed=1"]) == 0
    out = tmp_path / "run"
    assert (out / "checkpoints" / "step-00000004.safetensors").exists()
    assert [json.loads(ln)["step"] for ln in (out / "metrics.jsonl").read_text().splitlines()] == [2, 4]
    results = json.loads((out / "results.json").read_text())
    rows = {r["method"]: r for r in results["rows"]}
    assert set(rows) == {"raw pixels", objective} and 0 <= rows[objective]["knn"] <= 1
    assert results["meta"]["steps"] == 4 and results["meta"]["seed"] == 1
    assert "| method |" in (out / "results.md").read_text()
    if objective == "clip":  # an image-text run reads back as the exported model, with its tokenizer
        assert 0 <= rows["clip"]["zero_shot_top1"] <= 1
        model, tok, info = load_checkpoint(out)
        assert model.cfg.vocab_size == tok.get_vocab_size() == info["config"]["encoder"]["vocab_size"]


def test_resume_auto_continues_to_the_configured_steps(tmp_path: Path) -> None:
    cfg = str(_config(tmp_path, objective="simclr"))
    assert run.main([cfg, "--set", "steps=2"]) == 0
    assert run.main([cfg, "--resume", "auto"]) == 0
    meta = json.loads((tmp_path / "run" / "results.json").read_text())["meta"]
    assert meta["resumed_from_step"] == 2 and meta["steps"] == 4


def test_invalid_config_exits_2_listing_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(_config(tmp_path, objective="nope"))
    assert run.main([cfg, "--set", "batch_size=0", "--set", "data.source=mars"]) == 2
    err = capsys.readouterr().err
    assert "unknown objective 'nope'" in err and "batch_size must be positive" in err and "'mars'" in err
    assert not (tmp_path / "run").exists()

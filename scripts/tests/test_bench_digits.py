"""Smoke test of the digits benchmark: every objective trains two tiny steps and the table has every row."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from edgeclip_train.bench_digits import OBJECTIVES, BenchConfig, run
from edgeclip_train.encoders import EncoderConfig, HeadConfig


def test_bench_digits_reports_every_row(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = replace(
        BenchConfig(),
        steps=2,
        steps_for={},
        linear_probe=False,  # covered by test_probe; the raw-pixel fit alone takes seconds
        batch_size=16,
        image_size=16,
        encoder=EncoderConfig(kind="cnn", image_size=16, channels=(8, 16), reduce=16, pool="avg"),
        head=HeadConfig(hidden=16, out=8, layers=2, batch_norm=True),
    )
    cfg = replace(
        cfg,
        text=replace(cfg.text, text_width=16, proj_hidden=16, embed_dim=8),
        options={**cfg.options, "moco": {"queue_size": 32}},
    )
    rows = run(cfg, tmp_path, eval_on="test")
    assert [r["method"] for r in rows] == ["raw pixels", *OBJECTIVES]
    assert rows[0]["knn"] > 0.8  # raw pixels of digits are already a strong baseline
    for r in rows:
        assert 0.0 <= r["knn"] <= 1.0 and r["linear_probe"] is None
    assert 0.0 <= rows[-1]["zero_shot_top1"] <= 1.0 and "met" in rows[-1]
    stored = json.loads((tmp_path / "results.json").read_text())
    assert [r["method"] for r in stored["rows"]] == ["raw pixels", *OBJECTIVES]
    for name in OBJECTIVES:  # trained by the generic trainer: its checkpoint and metrics log per objective
        assert list((tmp_path / name / "checkpoints").glob("*.safetensors"))
        assert (tmp_path / name / "metrics.jsonl").exists()
    md = (tmp_path / "results.md").read_text()
    assert all(f"| {m} |" in md for m in ["raw pixels", *OBJECTIVES])

"""kNN and linear-probe accuracy on synthetic embeddings (separable -> ~1, random -> ~chance) and the results files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgeclip_train.probe import (
    knn_accuracy,
    knn_predict,
    linear_probe_accuracy,
    markdown_table,
    raw_pixel_features,
    write_results,
)


def clusters(n: int, classes: int, dim: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(classes, dim))
    y = rng.integers(0, classes, n)
    return centres[y] + noise * rng.normal(size=(n, dim)), y


def test_knn_on_separable_embeddings_is_near_perfect() -> None:
    xtr, ytr = clusters(400, 10, 32, 0.3, 0)
    xte, yte = clusters(200, 10, 32, 0.3, 1)
    for weighted in (True, False):
        assert knn_accuracy(xtr, ytr, xte, yte, k=10, weighted=weighted) >= 0.99


def test_knn_on_random_embeddings_is_chance() -> None:
    rng = np.random.default_rng(0)
    acc = knn_accuracy(
        rng.normal(size=(500, 32)), rng.integers(0, 10, 500), rng.normal(size=(500, 32)), rng.integers(0, 10, 500), k=20
    )
    assert 0.03 <= acc <= 0.2


def test_knn_vote() -> None:
    train = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    labels = np.array([0, 0, 1])
    assert knn_predict(train, labels, np.array([[0.1, 1.0], [1.0, 0.2]]), k=1).tolist() == [1, 0]
    # k=3 unweighted: two votes for 0 beat the closer single vote for 1; weighted with a sharp temperature: 1 wins.
    q = np.array([[0.3, 1.0]])
    assert knn_predict(train, labels, q, k=3, weighted=False).tolist() == [0]
    assert knn_predict(train, labels, q, k=3, weighted=True, temperature=0.01).tolist() == [1]


def test_linear_probe() -> None:
    xtr, ytr = clusters(300, 5, 16, 0.5, 0)
    xte, yte = clusters(150, 5, 16, 0.5, 1)
    assert linear_probe_accuracy(xtr, ytr, xte, yte) >= 0.98
    rng = np.random.default_rng(1)
    acc = linear_probe_accuracy(
        rng.normal(size=(300, 16)), rng.integers(0, 5, 300), rng.normal(size=(300, 16)), rng.integers(0, 5, 300)
    )
    assert 0.08 <= acc <= 0.35


def test_raw_pixel_features() -> None:
    px = np.zeros((3, 4, 4, 3), dtype=np.uint8)
    px[1] = 255
    f = raw_pixel_features(px)
    assert f.shape == (3, 48) and np.allclose(f.mean(axis=0), 0, atol=1e-6)


def test_results_table_and_files(tmp_path: Path) -> None:
    rows = [{"method": "raw pixels", "knn": 0.95}, {"method": "clip", "knn": 0.9, "zero_shot": 0.875}]
    table = markdown_table(rows)
    assert table.splitlines()[0] == "| method | knn | zero_shot |"
    assert "| raw pixels | 0.9500 | - |" in table
    out = write_results(tmp_path / "run", rows, {"seed": 0}, title="Digits")
    assert out == table
    stored = json.loads((tmp_path / "run" / "results.json").read_text())
    assert stored["rows"][1]["zero_shot"] == 0.875 and stored["meta"] == {"seed": 0}
    md = (tmp_path / "run" / "results.md").read_text()
    assert md.startswith("# Digits") and table in md and "- seed: 0" in md

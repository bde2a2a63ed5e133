"""Probes of frozen embeddings: cosine kNN accuracy, linear-probe (logistic regression) accuracy, and the
results table printed as markdown and stored as results.json / results.md beside the checkpoint.

Zero-shot top-1 with prompt-template ensembles lives in evaluate.py (`zero_shot_classifier`, `top1`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

Row = Mapping[str, object]


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)


def raw_pixel_features(pixels: np.ndarray) -> np.ndarray:
    """uint8 [N,H,W,C] (or any [N,...]) -> float [N, H*W*C], centred per feature so cosine is not all-positive."""
    x = np.asarray(pixels, dtype=np.float32).reshape(len(pixels), -1) / 255.0
    return x - x.mean(axis=0, keepdims=True)


def knn_predict(
    train_emb: np.ndarray,
    train_labels: np.ndarray,
    test_emb: np.ndarray,
    k: int = 20,
    weighted: bool = True,
    temperature: float = 0.07,
    chunk: int = 1024,
) -> np.ndarray:
    """Labels by a vote of the k most cosine-similar training embeddings.

    weighted: each neighbour votes exp(sim / temperature) (InstDisc / DINO); otherwise one vote each, ties
    going to the class with the larger summed similarity.
    """
    train_labels = np.asarray(train_labels, dtype=np.int64)
    if len(train_emb) != len(train_labels):
        raise ValueError(f"{len(train_emb)} training embeddings but {len(train_labels)} labels")
    k = min(k, len(train_emb))
    n_classes = int(train_labels.max()) + 1
    tr, te = l2_normalize(train_emb), l2_normalize(test_emb)
    out = np.empty(len(te), dtype=np.int64)
    for start in range(0, len(te), chunk):
        sim = te[start : start + chunk] @ tr.T
        nn = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        nn_sim = np.take_along_axis(sim, nn, axis=1)
        shifted = (nn_sim - nn_sim.max(axis=1, keepdims=True)) / temperature  # exp never overflows
        votes = np.exp(shifted.astype(np.float64)) if weighted else 1.0 + 1e-3 * nn_sim
        scores = np.zeros((len(nn), n_classes), dtype=np.float64)
        np.add.at(scores, (np.arange(len(nn))[:, None], train_labels[nn]), votes)
        out[start : start + chunk] = scores.argmax(axis=1)
    return out


def knn_accuracy(
    train_emb: np.ndarray,
    train_labels: np.ndarray,
    test_emb: np.ndarray,
    test_labels: np.ndarray,
    k: int = 20,
    weighted: bool = True,
    temperature: float = 0.07,
) -> float:
    pred = knn_predict(train_emb, train_labels, test_emb, k, weighted, temperature)
    return float((pred == np.asarray(test_labels)).mean())


def linear_probe_accuracy(
    train_emb: np.ndarray,
    train_labels: np.ndarray,
    test_emb: np.ndarray,
    test_labels: np.ndarray,
    c: float = 1.0,
    max_iter: int = 2000,
) -> float:
    """Multinomial logistic regression on standardised frozen embeddings (scikit-learn, lbfgs)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
    clf.fit(np.asarray(train_emb, dtype=np.float64), np.asarray(train_labels))
    return float(clf.score(np.asarray(test_emb, dtype=np.float64), np.asarray(test_labels)))


def embed_in_batches(embed: Callable[[np.ndarray], np.ndarray], x: np.ndarray, batch: int = 256) -> np.ndarray:
    return np.concatenate([embed(x[i : i + batch]) for i in range(0, len(x), batch)])


# ---- results table ----------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def markdown_table(rows: Sequence[Row], columns: Sequence[str] | None = None) -> str:
    """Columns default to every key in first-seen order; a missing value prints as '-'."""
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def write_results(
    out_dir: str | Path,
    rows: Sequence[Row],
    meta: Mapping[str, object] | None = None,
    columns: Sequence[str] | None = None,
    title: str = "Results",
) -> str:
    """Write results.json (rows + meta) and results.md (title, table, meta) into out_dir; return the table."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows, columns)
    (out / "results.json").write_text(json.dumps({"rows": list(map(dict, rows)), "meta": dict(meta or {})}, indent=2))
    notes = "".join(f"- {k}: {v}\n" for k, v in (meta or {}).items())
    (out / "results.md").write_text(f"# {title}\n\n{table}\n\n{notes}")
    return table

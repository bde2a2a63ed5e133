"""onnxruntime sessions for exported towers, used by parity checks and the held-out fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort


class OnnxTower:
    def __init__(self, path: Path, threads: int = 1) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: np.ndarray, batch: int = 1) -> np.ndarray:
        """One input per run by default, as the service does: DynamicQuantizeLinear picks its scale over the whole
        batch, so an int8 vector would otherwise depend on its batch neighbours."""
        outs = [self.session.run(None, {self.input_name: x[i : i + batch]})[0] for i in range(0, len(x), batch)]
        return np.concatenate(outs).astype(np.float32)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na = np.linalg.norm(a, axis=1).clip(1e-12)
    nb = np.linalg.norm(b, axis=1).clip(1e-12)
    return (a * b).sum(axis=1) / (na * nb)


def parity(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    c = cosines(reference, candidate)
    return {"mean_cosine": float(c.mean()), "min_cosine": float(c.min())}

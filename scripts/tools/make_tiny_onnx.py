"""Write the tiny ONNX fixtures that test/backend.test.ts runs inside workerd.

Usage: .venv/bin/python scripts/tools/make_tiny_onnx.py   (from the repo root)

Writes test/fixtures/tiny_f32.onnx (float32 [batch, 4] -> MatMul -> L2 normalise -> "embeddings"),
test/fixtures/tiny_i64.onnx (int64 [batch, 4] -> Cast -> the same head) and
test/fixtures/tiny.expected.json with inputs and outputs computed with numpy (not ONNX Runtime), so
the TypeScript side is checked against an independent reference. It also prints the base64 of the
Identity model that src/backend/ uses to initialise ORT without a real model.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures"
OPSET = 17
IR_VERSION = 8  # old enough for every ORT build we ship (web 1.30, Python 1.22)
EPS = 1e-12

WEIGHT = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [-2.0, 1.0, 0.75], [0.125, 3.0, 1.0]], dtype=np.float32)


def l2_head(x_name: str) -> list[onnx.NodeProto]:
    """MatMul with WEIGHT, then divide by max(||y||, EPS): the tail every edgeclip tower ends with."""
    return [
        helper.make_node("MatMul", [x_name, "W"], ["y"]),
        helper.make_node("ReduceL2", ["y"], ["norm"], axes=[1], keepdims=1),  # attribute form until opset 18
        helper.make_node("Max", ["norm", "eps"], ["safe_norm"]),
        helper.make_node("Div", ["y", "safe_norm"], ["embeddings"]),
    ]


def make_model(input_dtype: int) -> onnx.ModelProto:
    nodes = []
    x_name = "x"
    if input_dtype != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", ["x"], ["x_f"], to=TensorProto.FLOAT))
        x_name = "x_f"
    nodes += l2_head(x_name)
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", input_dtype, ["batch", 4])],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", 3])],
        initializer=[
            numpy_helper.from_array(WEIGHT, "W"),
            numpy_helper.from_array(np.array(EPS, dtype=np.float32), "eps"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def make_identity() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "init",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def reference(x: np.ndarray) -> np.ndarray:
    y = x.astype(np.float64) @ WEIGHT.astype(np.float64)
    return y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), EPS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    onnx.save(make_model(TensorProto.FLOAT), OUT / "tiny_f32.onnx")
    onnx.save(make_model(TensorProto.INT64), OUT / "tiny_i64.onnx")
    x_f32 = np.array([[1.0, 2.0, 3.0, 4.0], [-0.5, 0.25, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    x_i64 = np.array([[1, 0, 2, 5], [3, -1, 0, 2]], dtype=np.int64)
    expected = {
        "input_name": "x",
        "output_name": "embeddings",
        "f32": {"x": x_f32.tolist(), "dims": list(x_f32.shape), "embeddings": reference(x_f32).tolist()},
        "i64": {"x": x_i64.tolist(), "dims": list(x_i64.shape), "embeddings": reference(x_i64).tolist()},
    }
    (OUT / "tiny.expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    print("identity model base64:", base64.b64encode(make_identity().SerializeToString()).decode())


if __name__ == "__main__":
    main()

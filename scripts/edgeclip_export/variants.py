"""Per-tower numeric variants of an exported fp32 tower, so a package can pick one per tower.

  fp32         the exported graph as is
  fp16         weights and compute in float16, float32 inputs/outputs (keep_io_types), so callers are unchanged
  int8         dynamic int8 (quantize.py's scheme: the kernels that are fast in onnxruntime-web WASM)
  int8_static  static int8 QDQ: activation ranges calibrated (MinMax) on real preprocessed inputs
  int8_weight  weight-only int8: int8 weights with per-channel scales behind DequantizeLinear; float activations

DESIGN.md (measured in WASM): dynamic and static int8 both reach the fast int8 kernels; weight-only int8 and
MatMulNBits are 1.6-2.7x slower than fp32 and fp16 runs at fp32 speed, so those two save bytes, not time.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

from .quantize import SCHEMES, QuantScheme, quantize_tower

VARIANTS = ("fp32", "fp16", "int8", "int8_static", "int8_weight")
# onnxruntime's CPU (and WASM) kernels have no float16 Conv on x86: keep those ops in float32 (casts around them).
FP16_BLOCKED_OPS = ("Conv",)


class ArrayCalibrationReader(CalibrationDataReader):
    """Feeds calibration inputs one batch at a time (batch 1 by default, as the service runs)."""

    def __init__(self, input_name: str, inputs: np.ndarray, batch: int = 1) -> None:
        self.input_name, self.inputs, self.batch = input_name, inputs, batch
        self._it: Iterator[dict[str, np.ndarray]] = self._batches()

    def _batches(self) -> Iterator[dict[str, np.ndarray]]:
        for i in range(0, len(self.inputs), self.batch):
            yield {self.input_name: self.inputs[i : i + self.batch]}

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = self._batches()


def _inline_identity_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replaces `Identity(initializer)` (the exporter's shared weights) by a copy of the initializer: the fp16
    converter casts the initializer but leaves the Identity's output typed float32 when its consumer is blocked."""
    graph = model.graph
    del graph.value_info[:]  # stale float32 types of tensors the converter makes float16
    inits = {t.name: t for t in graph.initializer}
    for node in [n for n in graph.node if n.op_type == "Identity" and n.input[0] in inits]:
        copy = onnx.TensorProto()
        copy.CopyFrom(inits[node.input[0]])
        copy.name = node.output[0]
        graph.initializer.append(copy)
        graph.node.remove(node)
    return model


# The output-channel axis of each op's weight (input 1): per-channel scales along it (Gemm: see _weight_axis).
WEIGHT_AXIS = {"MatMul": 1, "Conv": 0, "Gemm": 1}


def _with_gemm(op_types: tuple[str, ...]) -> tuple[str, ...]:
    """A Linear on a 2-D input exports as Gemm; quantize_dynamic treats it as a MatMul, so the others do too."""
    return op_types + ("Gemm",) if "MatMul" in op_types and "Gemm" not in op_types else op_types


def _weight_axis(node: onnx.NodeProto) -> int:
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    return WEIGHT_AXIS[node.op_type]


def weight_only_int8(model: onnx.ModelProto, op_types: tuple[str, ...]) -> onnx.ModelProto:
    """Stores each MatMul/Conv weight as int8 with per-channel symmetric scales behind a DequantizeLinear.

    (ORT 1.22's 8-bit MatMulNBits fails at run time on CPU: "Only 4b quantization is supported for unpacked
    compute", so the weight-only scheme is expressed in plain QDQ, which every ORT build runs.)"""
    graph = _inline_identity_initializers(model).graph
    inits = {t.name: t for t in graph.initializer}
    done: dict[str, str] = {}
    new_nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        axis = _weight_axis(node) if node.op_type in op_types and node.op_type in WEIGHT_AXIS else None
        name = node.input[1] if axis is not None and len(node.input) > 1 else ""
        if name not in inits or inits[name].data_type != onnx.TensorProto.FLOAT or len(inits[name].dims) < 2:
            continue
        if name not in done:
            w = numpy_helper.to_array(inits[name])
            reduce = tuple(i for i in range(w.ndim) if i != axis)
            scale = (np.abs(w).max(axis=reduce) / 127.0).clip(1e-12).astype(np.float32)
            shape = [1] * w.ndim
            shape[axis] = -1
            q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
            graph.initializer.extend(
                [
                    numpy_helper.from_array(q, f"{name}_q"),
                    numpy_helper.from_array(scale, f"{name}_scale"),
                    numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), f"{name}_zero"),
                ]
            )
            new_nodes.append(
                helper.make_node(
                    "DequantizeLinear", [f"{name}_q", f"{name}_scale", f"{name}_zero"], [f"{name}_dq"], axis=axis
                )
            )
            done[name] = f"{name}_dq"
        node.input[1] = done[name]
    used = {i for n in graph.node for i in n.input}
    for name in done:
        if name not in used:
            graph.initializer.remove(inits[name])
    for n in reversed(new_nodes):
        graph.node.insert(0, n)
    onnx.checker.check_model(model)
    return model


def make_variant(
    variant: str,
    kind: str,
    src: Path,
    dst: Path,
    calibration: np.ndarray | None = None,
    scheme: QuantScheme | None = None,
) -> dict[str, Any]:
    """Writes `variant` of the fp32 tower `src` to `dst`; returns how it was made (manifest.quantization)."""
    scheme = scheme or SCHEMES[kind]
    if variant == "fp32":
        if src.resolve() != dst.resolve():
            shutil.copyfile(src, dst)
        return {"method": "none"}
    if variant == "fp16":
        from onnxconverter_common import float16

        model = _inline_identity_initializers(onnx.load(str(src)))
        casts = {n.name for n in model.graph.node if n.op_type == "Cast"}
        blocked = list(FP16_BLOCKED_OPS) + list(float16.DEFAULT_OP_BLOCK_LIST)
        model = float16.convert_float_to_float16(model, keep_io_types=True, op_block_list=blocked)
        # The converter leaves the graph's own Cast(to=float) (e.g. a padding mask) at float32 while its
        # consumers become float16; make them cast to float16 (the converter's own io casts are new names).
        for node in model.graph.node:
            if node.name in casts:
                for a in node.attribute:
                    if a.name == "to" and a.i == onnx.TensorProto.FLOAT:
                        a.i = onnx.TensorProto.FLOAT16
        onnx.save(model, str(dst))
        return {"method": "fp16", "keep_io_types": True, "fp32_ops": list(FP16_BLOCKED_OPS)}
    if variant == "int8":
        return quantize_tower(kind, src, dst, scheme)
    if variant == "int8_static":
        if calibration is None or len(calibration) == 0:
            raise ValueError("int8_static needs calibration inputs")
        input_name = onnx.load(str(src), load_external_data=False).graph.input[0].name
        with tempfile.TemporaryDirectory() as tmp:  # quantize_static writes its augmented model next to cwd
            quantize_static(
                str(src),
                str(dst),
                ArrayCalibrationReader(input_name, calibration),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(_with_gemm(scheme.op_types)),
                per_channel=False,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                extra_options={"CalibTensorRangeSymmetric": False},
                calibration_providers=["CPUExecutionProvider"],
                use_external_data_format=False,
            )
            del tmp
        return {
            "method": "static_qdq",
            "weight_type": "int8",
            "activation_type": "uint8",
            "op_types": list(_with_gemm(scheme.op_types)),
            "calibration": {"method": "minmax", "inputs": int(len(calibration))},
        }
    if variant == "int8_weight":
        op_types = _with_gemm(scheme.op_types)
        onnx.save(weight_only_int8(onnx.load(str(src)), op_types), str(dst))
        return {
            "method": "weight_only_qdq",
            "weight_type": "int8",
            "symmetric": True,
            "per_channel": True,
            "op_types": [op for op in op_types if op in WEIGHT_AXIS],
        }
    raise ValueError(f"unknown variant {variant!r} (one of {', '.join(VARIANTS)})")

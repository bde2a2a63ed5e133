"""Dynamic int8 quantization per tower, choosing kernels that are fast in onnxruntime-web WASM.

/work/shared/DESIGN.md: dynamic int8 MatMul is ~2x faster than fp32 in wasm; ConvInteger is fast only with
uint8 weights (int8 weights are 5.6x slower than fp32). So the image tower uses uint8 weights (U8U8, which
also avoids the U8S8 saturation issue on x86), the text tower int8 weights (U8S8).
"""

from __future__ import annotations

from pathlib import Path

from onnxruntime.quantization import QuantType, quantize_dynamic

SCHEMES: dict[str, dict[str, object]] = {
    "image": {
        "method": "dynamic",
        "weight_type": "uint8",
        "activation_type": "uint8",
        "op_types": ["Conv", "MatMul"],
        "per_channel": False,
    },
    "text": {
        "method": "dynamic",
        "weight_type": "int8",
        "activation_type": "uint8",
        "op_types": ["MatMul"],
        "per_channel": False,
    },
}
_QTYPES = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}


def quantize_tower(kind: str, src: Path, dst: Path) -> dict[str, object]:
    """Writes dst and returns the scheme, recorded in manifest.quantization.int8.<kind>."""
    scheme = SCHEMES[kind]
    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=_QTYPES[str(scheme["weight_type"])],
        op_types_to_quantize=list(scheme["op_types"]),  # type: ignore[arg-type]
        per_channel=bool(scheme["per_channel"]),
    )
    return dict(scheme)

"""Dynamic int8 quantization per tower, choosing kernels that are fast in onnxruntime-web WASM.

/work/shared/DESIGN.md: dynamic int8 MatMul is ~2x faster than fp32 in wasm; ConvInteger is fast only with
uint8 weights (int8 weights are 5.6x slower than fp32). So the image tower uses uint8 weights (U8U8, which
also avoids the U8S8 saturation issue on x86), the text tower int8 weights (U8S8).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from onnxruntime.quantization import QuantType, quantize_dynamic


@dataclass(frozen=True)
class QuantScheme:
    weight_type: str
    op_types: tuple[str, ...]
    method: str = "dynamic"
    activation_type: str = "uint8"
    per_channel: bool = False

    def to_manifest(self) -> dict[str, Any]:
        d = asdict(self)
        d["op_types"] = list(self.op_types)
        return d


SCHEMES: dict[str, QuantScheme] = {
    "image": QuantScheme(weight_type="uint8", op_types=("Conv", "MatMul")),
    "text": QuantScheme(weight_type="int8", op_types=("MatMul",)),
}
_QTYPES = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}


def quantize_tower(kind: str, src: Path, dst: Path, scheme: QuantScheme | None = None) -> dict[str, Any]:
    """Writes dst and returns the scheme, recorded in manifest.quantization.int8.<kind>."""
    scheme = scheme or SCHEMES[kind]
    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=_QTYPES[scheme.weight_type],
        op_types_to_quantize=list(scheme.op_types),
        per_channel=scheme.per_channel,
    )
    return scheme.to_manifest()

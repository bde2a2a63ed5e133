"""edgeclip_export: ONNX export, int8 quantization, parity checks and the model package (models/FORMAT.md)."""

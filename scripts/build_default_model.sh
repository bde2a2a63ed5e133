#!/usr/bin/env bash
# Reproduce the shipped default model from scratch: venv -> data + tokenizer + training + evaluation (train)
# -> ONNX export, int8 quantization, parity, package and held-out fixture (build). Deterministic given SEED.
#   scripts/build_default_model.sh            # writes models/shapes-clip-s/ and test/fixtures/heldout-shapes-clip-s.json
#   SEED=1 STEPS=200 scripts/build_default_model.sh   # a quick, non-default run
set -euo pipefail
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$SCRIPTS")"
MODEL_ID="${MODEL_ID:-shapes-clip-s}"
RUN="${RUN:-$ROOT/runs/$MODEL_ID}"
PY="$ROOT/.venv/bin/python"

"$SCRIPTS/setup_venv.sh"
cd "$SCRIPTS"
start=$(date +%s)
"$PY" -m edgeclip_train.train --out "$RUN" --seed "${SEED:-0}" ${STEPS:+--steps "$STEPS"}
"$PY" -m edgeclip_export.build --checkpoint "$RUN/checkpoint.pt" --id "$MODEL_ID" \
  --out "$ROOT/models/$MODEL_ID" --fixture "$ROOT/test/fixtures/heldout-$MODEL_ID.json"
echo "build_default_model: done in $(( $(date +%s) - start ))s"

#!/usr/bin/env bash
# Reproduce the shipped default model from scratch: venv -> edgeclip_train.run on configs/shapes-clip.json (data,
# tokenizer, the generic Trainer with the "clip" objective, evaluation) -> ONNX export, int8 quantization, parity,
# package and held-out fixture (edgeclip_export.build). Deterministic given SEED.
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
rm -rf "$RUN"  # from scratch: no checkpoint to resume, no metrics log to append to
"$PY" -m edgeclip_train.run configs/shapes-clip.json --set "out_dir=$RUN" --set "seed=${SEED:-0}" \
  ${STEPS:+--set "steps=$STEPS"}
"$PY" -m edgeclip_export.build --checkpoint "$RUN" --id "$MODEL_ID" \
  --out "$ROOT/models/$MODEL_ID" --fixture "$ROOT/test/fixtures/heldout-$MODEL_ID.json"
echo "build_default_model: done in $(( $(date +%s) - start ))s"

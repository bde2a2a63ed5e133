#!/usr/bin/env bash
# Create .venv at the repo root and install scripts/requirements.txt; a no-op when the pins are already met.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
REQ="$ROOT/scripts/requirements.txt"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup_venv: creating $VENV"
  "$PY" -m venv "$VENV"
fi

# Pins as lowercase name==version, compared against pip freeze (also lowercased, '_' -> '-').
wanted="$(grep -Ev '^\s*(#|$)' "$REQ" | tr 'A-Z_' 'a-z-' | sort)"
have="$("$VENV/bin/python" -m pip freeze 2>/dev/null | tr 'A-Z_' 'a-z-' | sort)"
missing="$(comm -23 <(echo "$wanted") <(echo "$have"))"

if [ -z "$missing" ]; then
  echo "setup_venv: $VENV already has every pin in scripts/requirements.txt"
  exit 0
fi
echo "setup_venv: installing missing pins:" $missing
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ"
echo "setup_venv: done"

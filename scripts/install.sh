#!/usr/bin/env bash
# Install CardioAgent into ./.venv on a fresh machine (Python 3.11, CPU only).
# torch comes first from the local CPU wheel, so that no dependency pulls a
# multi-GB CUDA build. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
EXTRAS=${CARDIO_EXTRAS:-ui,dev}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "[install] torch==2.13.0 (CPU wheel)"
  .venv/bin/python -m pip install -q "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
fi
stamp=.venv/.cardioagent-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[install] cardioagent[$EXTRAS] (editable)"
  .venv/bin/python -m pip install -q -e ".[$EXTRAS]" 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import agent, experts, torch; assert torch.__version__.startswith('2.13'), torch.__version__"
  touch "$stamp"
fi

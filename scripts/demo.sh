#!/usr/bin/env bash
# First README command: install, then analyse the bundled examples and print
# where the report is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/cardioagent analyze examples/ecg/ptb-s0010_re --age 81 --sex F --out out/demo "$@"

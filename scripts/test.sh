#!/usr/bin/env bash
# Second README command (and what CI runs): install, then run the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export CARDIO_TEST_OUTPUT=${CARDIO_TEST_OUTPUT:-$PWD/test-output}
exec .venv/bin/python -m pytest "$@"

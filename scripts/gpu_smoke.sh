#!/usr/bin/env bash
# GPU smoke test: start vLLM, check the endpoint, run the LLM suites with
# the `openai` backend on the bundled example cases, write a summary.
#
#   scripts/gpu_smoke.sh                                   # serves Qwen/Qwen3-8B itself
#   MODEL=/models/Qwen2.5-7B-Instruct scripts/gpu_smoke.sh
#   BASE_URL=http://gpu-box:8000/v1 scripts/gpu_smoke.sh   # use a server that is already running
#
# Needs: CardioAgent's .venv (scripts/install.sh) and, unless BASE_URL is
# given, vLLM in its own environment (see scripts/serve_vllm.sh) and a GPU.
# Settings: MODEL, PORT (8000), READY_TIMEOUT (900 s for the first model
# load), OUT (out/gpu_smoke), EVAL_ARGS (arguments for `cardioagent eval`,
# run when evals/cli.py exists; default "--backend openai", set it to match
# that command's interface).
# Exit status: 0 when every step passed.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-8000}"
OUT="${OUT:-out/gpu_smoke}"
READY_TIMEOUT="${READY_TIMEOUT:-900}"
PY=.venv/bin/python
mkdir -p "$OUT"

if [[ -z "${BASE_URL:-}" ]]; then
  BASE_URL="http://127.0.0.1:${PORT}/v1"
  echo "starting vLLM (log: $OUT/vllm.log)"
  HOST=127.0.0.1 PORT="$PORT" scripts/serve_vllm.sh >"$OUT/vllm.log" 2>&1 &
  VLLM_PID=$!
  trap 'kill "$VLLM_PID" 2>/dev/null || true; wait "$VLLM_PID" 2>/dev/null || true' EXIT
  deadline=$((SECONDS + READY_TIMEOUT))
  until "$PY" -c "import httpx,sys; sys.exit(httpx.get('$BASE_URL/models', timeout=2).status_code != 200)" 2>/dev/null; do
    if ! kill -0 "$VLLM_PID" 2>/dev/null; then
      echo "vLLM exited before it was ready; last lines of $OUT/vllm.log:" >&2
      tail -n 30 "$OUT/vllm.log" >&2
      exit 1
    fi
    if (( SECONDS > deadline )); then
      echo "vLLM not ready after ${READY_TIMEOUT}s (see $OUT/vllm.log)" >&2
      exit 1
    fi
    sleep 5
  done
fi
echo "endpoint: $BASE_URL"
export CARDIO_LLM=openai CARDIO_LLM_BASE_URL="$BASE_URL"
export CARDIO_HOME="${CARDIO_HOME:-$PWD/$OUT/home}"

status=0
step() {  # step NAME CMD...: run, tee the log, remember failures
  local name="$1"; shift
  echo "== $name"
  if "$@" 2>&1 | tee "$OUT/$name.txt"; then echo "== $name: ok"; else echo "== $name: FAILED"; status=1; fi
}

step llm_check .venv/bin/cardioagent llm check
step live_suite env CARDIO_LLM_LIVE_URL="$BASE_URL" "$PY" -m pytest tests/llm/test_live_endpoint.py -q -rs -s
step orchestration "$PY" benchmarks/orchestration_overhead.py --backends rules,openai --base-url "$BASE_URL" \
  --checkpointers sqlite --repeat 1 --no-replay-tools --json "$OUT/orchestration.json"
if "$PY" -c "import evals.cli" 2>/dev/null; then
  # shellcheck disable=SC2086
  step eval .venv/bin/cardioagent eval ${EVAL_ARGS:---backend openai}
else
  echo "== eval: skipped (the evaluation CLI is not part of this build)"
fi

echo "summary in $OUT/: llm_check.txt, live_suite.txt, orchestration.txt/json$( [[ -f $OUT/eval.txt ]] && echo ', eval.txt')"
exit "$status"

#!/usr/bin/env bash
# Serve the orchestrator LLM with vLLM on a GPU (OpenAI-compatible API).
#
# vLLM pins its own torch and transformers, so it lives in its OWN virtual
# environment, never in CardioAgent's .venv; CardioAgent only speaks HTTP to
# it. One-time install on the GPU machine (CUDA 12.x driver):
#
#   python3 -m venv ~/vllm-env && ~/vllm-env/bin/pip install "vllm>=0.12"
#
# Then:
#   scripts/serve_vllm.sh                          # Qwen/Qwen3-8B on port 8000
#   MODEL=/models/Qwen2.5-7B-Instruct scripts/serve_vllm.sh
#   MODEL=Qwen/Qwen3-8B MAX_MODEL_LEN=16384 GPU_MEMORY=0.85 PORT=8001 scripts/serve_vllm.sh
#
# and point CardioAgent at it:
#   export CARDIO_LLM=openai CARDIO_LLM_BASE_URL=http://<host>:8000/v1
#   .venv/bin/cardioagent llm check
#
# Settings (environment):
#   MODEL           local directory (preferred: nothing is downloaded) or a Hugging Face
#                   name (vLLM downloads it unless HF_HUB_OFFLINE=1); default Qwen/Qwen3-8B
#   SERVED_NAME     name clients use in "model" (default: MODEL)
#   VLLM            the vllm executable (default: ~/vllm-env/bin/vllm, else `vllm` on PATH)
#   HOST, PORT      default 0.0.0.0:8000
#   MAX_MODEL_LEN   context length in tokens (default 32768; a case needs ~4-10k)
#   GPU_MEMORY      fraction of GPU memory vLLM may take (default 0.90)
#   TOOL_PARSER     tool-call parser (default hermes: Qwen2.5 and Qwen3 emit Hermes-style <tool_call>)
#   REASONING_PARSER  for Qwen3: qwen3 (default when MODEL contains "Qwen3"); empty to disable
#   THINKING        for Qwen3: 0 (default) serves non-thinking mode via
#                   --default-chat-template-kwargs (faster, deterministic drafts); 1 keeps thinking
#   API_KEY         require this key from clients (then set CARDIO_LLM_API_KEY)
#   EXTRA_ARGS      anything else for `vllm serve` (e.g. "--tensor-parallel-size 2")
set -euo pipefail

MODEL="${MODEL:-Qwen/Qwen3-8B}"
SERVED_NAME="${SERVED_NAME:-$MODEL}"
HOST="${HOST:-0.0.0.0}"
PORT="${PORT:-8000}"
MAX_MODEL_LEN="${MAX_MODEL_LEN:-32768}"
GPU_MEMORY="${GPU_MEMORY:-0.90}"
TOOL_PARSER="${TOOL_PARSER:-hermes}"
THINKING="${THINKING:-0}"
if [[ -z "${REASONING_PARSER+x}" ]]; then
  if [[ "$MODEL" == *Qwen3* ]]; then REASONING_PARSER=qwen3; else REASONING_PARSER=""; fi
fi

if [[ -z "${VLLM:-}" ]]; then
  if [[ -x "$HOME/vllm-env/bin/vllm" ]]; then VLLM="$HOME/vllm-env/bin/vllm"; else VLLM="$(command -v vllm || true)"; fi
fi
if [[ -z "$VLLM" || ! -x "$VLLM" ]]; then
  echo "serve_vllm.sh: vllm not found. Install it in its own environment:" >&2
  echo "  python3 -m venv ~/vllm-env && ~/vllm-env/bin/pip install 'vllm>=0.12'" >&2
  exit 2
fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "serve_vllm.sh: no NVIDIA GPU visible (nvidia-smi). vLLM needs a GPU; without one use the rules backend" >&2
  echo "  (default) or CARDIO_LLM=transformers with a small local model." >&2
  exit 2
fi

args=(serve "$MODEL"
  --served-model-name "$SERVED_NAME"
  --host "$HOST" --port "$PORT"
  --max-model-len "$MAX_MODEL_LEN"
  --gpu-memory-utilization "$GPU_MEMORY"
  --enable-auto-tool-choice --tool-call-parser "$TOOL_PARSER")
if [[ -n "$REASONING_PARSER" ]]; then args+=(--reasoning-parser "$REASONING_PARSER"); fi
if [[ "$MODEL" == *Qwen3* && "$THINKING" == "0" ]]; then
  args+=(--default-chat-template-kwargs '{"enable_thinking": false}')
fi
if [[ -n "${API_KEY:-}" ]]; then args+=(--api-key "$API_KEY"); fi
# shellcheck disable=SC2206
if [[ -n "${EXTRA_ARGS:-}" ]]; then args+=($EXTRA_ARGS); fi

echo "+ $VLLM ${args[*]}" >&2
exec "$VLLM" "${args[@]}"
